//! Preemption at runtime calls: Go's preemption request (`gp.preempt` + `gopreempt_m` in
//! proc.go), without the asynchronous half. sysmon flags a P whose time slice ran out (or takes
//! the P of a hog, rt::hog) and raises `PREEMPT_HINT`; every blocking runtime call checks the
//! hint with one load and, if set, yields the goroutine whose slice is over. Nothing interrupts
//! code that makes no runtime call (ARCHITECTURE.md, decision "No preemption in the middle of an
//! instruction").
//!
//! Invariant: the hint is a superset: it is raised whenever any slice is flagged or any
//! goroutine runs without a P, so a clear hint means there is nothing to check.

use std::sync::atomic::{AtomicBool, Ordering::*};

use super::m::{Request, current_m};
use super::park::switch_to_scheduler;

/// The preemption check at runtime calls (ARCHITECTURE.md, decision "No preemption in the middle of
/// an instruction"): if sysmon flagged the running goroutine's time slice, or took its P, yield
/// (to the back of the local queue, or to the global queue without a P).
#[inline]
pub(crate) fn check_preempt() {
    // One load of a global on the fast path: sysmon raises the hint while it has flagged a
    // goroutine, so the common case costs nothing like a thread-local lookup.
    if PREEMPT_HINT.load(Relaxed) {
        check_preempt_slow();
    }
}

/// Raised by sysmon while some time slice is flagged for preemption, or some goroutine runs
/// without a P since its P was taken (rt::hog).
pub(crate) static PREEMPT_HINT: AtomicBool = AtomicBool::new(false);

#[cold]
fn check_preempt_slow() {
    let Some(m) = current_m() else {
        return;
    };
    let gp = m.curg.load(Relaxed);
    if gp.is_null() {
        return;
    }
    // SAFETY: the running G is alive.
    let g = unsafe { &*gp };
    // A stale P's fields are harmless to read.
    let p = m.p();
    // The slice ran out, or sysmon took the P from this goroutine while it ran user code
    // (rt::hog): either way, yield. Without a P, the switch leaves this M P-less, and the
    // scheduler finds it a P or parks the thread, as exitsyscall does.
    let expired = p.is_some_and(|p| p.preempt.load(Relaxed));
    let lost = p.is_none_or(|p| !super::hog::owned_by(p, m));
    if (expired || lost) && !g.cannot_switch() {
        // Go's gopreempt_m (which queues globally; here the back of the local queue, see
        // `Request::Preempted`). The new time slice `execute` gives the G clears the flag.
        switch_to_scheduler(m, gp, Request::Preempted);
    }
}
