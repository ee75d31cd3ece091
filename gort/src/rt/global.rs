//! The global scheduler state (Go's `schedt`) and the M/P hand-off primitives of proc.go:
//! the global run queue, the idle P and idle M lists, `wakep`, `startm`, `handoffp`, `stopm`.
//!
//! Spinning Ms (proc.go's header essay): an M with a P but no work "spins" looking for some.
//! At most one M is woken to spin at a time (`wakep` does nothing while another spins), and the
//! last spinner to find work wakes another, so newly readied work is picked up promptly without
//! waking every idle thread. `nmspinning` counts spinners; it never exceeds half the busy Ps
//! (checked in `find_runnable`).
//!
//! Lock order: `SCHED.lock` is a leaf. It is taken with no other runtime lock held, and no lock
//! is taken while holding it (timer heap locks in particular are never held with it).

use std::collections::VecDeque;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, MutexGuard};

use super::g::G;
use super::m::{M, m_ref};
use super::p::{P, P_DEAD, P_IDLE, P_RUNNING, p_ref};
use crate::sys::nanotime;

/// Most Ps that can ever exist.
pub(crate) const MAX_P: usize = 256;

pub(crate) struct Locked {
    /// The global run queue: an array, not a list linked through the Gs, so taking a batch
    /// touches no G (each sits in its own stack slot's page: a cache and TLB miss apiece).
    /// Each G is queued with the (coarse) time it was queued at.
    runq: VecDeque<(*mut G, i64)>,
    pidle: Vec<&'static P>,
    /// Idle Ps that `set_procs` removed, taken off `pidle` and waiting for `retire_idle` to
    /// move their timers and free Gs elsewhere.
    retiring: Vec<&'static P>,
    pub(crate) midle: Vec<&'static M>,
    /// Ps taken off `pidle` so far: sysmon sleeps only after a round in which this stayed put
    /// with every P idle (rt::sysmon).
    pub(crate) pidle_gets: u64,
}

// SAFETY: the raw pointers refer to Gs, Ps and Ms, which are shared by design and never freed
// (Gs are recycled, not freed); the list itself is only touched under the mutex.
unsafe impl Send for Locked {}

pub(crate) struct Sched {
    pub(crate) lock: Mutex<Locked>,
    /// Length of the global run queue (readable without the lock).
    pub(crate) runq_size: AtomicUsize,
    /// When the head of the global run queue was queued (`i64::MAX` while it is empty).
    runq_head_since: AtomicI64,
    pub(crate) npidle: AtomicUsize,
    /// Length of `Locked::retiring`.
    pub(crate) nretiring: AtomicUsize,
    pub(crate) nmspinning: AtomicUsize,
    /// GOMAXPROCS.
    pub(crate) procs: AtomicUsize,
    pub(crate) allp: [AtomicPtr<P>; MAX_P],
    /// Slots of `allp` ever used.
    pub(crate) nallp: AtomicUsize,
    pub(crate) goid_gen: AtomicU64,
    pub(crate) mcount: AtomicUsize,
    /// Goroutines spawned from threads without a P, minus those finished without one.
    pub(crate) live_nop: AtomicI64,
    pub(crate) spawned_nop: AtomicU64,
    /// The M sleeping until the next timer, and until when.
    pub(crate) timer_waiter: AtomicPtr<M>,
    pub(crate) timer_waiter_until: AtomicI64,
    /// Ms running expired timers without a P: the goroutines those timers wake are out of every
    /// heap and not yet readied, which the deadlock detector must not take for a deadlock
    /// (Go's checkdead sees such an M as running).
    pub(crate) pless_timer_runs: AtomicUsize,
}

pub(crate) static SCHED: Sched = Sched {
    lock: Mutex::new(Locked {
        runq: VecDeque::new(),
        pidle: Vec::new(),
        retiring: Vec::new(),
        midle: Vec::new(),
        pidle_gets: 0,
    }),
    runq_size: AtomicUsize::new(0),
    runq_head_since: AtomicI64::new(i64::MAX),
    npidle: AtomicUsize::new(0),
    nretiring: AtomicUsize::new(0),
    nmspinning: AtomicUsize::new(0),
    procs: AtomicUsize::new(0),
    allp: [const { AtomicPtr::new(null_mut()) }; MAX_P],
    nallp: AtomicUsize::new(0),
    goid_gen: AtomicU64::new(0),
    mcount: AtomicUsize::new(0),
    live_nop: AtomicI64::new(0),
    spawned_nop: AtomicU64::new(0),
    timer_waiter: AtomicPtr::new(null_mut()),
    pless_timer_runs: AtomicUsize::new(0),
    timer_waiter_until: AtomicI64::new(i64::MAX),
};

pub(crate) fn lock() -> MutexGuard<'static, Locked> {
    SCHED.lock.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every P slot ever used (live or dead).
pub(crate) fn allp() -> impl Iterator<Item = &'static P> {
    let n = SCHED.nallp.load(Acquire);
    // SAFETY: slots below nallp hold Ps that are never freed.
    (0..n).filter_map(|i| unsafe { SCHED.allp[i].load(Acquire).as_ref() })
}

// ---- global run queue (Go's globrunqput / globrunqget) ----

impl Locked {
    /// Queues a goroutine made runnable without a P (woken, spawned or back from a blocking
    /// call on a P-less M): it counts as waiting from now (see `global_head_waited`).
    pub(crate) fn runq_put(&mut self, gp: *mut G) {
        self.runq.push_back((gp, super::sysmon::coarse_now()));
        SCHED.runq_size.fetch_add(1, Relaxed);
        self.head_changed();
    }

    /// Queues goroutines spilled from a full local queue. They are that P's own backlog (a
    /// spawn tree that outgrew the ring, in the order it should run), so they do not count as
    /// waiting: serving them before the local queue would break the tree's depth-first order.
    pub(crate) fn runq_put_spilled(&mut self, gs: &[*mut G]) {
        self.runq.extend(gs.iter().map(|&gp| (gp, i64::MAX)));
        SCHED.runq_size.fetch_add(gs.len(), Relaxed);
        self.head_changed();
    }

    /// Puts `gs` at the head of the global queue, in order (Go's globrunqputhead, as
    /// `p.destroy` uses it): goroutines of a retiring P have waited already, so they go before
    /// those queued since, and count as having waited long (see `global_head_waited`).
    pub(crate) fn runq_put_head(&mut self, gs: &[*mut G]) {
        for &gp in gs.iter().rev() {
            self.runq.push_front((gp, 0));
        }
        SCHED.runq_size.fetch_add(gs.len(), Relaxed);
        self.head_changed();
    }

    fn runq_pop(&mut self) -> *mut G {
        match self.runq.pop_front() {
            Some((gp, _)) => {
                SCHED.runq_size.fetch_sub(1, Relaxed);
                self.head_changed();
                gp
            }
            None => null_mut(),
        }
    }

    fn head_changed(&self) {
        let since = self.runq.front().map_or(i64::MAX, |&(_, t)| t);
        SCHED.runq_head_since.store(since, Relaxed);
    }

    /// Go's globrunqget: takes a fair share of the global queue into `pp`'s local queue and
    /// returns one G to run. `max == 0` means no limit beyond the fair share.
    pub(crate) fn runq_get(&mut self, pp: &P, max: usize) -> *mut G {
        let size = SCHED.runq_size.load(Relaxed);
        if size == 0 {
            return null_mut();
        }
        let procs = SCHED.procs.load(Relaxed).max(1);
        let mut n = size.min(size / procs + 1);
        if max > 0 {
            n = n.min(max);
        }
        n = n.min(super::runq::RUNQ_SIZE as usize / 2);
        let gp = self.runq_pop();
        for _ in 1..n {
            let g2 = self.runq_pop();
            pp.runq
                .put(g2, false, &mut |batch| self.runq_put_spilled(batch));
        }
        gp
    }

    /// Go's pidleput.
    pub(crate) fn pidle_put(&mut self, pp: &'static P) {
        release(pp);
        self.pidle.push(pp);
        SCHED.npidle.fetch_add(1, Relaxed);
    }

    /// Go's pidleget. Ps that must retire are set aside on the way (see `retire_idle`). A P
    /// leaving the idle list ends sysmon's sleep, if it sleeps: the P may run a goroutine that
    /// needs watching (Go wakes sysmon only where a goroutine leaves a system call).
    pub(crate) fn pidle_get(&mut self) -> Option<&'static P> {
        while let Some(p) = self.pidle.pop() {
            SCHED.npidle.fetch_sub(1, Relaxed);
            if p.should_retire() {
                self.retiring.push(p);
                SCHED.nretiring.fetch_add(1, Relaxed);
                continue;
            }
            self.pidle_gets += 1;
            super::sysmon::wake();
            return Some(p);
        }
        None
    }

    /// Whether every P is idle or dead with nothing queued (under the lock, where Ps enter and
    /// leave the idle list). Statuses, not `npidle` against `procs`: after `set_procs` shrinks,
    /// a P that must retire can sit in the idle list, or still run, and make the counts match
    /// while a live P runs.
    pub(crate) fn all_idle(&self) -> bool {
        SCHED.runq_size.load(SeqCst) == 0
            && allp().all(|p| matches!(p.status.load(SeqCst), P_IDLE | P_DEAD))
    }

    /// Sets aside the idle Ps that must retire (after `set_procs` shrinks).
    pub(crate) fn pidle_reap(&mut self) {
        let mut i = 0;
        while i < self.pidle.len() {
            let pp = self.pidle[i];
            if pp.should_retire() {
                self.pidle.swap_remove(i);
                SCHED.npidle.fetch_sub(1, Relaxed);
                self.retiring.push(pp);
                SCHED.nretiring.fetch_add(1, Relaxed);
            } else {
                i += 1;
            }
        }
    }
}

/// Retires the idle Ps set aside by `pidle_get`/`pidle_reap`, as `schedule::retire_p` retires
/// running ones: their timers and free Gs move elsewhere first (a dead P's timers would only
/// run when some M is idle, and its cached slots would never be reused), then they are marked
/// dead under the lock, or go back to the idle list if `set_procs` revived them meanwhile.
/// Called by sysmon and `set_procs`; taking timer locks under the scheduler lock is not
/// allowed, hence the two steps.
pub(crate) fn retire_idle() {
    if SCHED.nretiring.load(Relaxed) == 0 {
        return;
    }
    let ps = {
        let mut l = lock();
        SCHED.nretiring.store(0, Relaxed);
        std::mem::take(&mut l.retiring)
    };
    // Each of these is on no list and held by no M, so its state is ours.
    for p in ps {
        move_p_state(p);
        let mut l = lock();
        if p.should_retire() {
            p.status.store(P_DEAD, Release);
        } else {
            l.pidle_put(p);
        }
    }
}

/// Moves the timers and free Gs of a retiring P, which the caller owns, to a live P.
pub(crate) fn move_p_state(pp: &P) {
    let target = allp()
        .find(|p| !std::ptr::eq(*p, pp) && !p.should_retire() && p.status.load(Acquire) != P_DEAD);
    if let Some(t) = target {
        pp.timers.move_all_to(&t.timers);
        // The target may be idle, and the M sleeping until the next timer may be sleeping
        // until a later one (Go moves them to the P running procresize, which needs no wake).
        let when = t.timers.next_when();
        if when != i64::MAX {
            wake_timer_waiter(when);
        }
    }
    // SAFETY: the caller owns the P, and with it the cache.
    crate::stack::pool::flush_p_cache(unsafe { pp.slot_cache() });
}

/// Queues `gp` on `pp` (owned by the caller; `next`: in `runnext`); a full local queue spills
/// half of itself to the global queue.
#[inline]
pub(crate) fn runq_put(pp: &P, gp: *mut G, next: bool) {
    pp.runq
        .put(gp, next, &mut |batch| lock().runq_put_spilled(batch));
}

/// One P's share of the global run queue: its length over `procs()`, rounded up (racy).
pub(crate) fn global_share() -> usize {
    SCHED
        .runq_size
        .load(Relaxed)
        .div_ceil(SCHED.procs.load(Relaxed).max(1))
}

/// How long the head of the global run queue has waited there (negative if it is empty or
/// spilled from a local queue; racy, and as coarse as `sysmon::coarse_now`).
pub(crate) fn global_head_waited() -> i64 {
    super::sysmon::coarse_now().saturating_sub(SCHED.runq_head_since.load(Relaxed))
}

/// Whether the head of the global run queue is a goroutine waiting to run (not empty, and not
/// a backlog spilled from a local queue; racy).
pub(crate) fn global_head_waiting() -> bool {
    SCHED.runq_head_since.load(Relaxed) != i64::MAX
}

/// Puts `gp` on the global run queue.
pub(crate) fn globrunq_put(gp: *mut G) {
    lock().runq_put(gp);
}

// ---- Ms and Ps ----

/// Marks `pp` idle with no owner (the caller puts it on the idle list or hands it on).
fn release(pp: &P) {
    pp.m.store(null_mut(), Relaxed);
    pp.status.store(P_IDLE, Release);
    if super::trace::ON.load(Relaxed) {
        super::trace::proc(pp, None, false);
    }
}

/// Go's releasep: unbinds the P `mp` holds, idle and ownerless, for the caller to hand on.
pub(crate) fn releasep(mp: &M) -> &'static P {
    let pp = p_ref(mp.p.swap(null_mut(), Relaxed)).expect("releasep: the M holds a P");
    release(pp);
    pp
}

/// Go's acquirep: binds `pp` to `mp`.
pub(crate) fn acquirep(mp: &M, p: &P) {
    // Every P handed to an M is idle: taken from the idle list, handed off by `handoffp`, or
    // released for a locked M. Anything else means two Ms would run it (Go's acquirep throws).
    let st = p.status.load(Acquire);
    if st != P_IDLE {
        crate::util::fatal!("acquirep: P{} is handed over in state {st}, not idle", p.id);
    }
    super::hog::settled(mp);
    p.m.store(mp as *const M as *mut M, Relaxed);
    p.status.store(P_RUNNING, Release);
    mp.p.store(p as *const P as *mut P, Relaxed);
    if super::trace::ON.load(Relaxed) {
        super::trace::proc(p, Some(mp), true);
    }
}

/// Go's wakep: if there is an idle P and nobody is spinning, start a spinning M.
#[inline]
pub(crate) fn wakep() {
    if SCHED.npidle.load(SeqCst) != 0 {
        wakep_slow();
    }
}

#[inline(never)]
fn wakep_slow() {
    if SCHED.nmspinning.load(SeqCst) != 0
        || SCHED
            .nmspinning
            .compare_exchange(0, 1, SeqCst, Relaxed)
            .is_err()
    {
        return;
    }
    let idle = lock().pidle_get();
    let Some(p) = idle else {
        SCHED.nmspinning.fetch_sub(1, SeqCst);
        return;
    };
    startm(p, true);
}

/// Go's startm: runs `pp` on an idle M, or on a new one. With `spinning`, the caller has already
/// counted the M in `nmspinning`.
pub(crate) fn startm(p: &'static P, spinning: bool) {
    let mut l = lock();
    if let Some(m) = l.midle.pop() {
        m.spinning.store(spinning, Relaxed);
        m.nextp.store(p as *const P as *mut P, Release);
        drop(l);
        m.note.wakeup();
        return;
    }
    drop(l);
    super::schedule::newm(p, spinning);
}

/// Go's handoffp: `pp` lost its M (blocking call, or its M is stopping); give it to an M that
/// has work for it, or make it idle.
pub(crate) fn handoffp(p: &'static P) {
    if !p.runq.is_empty() || SCHED.runq_size.load(Relaxed) != 0 {
        startm(p, false);
        return;
    }
    if SCHED.nmspinning.load(SeqCst) + SCHED.npidle.load(SeqCst) == 0
        && SCHED
            .nmspinning
            .compare_exchange(0, 1, SeqCst, Relaxed)
            .is_ok()
    {
        startm(p, true);
        return;
    }
    let mut l = lock();
    if SCHED.runq_size.load(Relaxed) != 0 {
        drop(l);
        startm(p, false);
        return;
    }
    let when = p.timers.next_when();
    l.pidle_put(p);
    drop(l);
    if when != i64::MAX {
        wake_timer_waiter(when);
    }
}

/// A timer that fires at `when` was added: make sure some M will wake up for it (Go's
/// wakeNetPoller).
pub(crate) fn wake_timer_waiter(when: i64) {
    match m_ref(SCHED.timer_waiter.load(SeqCst)) {
        None => wakep(),
        Some(w) if when < SCHED.timer_waiter_until.load(SeqCst) => {
            // The waiter sleeps on its note or in the network poller: wake both ways (a
            // spurious wakeup of the other kind is harmless).
            w.note.wakeup();
            super::netpoll::wake();
        }
        Some(_) => {}
    }
}

/// Go's stopm: parks `mp` until `startm` hands it a P (returned) or `deadline` passes or the
/// timer waiter is woken (returns None). `deadline < 0` waits for a P only.
pub(crate) fn stopm(mp: &'static M, deadline: i64) -> Option<&'static P> {
    super::start::check_not_forked();
    lock().midle.push(mp);
    mp.note.sleep_until(deadline);
    let mut l = lock();
    if let Some(i) = l.midle.iter().position(|&m| std::ptr::eq(m, mp)) {
        l.midle.swap_remove(i);
        drop(l);
        mp.note.clear();
        return None;
    }
    drop(l);
    // `startm` took us off the list and set nextp under the lock; wait for its wakeup.
    mp.note.sleep_until(-1);
    mp.note.clear();
    p_ref(mp.nextp.swap(null_mut(), Acquire))
}

/// How long an M with nothing to do sleeps before it may be released.
const IDLE_M_NS: i64 = 10_000_000_000;
/// Idle Ms kept however long they sleep: the reserve that absorbs the next burst of hand-offs.
const IDLE_M_RESERVE: usize = 4;

/// How `stop_idle` ended.
pub(crate) enum Idle {
    /// `startm` handed the M a P.
    P(&'static P),
    /// Woken without a P (the caller looks for work again).
    Woken,
    /// Idle for `IDLE_M_NS` with `IDLE_M_RESERVE` other idle Ms: the M is released (its
    /// thread exits) and no longer counted.
    Release,
}

/// `stopm` for an M with nothing to do and no timer to wait for. Go keeps idle Ms for ever;
/// gort releases those beyond a small reserve after ten seconds, as tokio's blocking pool does,
/// so that a burst of blocking calls does not leave thousands of threads behind.
pub(crate) fn stop_idle(mp: &'static M) -> Idle {
    let deadline = nanotime().saturating_add(IDLE_M_NS);
    if let Some(p) = stopm(mp, deadline) {
        return Idle::P(p);
    }
    if nanotime() < deadline {
        return Idle::Woken;
    }
    // `stopm` took us off the idle list: no `startm` can pick us now.
    let l = lock();
    if l.midle.len() >= IDLE_M_RESERVE {
        SCHED.mcount.fetch_sub(1, Relaxed);
        return Idle::Release;
    }
    Idle::Woken
}

/// The earliest timer across all Ps.
pub(crate) fn earliest_timer() -> i64 {
    allp()
        .map(|p| p.timers.next_when())
        .min()
        .unwrap_or(i64::MAX)
}

/// Runs every expired timer of every P. Readied Gs go to the calling M's P, or to the global
/// queue from an M without one. Returns how many ran.
pub(crate) fn run_all_timers(now: i64) -> usize {
    allp().map(|p| p.timers.run_expired(now)).sum()
}
