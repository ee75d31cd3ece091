//! Calling C, and being called from C (Go's cgo call paths). See `rt::cgo` for how it works.
//!
//! ```
//! extern "C" fn add1(x: i32) -> i32 { x + 1 }   // stands in for a C function
//! let r = gort::run(|| gort::ffi::call(|| add1(41)));
//! assert_eq!(r, 42);
//! ```
//!
//! C called directly from a goroutine, without `call`, runs on the goroutine's stack, whose
//! guard region is 64 KiB. Rust code touches each page of a large frame in order, so any
//! overflow lands in the guard and is reported; C code compiled without
//! `-fstack-clash-protection` (gcc's default on many distributions) does not, and a C frame
//! over 64 KiB can step over the whole guard into a neighbouring goroutine's stack. Call such C
//! through `call`, which runs it on the thread's own stack, or build it with that flag.
//!
//! A C thread that calls back into Rust must leave SIGSEGV and SIGBUS unblocked while a
//! callback runs: the first callback on a thread unblocks them, but a mask the thread sets
//! later is not checked again on each callback (that would cost a system call per callback),
//! and the kernel kills a process whose fault signal is blocked, before any report.

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
