//! Child-process scenarios for tests/children.rs: each dies (or not) in a way a test checks from
//! the outside. Usage: `ffi_child SCENARIO`.
//!
//! - `overflow`: a goroutine calls the 1 MiB-frame C function directly, on its own stack: must
//!   die with gort's "stack overflow" report and SIGABRT (never return, never corrupt silently).
//! - `big_frame_ffi`: the same call through `gort::ffi::call`: prints `sum=<n>` and exits 0.
//! - `callback_panic`: a C pthread calls an `extern "C"` Rust function whose `ffi::callback`
//!   panics: the panic is re-raised in the `extern "C"` function, which aborts ("panic in a
//!   function that cannot unwind") instead of unwinding into C.
//! - `callback_overflow`: a callback on a C pthread recurses without bound: the callback
//!   goroutine's overflow is reported as for any goroutine (the foreign thread got a
//!   sigaltstack when it was bound).
//! - `callback_overflow_small_altstack`: the same on a C pthread that installed an alternate
//!   signal stack of its own of `MINSIGSTKSZ` bytes (2 KiB on x86-64), which may be too small
//!   for the kernel to deliver a signal on (it needs `getauxval(AT_MINSIGSTKSZ)`, 3 KiB and
//!   more with AVX-512): reported all the same.
//!
//! Misuse that safe code can express; each must either work (exit 0, print `ok ...`) or fail
//! with a clear panic, never crash (see the ignored tests in tests/children.rs):
//! - `park_inside_call`: a channel receive that parks, inside `ffi::call`'s closure.
//! - `yield_inside_call`: `yield_now` inside `ffi::call`'s closure.
//! - `nested_call`: `ffi::call` inside `ffi::call`'s closure (no C in between).
//! - `call_from_c_without_callback`: C calls a Rust function that uses `ffi::call` without
//!   entering through `ffi::callback`.
//! - `unlock_in_foreign_callback`, `unlock_in_call_callback`: an unbalanced
//!   `unlock_os_thread()` inside a callback, which then parks (Go: a no-op; the callback's own
//!   thread lock is internal).

use std::ffi::c_void;
use std::hint::black_box;
use std::io::Write;

use std::time::Duration;

use gort_ffi_tests::{
    big_frame_expected, fft_big_frame, fft_call_back, fft_on_pthread, fft_on_pthread_altstack,
};

fn say(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

fn overflow() {
    let sum = gort::run(|| {
        say("calling fft_big_frame on a goroutine stack");
        // SAFETY: fft_big_frame takes no pointers; running it on a goroutine stack is the
        // overflow this scenario wants (it is compiled to probe every page of its frame).
        unsafe { fft_big_frame(black_box(7)) }
    });
    say(&format!(
        "UNEXPECTED: fft_big_frame returned {sum} on a goroutine stack"
    ));
}

fn big_frame_ffi() {
    let sum = gort::run(|| {
        // SAFETY: fft_big_frame takes no pointers; ffi::call runs it on the system stack.
        gort::ffi::call(|| unsafe { fft_big_frame(black_box(7)) })
    });
    assert_eq!(sum, big_frame_expected(7));
    say(&format!("sum={sum}"));
}

extern "C" fn panicking_callback(_arg: *mut c_void, x: i64) -> i64 {
    gort::ffi::callback(|| {
        if black_box(x) == 1 {
            panic!("boom from an ffi callback on a C thread");
        }
        x
    })
}

fn callback_panic() {
    let mut out = 0;
    // SAFETY: the callback ignores `arg`; `out` outlives the call (the thread is joined).
    let rc = unsafe { fft_on_pthread(panicking_callback, std::ptr::null_mut(), 1, &mut out) };
    say(&format!(
        "UNEXPECTED: the C thread returned (rc={rc}, out={out})"
    ));
}

#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[(depth % 1024) as usize] = depth as u8;
    black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1) + u64::from(frame[0])
}

extern "C" fn recursing_callback(_arg: *mut c_void, x: i64) -> i64 {
    gort::ffi::callback(|| {
        say("recursing in a callback goroutine on a C thread");
        recurse(black_box(x as u64)) as i64
    })
}

fn callback_overflow() {
    let mut out = 0;
    // SAFETY: the callback ignores `arg`; `out` outlives the call (the thread is joined).
    let rc = unsafe { fft_on_pthread(recursing_callback, std::ptr::null_mut(), 0, &mut out) };
    say(&format!(
        "UNEXPECTED: the C thread returned (rc={rc}, out={out})"
    ));
}

fn callback_overflow_small_altstack() {
    let mut out = 0;
    // SAFETY: as in `callback_overflow`.
    let rc = unsafe {
        fft_on_pthread_altstack(
            recursing_callback,
            std::ptr::null_mut(),
            0,
            &mut out,
            libc::MINSIGSTKSZ,
        )
    };
    say(&format!(
        "UNEXPECTED: the C thread returned (rc={rc}, out={out})"
    ));
}

fn park_inside_call() {
    let v = gort::run(|| {
        let (tx, rx) = gort::chan::<i64>(0);
        gort::go(move || {
            gort::sleep(Duration::from_millis(10));
            tx.send(5).unwrap();
        });
        let guard = black_box([7u64; 64]);
        let v = gort::ffi::call(|| rx.recv().unwrap());
        assert_eq!(black_box(guard), [7u64; 64]);
        v
    });
    say(&format!("ok value={v}"));
}

fn yield_inside_call() {
    gort::run(|| {
        for _ in 0..3 {
            gort::go(|| {
                for _ in 0..100 {
                    gort::yield_now();
                }
            });
        }
        let guard = black_box([7u64; 64]);
        gort::ffi::call(|| {
            for _ in 0..100 {
                gort::yield_now();
            }
        });
        assert_eq!(black_box(guard), [7u64; 64]);
    });
    say("ok");
}

#[inline(never)]
fn inner_call(n: u64) -> u64 {
    let a = black_box([n; 32]);
    let inner = gort::ffi::call(|| black_box(n) * 2);
    black_box(a).iter().sum::<u64>() + inner
}

fn nested_call() {
    let r = gort::run(|| {
        gort::ffi::call(|| {
            let a = black_box([3u64; 512]);
            let x = inner_call(black_box(9));
            (black_box(a).iter().sum::<u64>(), x)
        })
    });
    assert_eq!(r, (1536, 9 * 32 + 18));
    say(&format!("ok {r:?}"));
}

extern "C" fn call_without_callback(_arg: *mut c_void, x: i64) -> i64 {
    gort::ffi::call(|| black_box(x) + 1)
}

fn call_from_c_without_callback() {
    let r = gort::run(|| {
        // SAFETY: the callback matches and ignores `arg`.
        gort::ffi::call(|| unsafe { fft_call_back(call_without_callback, std::ptr::null_mut(), 1) })
    });
    assert_eq!(r, 5);
    say(&format!("ok {r}"));
}

extern "C" fn unlocking_callback(_arg: *mut c_void, x: i64) -> i64 {
    gort::ffi::callback(|| {
        gort::unlock_os_thread();
        gort::sleep(Duration::from_millis(5));
        x + 1
    })
}

fn unlock_in_foreign_callback() {
    let mut out = 0;
    // SAFETY: the callback ignores `arg`; `out` outlives the joined thread.
    let rc = unsafe { fft_on_pthread(unlocking_callback, std::ptr::null_mut(), 41, &mut out) };
    assert_eq!((rc, out), (0, 42));
    say("ok 42");
}

fn unlock_in_call_callback() {
    let r = gort::run(|| {
        for _ in 0..4 {
            gort::go(|| {
                for _ in 0..200 {
                    gort::sleep(Duration::from_micros(100));
                }
            });
        }
        // SAFETY: the callback matches and ignores `arg`.
        gort::ffi::call(|| unsafe { fft_call_back(unlocking_callback, std::ptr::null_mut(), 1) })
    });
    assert_eq!(r, 5);
    say(&format!("ok {r}"));
}

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    match arg.as_str() {
        "overflow" => overflow(),
        "big_frame_ffi" => big_frame_ffi(),
        "callback_panic" => callback_panic(),
        "callback_overflow" => callback_overflow(),
        "callback_overflow_small_altstack" => callback_overflow_small_altstack(),
        "park_inside_call" => park_inside_call(),
        "yield_inside_call" => yield_inside_call(),
        "nested_call" => nested_call(),
        "call_from_c_without_callback" => call_from_c_without_callback(),
        "unlock_in_foreign_callback" => unlock_in_foreign_callback(),
        "unlock_in_call_callback" => unlock_in_call_callback(),
        other => {
            eprintln!("ffi_child: unknown scenario {other:?}; see the module doc for the list");
            std::process::exit(2);
        }
    }
}
