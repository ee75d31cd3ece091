//! Blocking calls: Go's entersyscall / exitsyscall (proc.go).
//!
//! `enter` leaves the M's P in the P_BLOCKING state, still remembered as the M's `oldp`. A short
//! call gets its P back in `exit` with plain stores. If the call takes longer than a sysmon tick
//! (~20 µs), sysmon retakes the P and hands it to another M (`handoffp`), so other goroutines
//! keep running. `exit` then takes an idle P if there is one; otherwise the goroutine is queued
//! globally and the M sleeps (Go's exitsyscall0).
//!
//! Where this deviates from Go: Go's exitsyscallfast takes the P back with a CAS on its status,
//! and on this machine that one locked instruction was about a third of an `ffi::call`. Here the
//! M and sysmon meet with the handshake rt::hog uses for hogs: the returning M sets
//! `M::reclaiming` and then reads the status; sysmon marks the P `P_RETAKING`, runs the
//! process-wide barrier and then reads the flag. Either the M sees `P_RETAKING` (and waits for
//! sysmon's verdict) or sysmon sees the flag (and puts the P back to `P_BLOCKING`), so the M's
//! plain store of `P_RUNNING` never races a hand-off. A P in a blocking call keeps its M in
//! `P::m`, for that check, and so that an M never takes back a P that was retaken and has since
//! entered another M's blocking call (Go's status CAS alone would let it take that one).
//!
//! A goroutine that must stay on its thread (locked, or unwinding) waits for a P to be handed to
//! its M instead: it is queued with `locked_m` set, and the scheduler that picks it hands its own
//! P to this M (Go's startlockedm).
//!
//! Invariants: only sysmon moves a P out of P_BLOCKING by retaking it (`retake`); the M that
//! entered the call moves it out by `exit` or by giving it up (`release_own`), never while
//! sysmon's mark is on it.

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use super::g::{BLOCKING, G, RUNNABLE, RUNNING};
use super::global::{self, acquirep, handoffp};
use super::m::{M, Request, m_ref};
use super::p::{P, P_BLOCKING, P_IDLE, P_RETAKING, P_RUNNING, p_ref};
use super::park::switch_to_scheduler;
use super::trace;
use crate::util::loom::spin_loop;

/// Runs `f`, which may block the thread, with the caller's P left behind for sysmon to hand
/// off (`gort::blocking`). On a plain thread, or already inside a blocking call or `ffi::call`,
/// just calls `f`. A panic in `f` propagates after the P is back.
pub(crate) fn run<R>(f: impl FnOnce() -> R) -> R {
    let Some(m) = super::m::current_m() else {
        return f();
    };
    let gp = m.curg.load(Relaxed);
    // SAFETY: a non-null curg is alive.
    if gp.is_null() || unsafe { (*gp).status() } != RUNNING {
        return f();
    }
    enter(m, false);
    let r = catch_unwind(AssertUnwindSafe(f));
    exit(super::m::current_m().expect("a goroutine resumes on an M"));
    if r.is_ok() {
        // As Go's exitsyscall honours a pending preemption request: a goroutine looping on short
        // blocking calls never switches otherwise, and would keep its time slice for ever.
        super::preempt::check_preempt();
    }
    match r {
        Ok(v) => v,
        Err(p) => resume_unwind(p),
    }
}

/// Go's entersyscall. With `handoff_now`, the P is handed off at once instead of waiting for
/// sysmon (used when the caller knows it will block: thread-mode parks).
pub(crate) fn enter(m: &'static M, handoff_now: bool) {
    let gp = m.curg.load(Relaxed);
    // SAFETY: the running G is alive.
    unsafe { (*gp).status.store(BLOCKING, Release) };
    // A slice is open only while a trace runs (rt::trace).
    if m.trace_start.load(Relaxed) != 0 {
        // SAFETY: the running G is alive.
        trace::blocking_enter(m, unsafe { &*gp });
    }
    // A P section (rt::hog): the P may have been taken from this goroutine while it ran user
    // code, in which case there is nothing to leave behind and `exit` finds a P.
    let (pp, prev) = super::hog::enter(m);
    let Some(p) = pp else {
        m.oldp.store(null_mut(), Relaxed);
        super::hog::exit(m, prev);
        return;
    };
    let pp = p as *const P as *mut P;
    // `p` and `oldp` are written only by this M's own thread: plain loads and stores.
    m.p.store(null_mut(), Relaxed);
    // Only the holder of the P writes it; sysmon reads it.
    p.blocktick
        .store(p.blocktick.load(Relaxed).wrapping_add(1), Relaxed);
    m.oldp.store(pp, Relaxed);
    p.status.store(P_BLOCKING, Release);
    super::hog::exit(m, prev);
    if handoff_now {
        m.oldp.store(null_mut(), Relaxed);
        release_own(m, p);
    }
}

/// Sysmon: takes a P away from the M in a blocking call on it and hands it off. Returns false
/// if the M is taking it back (or already has).
pub(crate) fn retake(p: &'static P) -> bool {
    if !try_retake(p) {
        return false;
    }
    if super::trace::ON.load(Relaxed) {
        super::trace::handoff(p, false);
    }
    super::schedule::needing_thread_for(
        "the processor of a blocking call (gort::blocking, ffi::call, gort::fs, DNS), whose \
         thread stays blocked",
        || handoffp(p),
    );
    true
}

/// The handshake half of `retake` (see the module doc): on success `p` is idle and owned by
/// the caller.
fn try_retake(p: &P) -> bool {
    if p.status
        .compare_exchange(P_BLOCKING, P_RETAKING, AcqRel, Relaxed)
        .is_err()
    {
        return false;
    }
    let mp = p.m.load(Acquire);
    super::hog::taker_barrier();
    let reclaiming = m_ref(mp).is_some_and(|m| m.reclaiming.load(Acquire));
    // The M may have stored `P_RUNNING` over the mark after it saw `P_BLOCKING`: both outcomes
    // are CASes from the mark, and a failed one leaves the M's state alone.
    if reclaiming {
        let _ = p
            .status
            .compare_exchange(P_RETAKING, P_BLOCKING, AcqRel, Relaxed);
        return false;
    }
    // From now on the call is timed exactly (rt::metrics): stamped before the P is released,
    // so that the M, which leaves `reclaim` only once it sees the verdict, reads the stamp.
    let m = m_ref(mp);
    if let Some(m) = m {
        m.retaken_at.store(crate::sys::nanotime(), Relaxed);
    }
    if p.status
        .compare_exchange(P_RETAKING, P_IDLE, AcqRel, Relaxed)
        .is_err()
    {
        if let Some(m) = m {
            m.retaken_at.store(0, Relaxed);
        }
        return false;
    }
    p.m.store(null_mut(), Relaxed);
    true
}

/// The M in a blocking call on `p` gives it up now, for another M to run its goroutines (a
/// thread-mode park, a yield of a pinned goroutine, an exiting foreign thread). The caller has
/// cleared its `oldp`. Only if `p` is still in this M's call: sysmon may have retaken it
/// meanwhile and handed it to another M, which may be in a blocking call of its own on it now.
pub(crate) fn release_own(m: &M, p: &'static P) {
    let ours = if_still_ours(m, p, || {
        store_over_mark(p, P_IDLE);
        p.m.store(null_mut(), Relaxed);
    });
    if ours {
        handoffp(p);
    }
}

/// The M's half of the handshake: takes back `oldp` if it is still in this M's blocking call,
/// with plain stores. Returns false if sysmon retook it.
fn reclaim(m: &M, oldp: &P) -> bool {
    if_still_ours(m, oldp, || store_over_mark(oldp, P_RUNNING))
}

/// Runs `then` if `oldp` is still in this M's blocking call, with sysmon's retake held off
/// meanwhile (`M::reclaiming`, see the module doc); returns whether it ran.
fn if_still_ours(m: &M, oldp: &P, then: impl FnOnce()) -> bool {
    m.reclaiming.store(true, Relaxed);
    super::hog::owner_barrier();
    let mut st = oldp.status.load(Acquire);
    while st == P_RETAKING {
        spin_loop();
        st = oldp.status.load(Acquire);
    }
    // `P::m` tells this M's blocking call from another M's on a P that was retaken meanwhile:
    // only this M stores itself there, and it is here.
    let ours = st == P_BLOCKING && std::ptr::eq(oldp.m.load(Acquire), m);
    if ours {
        then();
    }
    m.reclaiming.store(false, Release);
    ours
}

/// Moves a P out of this M's blocking call with a plain store (under `if_still_ours`): sysmon
/// may mark it meanwhile, but then sees the M's flag and puts its mark back with a CAS, which
/// fails once this store has landed.
fn store_over_mark(p: &P, status: u32) {
    #[cfg(not(loom))]
    p.status.store(status, Release);
    // loom lets a plain store land between the read and the write of sysmon's CAS
    // (tokio-rs/loom#254), which C11's RMW atomicity forbids; a swap is ordered the same way
    // here and loom models it correctly.
    #[cfg(loom)]
    p.status.swap(status, Release);
}

/// Go's stoplockedm: the locked goroutine `g` of `m` is queued (with `locked_m` set) or will be
/// when readied; sleep until the scheduler that picks it hands this M its P (`start_locked_m`),
/// then take the P and start a new time slice. We are not on the idle list.
pub(crate) fn stop_locked_m(m: &M, g: &G) {
    let pp = loop {
        m.note.sleep_until(-1);
        m.note.clear();
        let pp = m.nextp.swap(null_mut(), Acquire);
        if !pp.is_null() {
            break pp;
        }
    };
    g.locked_m.store(null_mut(), Relaxed);
    let p = p_ref(pp).expect("handed a P");
    acquirep(m, p);
    super::schedule::start_slice(p, false);
}

/// Go's exitsyscall: on return the caller runs with a P again, possibly on another M. Returns
/// the M it runs on.
pub(crate) fn exit(m: &'static M) -> &'static M {
    let mp = m as *const M as *mut M;
    let gp = m.curg.load(Relaxed);
    // SAFETY: the running G is alive.
    let g = unsafe { &*gp };
    let oldp = m.oldp.load(Relaxed);
    m.oldp.store(null_mut(), Relaxed);
    // In the runtime while we take a P: sysmon must not see a P we own with a stale switch
    // count and take it for a hog's (rt::hog). The count moves: a blocking call is a runtime
    // call, and the goroutine gets a fresh window.
    // Only this thread writes `in_rt`: a plain load and store, no locked instruction. The CAS
    // that takes the P back below orders the store before sysmon can see the P running.
    let prev = m.in_rt.load(Relaxed);
    m.in_rt.store(true, Relaxed);
    // Fast path: our P is still waiting for us.
    if let Some(p) = p_ref(oldp).filter(|p| reclaim(m, p)) {
        m.p.store(oldp, Relaxed);
        count_switch(p);
        g.status.store(RUNNING, Release);
        if m.trace_block.get() != 0 {
            trace::blocking_exit(m, g, Some(p));
        }
        super::hog::exit(m, prev);
        return m;
    }
    super::metrics::retaken_call_ended(m);
    // Any idle P; if none, queue the G (atomically with the check, so a P freed meanwhile
    // sees it).
    let mut l = global::lock();
    if let Some(p) = l.pidle_get() {
        drop(l);
        acquirep(m, p);
        count_switch(p);
        g.status.store(RUNNING, Release);
        if m.trace_block.get() != 0 {
            trace::blocking_exit(m, g, Some(p));
        }
        super::hog::exit(m, prev);
        return m;
    }
    if g.must_block_thread() {
        g.locked_m.store(mp, Release);
        g.status.store(RUNNABLE, Release);
        l.runq_put(gp);
        drop(l);
        let traced = m.trace_block.get() != 0;
        if traced {
            trace::blocking_exit(m, g, None);
        }
        stop_locked_m(m, g);
        g.status.store(RUNNING, Release);
        if traced {
            trace::slice_start(m, m.p().expect("a locked M is handed a P"));
        }
        super::hog::exit(m, prev);
        return m;
    }
    drop(l);
    if m.trace_block.get() != 0 {
        trace::blocking_exit(m, g, None);
    }
    switch_to_scheduler(m, gp, Request::ExitBlocking)
}

/// Counts a switch on `p` (owned by the caller): sysmon measures hogs by this count.
fn count_switch(p: &P) {
    p.switchtick
        .store(p.switchtick.load(Relaxed).wrapping_add(1), Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P that sysmon retook and handed to another M, which is now in a blocking call on it,
    /// is not the first M's to take back, though its status says `P_BLOCKING`.
    #[test]
    fn an_m_does_not_take_back_another_ms_blocking_p() {
        let p = P::new(0);
        let (m1, m2) = (M::new(), M::new());
        p.m.store(&m2 as *const M as *mut M, Relaxed);
        p.status.store(P_BLOCKING, Relaxed);
        assert!(!reclaim(&m1, &p));
        assert_eq!(p.status.load(Relaxed), P_BLOCKING);
        assert!(reclaim(&m2, &p));
        assert_eq!(p.status.load(Relaxed), P_RUNNING);
        assert!(!m2.reclaiming.load(Relaxed));
    }
}

/// Model check (run with `--cfg loom`, see util::loom; the membarrier is modelled by its
/// fallback, a full fence on both sides).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// An M returning from a blocking call races sysmon retaking its P: exactly one of them ends
    /// up with it, the P's state agrees, and their uses of it are ordered (no data race).
    #[test]
    fn loom_return_from_a_blocking_call_and_retake_never_share_the_p() {
        loom::model(|| {
            let p = Arc::new(P::new(0));
            let m = Arc::new(M::new());
            p.m.store(&*m as *const M as *mut M, Relaxed);
            p.status.store(P_BLOCKING, Relaxed);
            let state = Arc::new(UnsafeCell::new(0u32));
            let (p2, state2) = (p.clone(), state.clone());
            let sysmon = loom::thread::spawn(move || {
                let took = try_retake(&p2);
                if took {
                    // SAFETY: loom checks that this access is ordered with the other one.
                    state2.with_mut(|v| unsafe { *v += 1 });
                }
                took
            });
            let kept = reclaim(&m, &p);
            if kept {
                // SAFETY: as above.
                state.with_mut(|v| unsafe { *v += 1 });
            }
            let took = sysmon.join().unwrap();
            let st = p.status.load(Acquire);
            match (kept, took) {
                (true, false) => assert_eq!(st, P_RUNNING),
                (false, true) => assert_eq!(st, P_IDLE),
                other => panic!("kept/took {other:?} with status {st}"),
            }
        });
    }

    /// An M giving up the P of its blocking call (`release_own`) races sysmon retaking it and
    /// handing it to another M, which enters a blocking call of its own on it: the first M
    /// gives it up only if it was still its own, never the second M's.
    #[test]
    fn loom_giving_up_a_p_never_takes_it_from_the_m_it_was_handed_to() {
        loom::model(|| {
            let p = Arc::new(P::new(0));
            let (m1, m2) = (Arc::new(M::new()), Arc::new(M::new()));
            let m2_ptr = &*m2 as *const M as *mut M;
            p.m.store(&*m1 as *const M as *mut M, Relaxed);
            p.status.store(P_BLOCKING, Relaxed);
            let p2 = p.clone();
            let sysmon = loom::thread::spawn(move || {
                let took = try_retake(&p2);
                if took {
                    // Handed to the second M, which enters a blocking call on it.
                    p2.m.store(m2_ptr, Relaxed);
                    p2.status.store(P_BLOCKING, Release);
                }
                took
            });
            let gave_up = if_still_ours(&m1, &p, || {
                store_over_mark(&p, P_IDLE);
                p.m.store(null_mut(), Relaxed);
            });
            let took = sysmon.join().unwrap();
            let st = p.status.load(Acquire);
            match (gave_up, took) {
                (true, false) => assert_eq!(st, P_IDLE),
                (false, true) => {
                    assert_eq!(st, P_BLOCKING);
                    assert_eq!(p.m.load(Relaxed), m2_ptr);
                }
                other => panic!("gave up/took {other:?} with status {st}"),
            }
            drop(m2);
        });
    }
}
