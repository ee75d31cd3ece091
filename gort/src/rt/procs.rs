//! Changing the number of Ps (Go's procresize, without stopping the world).
//!
//! Growing creates (or revives) Ps and makes them idle. Shrinking lowers `procs`; idle Ps above
//! the new count retire at once, running ones at their M's next scheduling round, Ps in a
//! blocking call when their M returns or sysmon retakes them. A retiring P's queue, timers and
//! free Gs move elsewhere (see schedule::retire_p). Until then, up to the old count of Ps may
//! still be running goroutines that never call the runtime; that is the price of not stopping the
//! world, and it ends at their next runtime call.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::*};

use super::global::{self, MAX_P, SCHED, lock, wakep};
use super::p::{P, P_DEAD};

/// Serialises set_procs.
static RESIZE: Mutex<()> = Mutex::new(());

/// Whether GOMAXPROCS is 1: read on fast paths that guess differently with one P (a read-mostly
/// word of its own, unlike `SCHED.procs`, whose line the schedulers write).
pub(crate) static ONE_P: AtomicBool = AtomicBool::new(false);

/// Most GOMAXPROCS accepted.
pub(crate) const MAX_PROCS: usize = MAX_P;

fn slot(i: usize) -> &'static P {
    if let Some(p) = super::p::p_ref(SCHED.allp[i].load(Acquire)) {
        return p;
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
    ONE_P.store(n == 1, Relaxed);
    if super::trace::ON.load(Relaxed) {
        super::trace::procs(n);
    }
    for i in 0..n {
        let p = slot(i);
        // Under the lock, where retiring Ps are finally marked dead: a P that a retirer has
        // already given up is revived here, one it has not is kept by the retirer.
        let mut l = lock();
        if p.status.load(Acquire) == P_DEAD {
            l.pidle_put(p);
        }
    }
    if n < old {
        lock().pidle_reap();
    }
    global::retire_idle();
    wakep();
    old
}
