//! Goroutine API and scheduler semantics at the default GOMAXPROCS.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{bounded, gettid};

#[test]
fn spawn_join_returns_value() {
    bounded(30, || {
        let h = gort::spawn(|| 40 + 2);
        assert!(h.id().as_u64() > 0);
        assert_eq!(h.join().unwrap(), 42);
    });
}

#[test]
fn join_returns_panic_payload() {
    bounded(30, || {
        let h = gort::spawn(|| -> u32 { panic!("payload-7") });
        let err = h.join().unwrap_err();
        assert_eq!(*err.downcast_ref::<&str>().unwrap(), "payload-7");
    });
}

#[test]
fn go_panic_does_not_stop_others() {
    bounded(30, || {
        gort::go!(|| panic!("a goroutine panicked on purpose"));
        let h = gort::spawn(|| {
            gort::sleep(Duration::from_millis(10));
            7
        });
        assert_eq!(h.join().unwrap(), 7);
    });
}

#[test]
fn run_propagates_panic() {
    bounded(30, || {
        let r = std::panic::catch_unwind(|| gort::run(|| panic!("inner")));
        assert!(r.is_err());
        assert_eq!(gort::run(|| 5), 5);
    });
}

#[test]
fn scope_joins_all_and_borrows() {
    bounded(30, || {
        let mut counts = [0usize; 16];
        let total = AtomicUsize::new(0);
        gort::scope(|s| {
            for c in counts.iter_mut() {
                let total = &total;
                s.go(move || {
                    gort::sleep(Duration::from_millis(5));
                    *c += 1;
                    total.fetch_add(1, SeqCst);
                });
            }
        });
        assert_eq!(total.load(SeqCst), 16);
        assert!(counts.iter().all(|&c| c == 1));
    });
}

/// `Scope::spawn` is `Scope::go` under std's name; handles and scopes print with `{:?}`.
#[test]
fn scope_spawn_as_in_std() {
    bounded(30, || {
        let v = [1, 2, 3];
        let sum = gort::scope(|s| {
            let h = s.spawn(|| v.iter().sum::<i32>());
            assert!(format!("{h:?}").starts_with("ScopedJoinHandle"));
            assert!(format!("{s:?}").starts_with("Scope"));
            h.join().unwrap()
        });
        assert_eq!(sum, 6);
    });
}

/// The lock and channel types can be used across `catch_unwind` as std's can.
#[test]
fn sync_types_are_unwind_safe_as_in_std() {
    fn unwind_safe<T: std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    unwind_safe::<gort::sync::Mutex<Vec<u8>>>();
    unwind_safe::<gort::sync::RwLock<Vec<u8>>>();
    unwind_safe::<gort::Sender<String>>();
    unwind_safe::<gort::Receiver<String>>();
    let m = gort::sync::Mutex::new(0);
    let r = std::panic::catch_unwind(|| {
        *m.lock() += 1;
        panic!("on purpose");
    });
    assert!(r.is_err());
    assert_eq!(*m.lock(), 1);
}

#[test]
fn scope_panics_if_unjoined_goroutine_panicked() {
    bounded(30, || {
        let done = AtomicUsize::new(0);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gort::scope(|s| {
                s.go(|| panic!("scoped panic on purpose"));
                s.go(|| {
                    gort::sleep(Duration::from_millis(20));
                    done.fetch_add(1, SeqCst);
                });
            })
        }));
        assert!(r.is_err());
        assert_eq!(
            done.load(SeqCst),
            1,
            "scope must join every goroutine before panicking"
        );
        // A joined panic is handled: no scope panic.
        let v = gort::scope(|s| s.go(|| panic!("joined")).join().is_err());
        assert!(v);
    });
}

#[test]
fn current_id_is_none_on_plain_thread_and_stable_in_goroutine() {
    bounded(30, || {
        assert!(gort::current_id().is_none());
        let h = gort::spawn(|| {
            let a = gort::current_id().unwrap();
            gort::yield_now();
            gort::sleep(Duration::from_millis(1));
            (a, gort::current_id().unwrap())
        });
        let id = h.id();
        let (a, b) = h.join().unwrap();
        assert_eq!(a, b);
        assert_eq!(a, id);
        assert_eq!(format!("{a}"), a.as_u64().to_string());
    });
}

#[test]
fn plain_thread_blocking_calls() {
    bounded(30, || {
        // join and sleep from std threads that the runtime did not create.
        let ts: Vec<_> = (0..4)
            .map(|i| {
                std::thread::spawn(move || {
                    let h = gort::spawn(move || {
                        gort::sleep(Duration::from_millis(5));
                        i * 2
                    });
                    let t = Instant::now();
                    gort::sleep(Duration::from_millis(10));
                    assert!(t.elapsed() >= Duration::from_millis(10));
                    h.join().unwrap()
                })
            })
            .collect();
        let sum: i32 = ts.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(sum, 12);
        let wg = gort::sync::WaitGroup::new();
        wg.add(3);
        for _ in 0..3 {
            let wg = wg.clone();
            gort::go(move || wg.done());
        }
        wg.wait();
    });
}

#[test]
fn hundred_thousand_parked_then_released() {
    bounded(120, || {
        let n = 100_000;
        let parked = Arc::new(AtomicUsize::new(0));
        let gate = gort::sync::WaitGroup::new();
        gate.add(1);
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (parked, gate) = (parked.clone(), gate.clone());
                gort::spawn(move || {
                    parked.fetch_add(1, SeqCst);
                    if i % 2 == 0 {
                        gate.wait();
                    } else {
                        while !gate_open(&gate) {
                            gort::sleep(Duration::from_millis(20));
                        }
                    }
                    1u32
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while parked.load(SeqCst) < n && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(parked.load(SeqCst), n);
        assert!(gort::num_goroutines() >= n, "{}", gort::num_goroutines());
        gate.done();
        let sum: u32 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(sum as usize, n);
    });
}

fn gate_open(gate: &gort::sync::WaitGroup) -> bool {
    format!("{gate:?}").contains("count: 0")
}

// check_regs(v, mxcsr) loads rbx, rbp, r12–r15 with v..v+5 and MXCSR with `mxcsr`, calls
// `yield_trampoline` (which parks and may resume on another thread), and returns the XOR of every
// register with its expected value, OR-ed with the changed MXCSR control bits: 0 means intact.
std::arch::global_asm!(
    ".globl gort_test_check_regs",
    "gort_test_check_regs:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 24",
    "stmxcsr [rsp]",
    "mov [rsp + 4], esi",
    "mov [rsp + 8], rdi",
    "ldmxcsr [rsp + 4]",
    "mov rbx, rdi",
    "lea r12, [rdi + 1]",
    "lea r13, [rdi + 2]",
    "lea r14, [rdi + 3]",
    "lea r15, [rdi + 4]",
    "lea rbp, [rdi + 5]",
    "call {f}",
    "mov rcx, [rsp + 8]",
    "mov rax, rbx",
    "xor rax, rcx",
    "lea rdx, [rcx + 1]",
    "xor rdx, r12",
    "or rax, rdx",
    "lea rdx, [rcx + 2]",
    "xor rdx, r13",
    "or rax, rdx",
    "lea rdx, [rcx + 3]",
    "xor rdx, r14",
    "or rax, rdx",
    "lea rdx, [rcx + 4]",
    "xor rdx, r15",
    "or rax, rdx",
    "lea rdx, [rcx + 5]",
    "xor rdx, rbp",
    "or rax, rdx",
    "stmxcsr [rsp + 16]",
    "mov edx, [rsp + 16]",
    "xor edx, [rsp + 4]",
    "and edx, 0xFFC0",
    "or rax, rdx",
    "ldmxcsr [rsp]",
    "add rsp, 24",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    f = sym yield_trampoline,
);

unsafe extern "C" {
    fn gort_test_check_regs(v: u64, mxcsr: u32) -> u64;
}

extern "C" fn yield_trampoline() {
    gort::yield_now();
    gort::sleep(Duration::from_micros(50));
    gort::yield_now();
}

#[test]
fn callee_saved_registers_and_mxcsr_survive_yield() {
    bounded(60, || {
        let hs: Vec<_> = (0..8u64)
            .map(|seed| {
                gort::spawn(move || {
                    for round in 0..200u64 {
                        // Round toward zero (RC = 11), all exceptions masked.
                        let mxcsr = 0x1F80 | (3 << 13);
                        // SAFETY: the asm routine follows the SysV ABI and preserves what it
                        // changes (callee-saved registers and MXCSR).
                        let diff = unsafe { gort_test_check_regs(seed << 32 | round, mxcsr) };
                        assert_eq!(diff, 0, "a callee-saved register or MXCSR changed");
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
}

#[test]
fn builder_stack_size_and_name() {
    bounded(30, || {
        let h = gort::Builder::new()
            .name("worker".into())
            .stack_size(1)
            .spawn(|| 3)
            .unwrap();
        assert_eq!(h.join().unwrap(), 3);
    });
}

#[test]
fn blocking_propagates_panic_and_value() {
    bounded(30, || {
        gort::run(|| {
            assert_eq!(gort::blocking(|| 9), 9);
            let r = std::panic::catch_unwind(|| gort::blocking(|| panic!("in blocking")));
            assert!(r.is_err());
            assert_eq!(gort::blocking(|| 10), 10);
            // Nested: already in the blocking state, the inner calls just run.
            assert_eq!(gort::blocking(|| gort::blocking(|| 4)), 4);
            assert_eq!(gort::blocking(|| gort::ffi::call(|| 5)), 5);
            assert_eq!(gort::ffi::call(|| gort::blocking(|| 6)), 6);
        });
    });
}

#[test]
fn lock_os_thread_keeps_thread() {
    bounded(30, || {
        gort::run(|| {
            gort::lock_os_thread();
            let t = gettid();
            for _ in 0..50 {
                gort::sleep(Duration::from_micros(100));
                gort::yield_now();
                assert_eq!(gettid(), t);
            }
            gort::unlock_os_thread();
        });
    });
}

#[gort::test]
fn gort_test_attribute_runs_the_body_as_a_goroutine() {
    assert!(gort::current_id().is_some());
    gort::sleep(Duration::from_millis(1));
}

#[gort::test]
fn gort_test_attribute_supports_result_with_boxed_error() -> Result<(), Box<dyn std::error::Error>>
{
    let h = gort::spawn(|| "42".parse::<u32>());
    assert_eq!(h.join().unwrap()?, 42);
    Ok(())
}
