//! Calling C, and being called from C (Go's cgo call paths). See `rt::cgo` for how it works.
//!
//! ```
//! extern "C" fn add1(x: i32) -> i32 { x + 1 }   // stands in for a C function
//! let r = gort::run(|| gort::ffi::call(|| add1(41)));
//! assert_eq!(r, 42);
//! ```

/// Runs `f` — typically `unsafe { some_c_fn(..) }` — on the OS thread's own large stack, outside
/// the goroutine's stack, with the processor handed to another thread if it blocks (Go's
/// cgocall). `f` runs on the calling thread, so it needs no `Send` or `'static` bound. A panic in
/// `f` propagates out of `call`. On a plain thread, just calls `f`.
pub fn call<R>(f: impl FnOnce() -> R) -> R {
    crate::rt::ffi_call(f)
}

/// Enters the runtime from code called by C (Go's cgocallback).
///
/// - On a thread the runtime did not create (a C library's worker thread): the thread is bound
///   to the runtime for the duration and `f` runs as a goroutine locked to it; it may use
///   channels, `go!`, `sleep`, locks.
/// - Inside an `ffi::call` on a runtime thread (C calling back into Rust): `f` runs back on the
///   calling goroutine's stack; it may block on gort primitives.
///
/// Either way `current_id()` is `Some` inside `f`. A panic in `f` is re-raised on the calling
/// thread, so an `extern "C"` wrapper aborts, as Rust requires at that boundary.
#[track_caller]
pub fn callback<R>(f: impl FnOnce() -> R) -> R {
    crate::rt::ffi_callback(f)
}
