//! Goroutines inside `tracing` spans: [`instrument`] and `Builder::span`.
//!
//! A subscriber keeps the current span per thread (tracing-subscriber's registry keeps a stack
//! of entered spans in a thread-local). A goroutine moves between threads at every park, so a
//! span it enters with `span.enter()` and holds across a blocking gort call is exited on
//! another thread: the first thread's stack keeps it (it looks current to every goroutine that
//! runs there next) and the second thread's stack pops a span it never pushed.
//!
//! `instrument` does what tokio's `Instrumented` does per poll, per run instead: the span is
//! entered while the goroutine runs on a thread and exited whenever it switches out. Each call
//! puts a `Frame` on the goroutine's stack (stacks never move) and makes it the goroutine's
//! switch hook (`rt::SwitchHook`), linked to the hook it replaces, so nested calls form a chain:
//! a switch exits the innermost span first and re-enters the outermost first. The runtime pays
//! one null test per switch for goroutines without a span, and nothing without the feature.
//!
//! The hook runs inside the switch, where a channel operation may still hold its channel's
//! lock: a subscriber must not block on gort primitives (tracing-subscriber's layers use std
//! locks and writers, which is fine); one that does may deadlock on that lock, though the switch
//! stays sound (a park inside the hook does not run it again). A panic in a subscriber stops at
//! the hook (the panic hook reports it) and never unwinds out of the switch.
//!
//! Invariants: the hook points to the innermost live `Frame` of the running goroutine; a frame's
//! span is entered on the goroutine's thread exactly while the goroutine runs inside the call.

use tracing::Span;

use crate::rt::{self, SwitchHook};

/// One `instrument` call's span, on the goroutine's stack.
#[repr(C)]
struct Frame {
    /// First, so that the hook pointer is the frame pointer.
    hook: SwitchHook,
    span: Span,
    /// The hook this frame replaced (an enclosing `instrument` call's), or null.
    outer: *const SwitchHook,
}

fn enter(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
}

fn exit(span: &Span) {
    span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
}

/// Exits the chain's spans, innermost first.
///
/// # Safety
/// `h` is the hook of a live `Frame` whose chain is live.
unsafe fn switch_out(h: *const SwitchHook) {
    // SAFETY: the hook is a live Frame's first field (the caller's contract).
    let f = unsafe { &*h.cast::<Frame>() };
    exit(&f.span);
    if !f.outer.is_null() {
        // SAFETY: the enclosing frames outlive this one.
        unsafe { switch_out(f.outer) };
    }
}

/// Enters the chain's spans, outermost first.
///
/// # Safety
/// As `switch_out`.
unsafe fn switch_in(h: *const SwitchHook) {
    // SAFETY: as in `switch_out`.
    let f = unsafe { &*h.cast::<Frame>() };
    if !f.outer.is_null() {
        // SAFETY: as in `switch_out`.
        unsafe { switch_in(f.outer) };
    }
    enter(&f.span);
}

/// Runs `f` inside `span`: the span is entered whenever the calling goroutine runs on a thread
/// and exited whenever it switches out, so it is the current span at every point of `f`, on
/// whichever thread, and never on another goroutine. Nested calls nest their spans. On a plain
/// thread it is `span.in_scope(f)`.
///
/// Use it (or `Builder::span`) instead of holding `span.enter()`'s guard across a blocking gort
/// call: the guard would exit the span on another thread (see the crate docs).
///
/// ```
/// # #[cfg(feature = "tracing")] {
/// let span = tracing::info_span!("request", id = 7);
/// let n = gort::run(move || {
///     gort::instrument(span, || {
///         gort::sleep(std::time::Duration::from_millis(1)); // may resume on another thread
///         tracing::info!("still inside the span");
///         7
///     })
/// });
/// assert_eq!(n, 7);
/// # }
/// ```
pub fn instrument<R>(span: Span, f: impl FnOnce() -> R) -> R {
    let frame = Frame {
        hook: SwitchHook {
            switch_out,
            switch_in,
        },
        span,
        outer: rt::switch_hook(),
    };
    enter(&frame.span);
    // SAFETY: `frame` stays on this stack, unmoved, until the guard below has replaced the hook.
    unsafe { rt::set_switch_hook(&frame.hook) };

    struct Restore<'a>(&'a Frame);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            // SAFETY: the outer hook is still live (its frame encloses ours); no switch happens
            // between these two lines, so the span is never exited twice.
            unsafe { rt::set_switch_hook(self.0.outer) };
            exit(&self.0.span);
        }
    }
    let _restore = Restore(&frame);
    f()
}
