//! Blocking calls: Go's entersyscall / exitsyscall (proc.go).
//!
//! `enter` leaves the M's P in the P_BLOCKING state, still remembered as the M's `oldp`. A short
//! call gets its P back with one CAS in `exit`. If the call takes longer than a sysmon tick
//! (~20 µs), sysmon retakes the P by CAS and hands it to another M (`handoffp`), so other
//! goroutines keep running. `exit` then takes an idle P if there is one; otherwise the goroutine
//! is queued globally and the M sleeps (Go's exitsyscall0).
//!
//! A goroutine that must stay on its thread (locked, or unwinding) waits for a P to be handed to
//! its M instead: it is queued with `locked_m` set, and the scheduler that picks it hands its own
//! P to this M (Go's startlockedm).

use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use super::g::{BLOCKING, G, RUNNABLE, RUNNING};
use super::global::{self, acquirep, handoffp};
use super::m::{M, Request};
use super::p::{P, P_BLOCKING, P_IDLE, P_RUNNING, p_ref};
use super::park::switch_to_scheduler;

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
    p.m.store(null_mut(), Relaxed);
    p.status.store(P_BLOCKING, Release);
    super::hog::exit(m, prev);
    if handoff_now {
        retake(p);
    }
}

/// Takes a P away from an M in a blocking call and hands it off. Returns false if the M got
/// it back first. Called by sysmon, and by `enter` with `handoff_now`.
pub(crate) fn retake(p: &P) -> bool {
    if p.status
        .compare_exchange(P_BLOCKING, P_IDLE, AcqRel, Relaxed)
        .is_err()
    {
        return false;
    }
    handoffp(p as *const P as *mut P);
    true
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
    if !oldp.is_null()
        // SAFETY: Ps are never freed.
        && unsafe { &*oldp }
            .status
            .compare_exchange(P_BLOCKING, P_RUNNING, AcqRel, Relaxed)
            .is_ok()
    {
        m.p.store(oldp, Relaxed);
        // SAFETY: as above.
        let p = unsafe { &*oldp };
        p.m.store(mp, Relaxed);
        count_switch(p);
        g.status.store(RUNNING, Release);
        super::hog::exit(m, prev);
        return m;
    }
    // Any idle P; if none, queue the G (atomically with the check, so a P freed meanwhile
    // sees it).
    let mut l = global::lock();
    if let Some(p) = p_ref(l.pidle_get()) {
        drop(l);
        acquirep(m, p);
        count_switch(p);
        g.status.store(RUNNING, Release);
        super::hog::exit(m, prev);
        return m;
    }
    if g.must_block_thread() {
        g.locked_m.store(mp, Release);
        g.status.store(RUNNABLE, Release);
        l.runq_put(gp);
        drop(l);
        stop_locked_m(m, g);
        g.status.store(RUNNING, Release);
        super::hog::exit(m, prev);
        return m;
    }
    drop(l);
    switch_to_scheduler(m, gp, Request::ExitBlocking)
}

/// Counts a switch on `p` (owned by the caller): sysmon measures hogs by this count.
fn count_switch(p: &P) {
    p.switchtick
        .store(p.switchtick.load(Relaxed).wrapping_add(1), Relaxed);
}
