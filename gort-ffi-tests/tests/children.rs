//! Fatal paths, each in a child process (`src/bin/ffi_child.rs`): the 1 MiB C frame overflows
//! a goroutine stack and is reported, and a panic in a foreign-thread callback aborts at the
//! `extern "C"` boundary instead of unwinding into C.
//!
//! The tests at the end are regression tests for patterns that once crashed the runtime: gort
//! calls that park, yield or nest inside `ffi::call`, C calling Rust that calls C without a
//! callback, and an unbalanced `unlock_os_thread` inside a callback.

use std::process::Command;
use std::time::Duration;

use gort_ffi_tests::big_frame_expected;
use gort_test_support::{Output, run_child};

const TIMEOUT: Duration = Duration::from_secs(30);

fn child(scenario: &str) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ffi_child"));
    cmd.arg(scenario);
    run_child(cmd, TIMEOUT)
}

/// Called directly from a goroutine (no `ffi::call`), the C function with a 1 MiB frame is
/// reported as a goroutine stack overflow and the process aborts: it never returns and never
/// corrupts memory silently.
#[test]
fn direct_call_overflows() {
    child("overflow")
        .assert_signal(libc::SIGABRT)
        .assert_stdout_has("calling fft_big_frame on a goroutine stack")
        .assert_stdout_lacks("UNEXPECTED")
        .assert_stderr_has("fatal error: goroutine ")
        .assert_stderr_has("stack overflow");
}

/// The control: the same call through `ffi::call` in the same binary returns the right value.
#[test]
fn same_call_through_ffi_call_works() {
    child("big_frame_ffi")
        .assert_success()
        .assert_stdout_has(&format!("sum={}", big_frame_expected(7)));
}

/// A panic in `ffi::callback` on a C thread: the panic message is printed, then Rust's
/// `extern "C"` wrapper aborts ("panic in a function that cannot unwind"); C never sees an
/// unwind and never returns.
#[test]
fn callback_panic_aborts_at_the_extern_c_boundary() {
    child("callback_panic")
        .assert_signal(libc::SIGABRT)
        .assert_stderr_has("boom from an ffi callback on a C thread")
        .assert_stderr_has("panic in a function that cannot unwind")
        .assert_stdout_lacks("UNEXPECTED");
}

/// A callback goroutine on a C thread that overflows its stack is reported like any goroutine
/// (the foreign thread got a sigaltstack when it was bound).
#[test]
fn callback_overflow_on_a_foreign_thread_is_reported() {
    child("callback_overflow")
        .assert_signal(libc::SIGABRT)
        .assert_stdout_has("recursing in a callback goroutine on a C thread")
        .assert_stdout_lacks("UNEXPECTED")
        .assert_stderr_has("stack overflow");
}

/// The same on a C thread whose own alternate signal stack is too small for the kernel to
/// deliver the fault on: gort puts its own in place (before, the process died of a bare
/// SIGSEGV, with no report).
#[test]
fn callback_overflow_on_a_thread_with_a_small_altstack_is_reported() {
    child("callback_overflow_small_altstack")
        .assert_signal(libc::SIGABRT)
        .assert_stdout_has("recursing in a callback goroutine on a C thread")
        .assert_stdout_lacks("UNEXPECTED")
        .assert_stderr_has("stack overflow");
}

/// Misuse expressible in safe code must work (exit 0, `ok` line) or fail with a clear panic
/// (exit status 101): never a SIGSEGV, an abort, or a hang.
fn works_or_panics_cleanly(scenario: &str, ok_line: &str) {
    let out = child(scenario);
    if out.status.success() {
        out.assert_stdout_has(ok_line);
    } else {
        assert_eq!(
            out.status.code(),
            Some(101),
            "want success or a clean panic (exit status 101), not a crash: {out}"
        );
        out.assert_stderr_has("panicked at");
    }
}

#[test]
fn park_inside_call_is_safe() {
    works_or_panics_cleanly("park_inside_call", "ok value=5");
}

#[test]
fn yield_inside_call_is_safe() {
    works_or_panics_cleanly("yield_inside_call", "ok");
}

#[test]
fn nested_call_is_safe() {
    works_or_panics_cleanly("nested_call", "ok (1536, 306)");
}

#[test]
fn call_from_c_without_callback_is_safe() {
    works_or_panics_cleanly("call_from_c_without_callback", "ok 5");
}

#[test]
fn unlock_in_foreign_callback_is_safe() {
    works_or_panics_cleanly("unlock_in_foreign_callback", "ok 42");
}

#[test]
fn unlock_in_call_callback_is_safe() {
    works_or_panics_cleanly("unlock_in_call_callback", "ok 5");
}
