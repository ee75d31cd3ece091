//! Changing the number of Ps (Go's procresize, without stopping the world) and lending an extra
//! P past a hog.
//!
//! Growing creates (or revives) Ps and makes them idle. Shrinking lowers `procs`; idle Ps above
//! the new count retire at once, running ones at their M's next scheduling round, Ps in a
//! blocking call when their M returns or sysmon retakes them. A retiring P's queue, timers and
//! free Gs move elsewhere (see schedule::retire_p). Until then, up to the old count of Ps may
//! still be running goroutines that never call the runtime; that is the price of not stopping the
//! world, and it ends at their next runtime call.

use std::sync::Mutex;
use std::sync::atomic::Ordering::*;

use super::p::{P, P_DEAD, P_IDLE};
use super::sched::{self, MAX_P, SCHED, lock, startm, wakep};

/// Serialises set_procs and P lending.
static RESIZE: Mutex<()> = Mutex::new(());

/// Most GOMAXPROCS accepted (room is left for lent Ps).
pub(crate) const MAX_PROCS: usize = MAX_P / 2;

fn slot(i: usize) -> &'static P {
    let pp = SCHED.allp[i].load(Acquire);
    if !pp.is_null() {
        // SAFETY: Ps are never freed.
        return unsafe { &*pp };
    }
    let p: &'static P = Box::leak(Box::new(P::new(i)));
    p.status.store(P_DEAD, Relaxed);
    SCHED.allp[i].store(p as *const P as *mut P, Release);
    SCHED.nallp.fetch_max(i + 1, AcqRel);
    p
}

/// Sets the number of Ps; returns the previous number.
pub(crate) fn set_procs(n: usize) -> usize {
    assert!(
        n >= 1,
        "gort::set_procs: the number of processors must be at least 1, got {n}"
    );
    let n = n.min(MAX_PROCS);
    let _r = RESIZE.lock().unwrap_or_else(|e| e.into_inner());
    let old = SCHED.procs.swap(n, SeqCst);
    for i in 0..n {
        let p = slot(i);
        p.lent_for.store(std::ptr::null_mut(), Relaxed);
        if p.status.load(Acquire) == P_DEAD {
            lock().pidle_put(p);
        }
    }
    if n < old {
        lock().pidle_reap();
    }
    wakep();
    old
}

/// Ps lent past hogs since the process began (`runtime::Stats::hog_lends`).
pub(crate) static LENDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Whether a P is lent past the goroutine running on `hog` now.
pub(crate) fn lent_past(hog: &P) -> bool {
    let hogp = hog as *const P as *mut P;
    sched::allp().any(|p| p.lent_for.load(Relaxed) == hogp && p.status.load(Relaxed) != P_DEAD)
}

/// Lends an extra P so that the work queued behind the hog on `hog` can run elsewhere.
pub(crate) fn lend_p(hog: &P) {
    let _r = RESIZE.lock().unwrap_or_else(|e| e.into_inner());
    let procs = SCHED.procs.load(Relaxed);
    if lent_past(hog) {
        return;
    }
    let hogp = hog as *const P as *mut P;
    let Some(p) = (procs..MAX_P)
        .map(slot)
        .find(|p| p.status.load(Acquire) == P_DEAD)
    else {
        return;
    };
    LENDS.fetch_add(1, Relaxed);
    p.lent_tick.store(hog.switchtick.load(Relaxed), Relaxed);
    p.lent_for.store(hogp, Release);
    SCHED.nmspinning.fetch_add(1, SeqCst);
    p.status.store(P_IDLE, Release);
    startm(p as *const P as *mut P, true);
}
