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

use std::ffi::c_void;
use std::hint::black_box;
use std::io::Write;

use gort_ffi_tests::{big_frame_expected, fft_big_frame, fft_on_pthread};

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

fn main() {
    let arg = std::env::args().nth(1).unwrap_or_default();
    match arg.as_str() {
        "overflow" => overflow(),
        "big_frame_ffi" => big_frame_ffi(),
        "callback_panic" => callback_panic(),
        "callback_overflow" => callback_overflow(),
        other => {
            eprintln!(
                "ffi_child: unknown scenario {other:?} (overflow, big_frame_ffi, callback_panic, callback_overflow)"
            );
            std::process::exit(2);
        }
    }
}
