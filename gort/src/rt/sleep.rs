//! Sleeping and timers on Ps: `sleep` parks the goroutine with the timer embedded in its G,
//! and `add_timer` puts a timer on the current P's heap (Go's `timeSleep` and `addtimer` in
//! time.go). The heaps themselves are in `timers`.

use std::sync::atomic::Ordering::*;
use std::time::Duration;

use super::g::{G, WaitReason};
use super::global::{self, SCHED};
use super::m::{current_m, g_of};
use super::p::{P_DEAD, p_ref};
use super::park::{park, ready};
use super::timers::{Timer, TimerFn};
use crate::sys::{deadline_from, nanotime};

/// Pauses the current goroutine for at least `d` (Go's time.Sleep): the goroutine parks with a
/// timer on its P; the thread runs other goroutines. On a plain thread, sleeps the thread.
/// A zero duration returns at once.
pub(crate) fn sleep(d: Duration) {
    super::ensure_started();
    if d.is_zero() {
        super::preempt::check_preempt();
        return;
    }
    let m = current_m();
    // SAFETY: the caller's own G.
    let g = unsafe { &*g_of(m) };
    if g.is_thread.load(Relaxed) {
        std::thread::sleep(d);
        return;
    }
    let now = nanotime();
    let when = deadline_from(now, d);
    // The park's switch checks the P's timers against this reading instead of reading the
    // clock again (M::now; a read costs about as much as the rest of the switch).
    if let Some(m) = m {
        m.now.set(now);
    }
    park(WaitReason::Sleep, &mut |gp| {
        // SAFETY: the sleep timer lives in the G, which stays parked (alive, unmoved) until the
        // timer fires and readies it.
        unsafe { add_timer(&(*gp).sleep_timer, when, wake_sleeper) };
        true
    });
}

/// Fires a sleep timer: ready the G that embeds it.
unsafe fn wake_sleeper(t: *const Timer, _: u64) {
    let off = std::mem::offset_of!(G, sleep_timer);
    // SAFETY: a sleep timer is armed only by its G's park commit, and fires once: the G is
    // parked and this callback is its one waker.
    unsafe { ready((t as usize - off) as *mut G) };
}

/// Adds `t` to the current P's heap (any live P if the caller has none) and makes sure an M
/// will wake for it.
///
/// # Safety
/// As `TimerHeap::add`: `t` is in no heap, stays alive until stopped or fired, and is not
/// being added by another thread.
pub(crate) unsafe fn add_timer(t: *const Timer, when: i64, f: TimerFn) {
    // SAFETY: the caller's contract.
    if let Some(when) = unsafe { add_timer_quietly(t, when, f) } {
        wake_for_timer(when);
    }
}

/// As [`add_timer`], but an M that must wake for the timer is left to the caller: when this
/// returns `Some(when)`, the caller calls [`wake_for_timer`] with it once it has released its
/// own locks (the wake may take the scheduler's lock or start a thread).
///
/// # Safety
/// As [`add_timer`].
pub(crate) unsafe fn add_timer_quietly(t: *const Timer, when: i64, f: TimerFn) -> Option<i64> {
    super::ensure_started();
    let first = super::hog::with_p(|pp| {
        let p = pp
            .or_else(|| {
                global::allp().find(|p| !p.should_retire() && p.status.load(Acquire) != P_DEAD)
            })
            .or_else(|| p_ref(SCHED.allp[0].load(Acquire)))
            .expect("the runtime has started, so P 0 exists");
        // SAFETY: the caller upholds the timer contract.
        unsafe { p.timers.add(t, when, f) }
    });
    first.then_some(when)
}

/// Wakes an M for a timer that [`add_timer_quietly`] added at `when`.
pub(crate) fn wake_for_timer(when: i64) {
    global::wake_timer_waiter(when);
}
