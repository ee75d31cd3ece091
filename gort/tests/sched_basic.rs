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

/// `run`'s result need not be `Send` (the common `Result<_, Box<dyn Error>>` is not), as
/// `#[gort::main]`'s need not: it only crosses from the finished goroutine to the caller.
#[test]
fn run_returns_a_result_that_is_not_send() {
    bounded(30, || {
        let r: Result<i32, Box<dyn std::error::Error>> = gort::run(|| Ok("5".parse::<i32>()?));
        assert_eq!(r.unwrap(), 5);
        let r: Result<i32, Box<dyn std::error::Error>> = gort::run(|| Ok("x".parse::<i32>()?));
        assert!(r.is_err());
        let rc = gort::run(|| std::rc::Rc::new(7));
        assert_eq!(*rc, 7);
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
        // A leaked handle does not hide its goroutine's panic (std's scope hangs there).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gort::scope(|s| std::mem::forget(s.go(|| panic!("leaked on purpose"))))
        }));
        assert!(
            r.is_err(),
            "the scope returned although a leaked goroutine panicked"
        );
        // Of two panics, the joined one is handled and the other is not.
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            gort::scope(|s| {
                let a = s.go(|| panic!("joined on purpose"));
                s.go(|| panic!("unjoined on purpose"));
                assert!(a.join().is_err());
            })
        }));
        assert!(r.is_err());
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
        // Emulated (an instruction set translated in software), a tenth is as much proof.
        let n = if gort_test_support::emulated() {
            10_000
        } else {
            100_000
        };
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
#[cfg(target_arch = "x86_64")]
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

// On aarch64, check_regs(v, fpcr) loads x19–x28 with v..v+9, d8–d15 with v+10..v+17 and FPCR
// with `fpcr`, calls `yield_trampoline`, and returns the XOR of every register with its expected
// value, OR-ed with the changed FPCR bits: 0 means intact. Frame (192 bytes): x29/x30 at 0,
// x19–x28 at 16–95, d8–d15 at 96–159, the caller's FPCR at 160, v at 168, FPCR as loaded at 176.
#[cfg(target_arch = "aarch64")]
std::arch::global_asm!(
    ".globl gort_test_check_regs",
    "gort_test_check_regs:",
    "stp x29, x30, [sp, #-192]!",
    "mov x29, sp",
    "stp x19, x20, [sp, #16]",
    "stp x21, x22, [sp, #32]",
    "stp x23, x24, [sp, #48]",
    "stp x25, x26, [sp, #64]",
    "stp x27, x28, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mrs x9, fpcr",
    "str x9, [sp, #160]",
    "str x0, [sp, #168]",
    "msr fpcr, x1",
    "mrs x9, fpcr",
    "str x9, [sp, #176]",
    "mov x19, x0",
    "add x20, x0, #1",
    "add x21, x0, #2",
    "add x22, x0, #3",
    "add x23, x0, #4",
    "add x24, x0, #5",
    "add x25, x0, #6",
    "add x26, x0, #7",
    "add x27, x0, #8",
    "add x28, x0, #9",
    "add x9, x0, #10",
    "fmov d8, x9",
    "add x9, x0, #11",
    "fmov d9, x9",
    "add x9, x0, #12",
    "fmov d10, x9",
    "add x9, x0, #13",
    "fmov d11, x9",
    "add x9, x0, #14",
    "fmov d12, x9",
    "add x9, x0, #15",
    "fmov d13, x9",
    "add x9, x0, #16",
    "fmov d14, x9",
    "add x9, x0, #17",
    "fmov d15, x9",
    "bl {f}",
    "ldr x1, [sp, #168]",
    "eor x0, x19, x1",
    "add x9, x1, #1",
    "eor x9, x9, x20",
    "orr x0, x0, x9",
    "add x9, x1, #2",
    "eor x9, x9, x21",
    "orr x0, x0, x9",
    "add x9, x1, #3",
    "eor x9, x9, x22",
    "orr x0, x0, x9",
    "add x9, x1, #4",
    "eor x9, x9, x23",
    "orr x0, x0, x9",
    "add x9, x1, #5",
    "eor x9, x9, x24",
    "orr x0, x0, x9",
    "add x9, x1, #6",
    "eor x9, x9, x25",
    "orr x0, x0, x9",
    "add x9, x1, #7",
    "eor x9, x9, x26",
    "orr x0, x0, x9",
    "add x9, x1, #8",
    "eor x9, x9, x27",
    "orr x0, x0, x9",
    "add x9, x1, #9",
    "eor x9, x9, x28",
    "orr x0, x0, x9",
    "add x9, x1, #10",
    "fmov x10, d8",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #11",
    "fmov x10, d9",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #12",
    "fmov x10, d10",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #13",
    "fmov x10, d11",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #14",
    "fmov x10, d12",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #15",
    "fmov x10, d13",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #16",
    "fmov x10, d14",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "add x9, x1, #17",
    "fmov x10, d15",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "mrs x9, fpcr",
    "ldr x10, [sp, #176]",
    "eor x9, x9, x10",
    "orr x0, x0, x9",
    "ldr x9, [sp, #160]",
    "msr fpcr, x9",
    "ldp d14, d15, [sp, #144]",
    "ldp d12, d13, [sp, #128]",
    "ldp d10, d11, [sp, #112]",
    "ldp d8, d9, [sp, #96]",
    "ldp x27, x28, [sp, #80]",
    "ldp x25, x26, [sp, #64]",
    "ldp x23, x24, [sp, #48]",
    "ldp x21, x22, [sp, #32]",
    "ldp x19, x20, [sp, #16]",
    "ldp x29, x30, [sp], #192",
    "ret",
    f = sym yield_trampoline,
);

/// A non-default floating-point control value for `gort_test_check_regs`.
/// x86-64 MXCSR: round toward zero (RC = 11), all exceptions masked.
#[cfg(target_arch = "x86_64")]
const ODD_FP_CONTROL: u32 = 0x1F80 | (3 << 13);
/// AArch64 FPCR: round toward zero (RMode = 11) and flush-to-zero.
#[cfg(target_arch = "aarch64")]
const ODD_FP_CONTROL: u32 = (3 << 22) | (1 << 24);

unsafe extern "C" {
    fn gort_test_check_regs(v: u64, fp_control: u32) -> u64;
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
                        // SAFETY: the asm routine follows the platform ABI and preserves what it
                        // changes (callee-saved registers and the floating-point control).
                        let diff =
                            unsafe { gort_test_check_regs(seed << 32 | round, ODD_FP_CONTROL) };
                        assert_eq!(
                            diff, 0,
                            "a callee-saved register or the floating-point control changed"
                        );
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
        // The largest stack is 1 GiB (Go's limit); more is refused, not quietly cut.
        let h = gort::Builder::new()
            .stack_size(1 << 30)
            .spawn(|| 4)
            .unwrap();
        assert_eq!(h.join().unwrap(), 4);
        let err = gort::Builder::new()
            .stack_size((1 << 30) + 1)
            .spawn(|| ())
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains("1073741825 bytes"), "{err}");
    });
}

/// 10,000 goroutines one after another, each with a stack size of its own: every spawn
/// succeeds (sizes share power-of-two classes; a class per size reserved address space for each
/// and ran out of it after about 8,700), and each goroutine can use the size it asked for.
#[test]
fn many_distinct_stack_sizes() {
    bounded(120, || {
        for i in 0..10_000usize {
            let size = (32 << 10) + i * 4096;
            let h = gort::Builder::new()
                .stack_size(size)
                .spawn(move || {
                    if i % 1000 == 0 {
                        // Use the stack down to 8 KiB above the size asked for.
                        let here = [0u8; 1];
                        let top = std::hint::black_box(&here).as_ptr() as usize;
                        touch_stack_down_to(top - (size - (8 << 10)));
                    }
                    i
                })
                .unwrap_or_else(|e| panic!("spawn {i} (stack size {size}): {e}"));
            assert_eq!(h.join().unwrap(), i);
        }
    });
}

/// Recurses in 1 KiB frames until a frame lies below `addr`.
fn touch_stack_down_to(addr: usize) {
    let frame = [0u8; 1024];
    let at = std::hint::black_box(&frame).as_ptr() as usize;
    if at > addr {
        touch_stack_down_to(addr);
    }
    std::hint::black_box(&frame);
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
