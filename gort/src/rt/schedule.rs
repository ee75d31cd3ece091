//! The scheduler loop each M runs on its g0 stack (Go's `schedule`, `findRunnable`,
//! `stealWork`, `execute`, and the g0 halves of `park_m`, `gosched_m`, `goexit0`,
//! `exitsyscall0`).
//!
//! Search order in `find_runnable` (proc.go): expired timers of our P → `runnext` (unless the
//! time slice ran out) → for a new slice, the local queue's head or the global queue, whichever
//! is due (`new_slice`; Go looks at the global queue first only every 61st slice) → steal from
//! other Ps (four rounds in random order; the last round also takes `runnext` and runs other Ps'
//! timers) → give up the P, re-check everything once more, and sleep. The one M that sleeps with
//! a deadline sleeps until the earliest timer (there is no timer thread). Woken, it takes an idle
//! P before it runs the timers or queues what its poll found, as Go does, so that a wake-up from
//! idle costs one thread wake-up, not two.

use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use super::g::{G, RUNNABLE, RUNNING, WAITING};
use super::global::{self, Idle, SCHED, acquirep, lock, stopm, wakep};
use super::m::{M, Request, m_ref, set_current_m};
use super::p::{P, P_DEAD, P_IDLE, P_RUNNING, p_ref};
use super::trace;
use crate::arch;
use crate::sys::nanotime;
use crate::util::fatal;

/// Stack size of M threads: their own stack is the system stack C code runs on.
const M_STACK_SIZE: usize = 8 << 20;

/// Most M threads the runtime may start (Go's debug.SetMaxThreads; default 10,000).
pub(crate) static MAX_THREADS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(10_000);

std::thread_local! {
    /// Why this thread may start an M now, for the thread-exhaustion report (set around
    /// hand-offs by `needing_thread_for`).
    static WHY: std::cell::Cell<&'static str> =
        const { std::cell::Cell::new("waking a processor for runnable goroutines") };
}

/// Runs `f`, which may start an M, with `why` as the reason a thread-exhaustion report gives.
pub(crate) fn needing_thread_for<R>(why: &'static str, f: impl FnOnce() -> R) -> R {
    let old = WHY.replace(why);
    let r = f();
    WHY.set(old);
    r
}

/// The most Ms that existed at once.
pub(crate) static M_PEAK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
/// Numbers the M threads' names (`gort-mN`); never reused, unlike the count.
static M_NAMES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Go's newm: starts an OS thread for a new M that will run `pp`.
pub(crate) fn newm(p: &'static P, spinning: bool) {
    let count = SCHED.mcount.fetch_add(1, Relaxed) + 1;
    let limit = MAX_THREADS.load(Relaxed);
    if count > limit {
        let why = WHY.get();
        crate::util::fatal::fatal_exit(&format!(
            "thread exhaustion: the program exceeds its {limit}-thread limit, starting a thread \
             for {why} (raise the limit with gort::runtime::set_max_threads; each goroutine \
             that blocks its thread or runs without calling the runtime holds one)"
        ));
    }
    M_PEAK.fetch_max(count, Relaxed);
    let id = M_NAMES.fetch_add(1, Relaxed) + 1;
    let reused = RELEASED_MS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mp: &'static M = reused.unwrap_or_else(|| {
        let m = Box::leak(Box::new(M::new()));
        super::m::register(m);
        m
    });
    mp.id.store(id, Relaxed);
    mp.spinning.store(spinning, Relaxed);
    mp.nextp.store(p as *const P as *mut P, Relaxed);
    let addr = mp as *const M as usize;
    let res = std::thread::Builder::new()
        .name(format!("gort-m{id}"))
        .stack_size(M_STACK_SIZE)
        .spawn(move || m_main(addr as *mut M));
    if let Err(e) = res {
        crate::util::fatal::fatal_exit(&format!(
            "newm: cannot create an OS thread for the scheduler: {e}"
        ));
    }
}

/// Body of every M thread. It returns (and the thread exits) when the M has been idle long
/// enough to be released (`global::stop_idle`).
fn m_main(mp: *mut M) {
    set_current_m(mp);
    crate::stack::overflow::on_thread_start();
    let m = m_ref(mp).expect("an M thread starts with its M");
    let p = p_ref(m.nextp.swap(null_mut(), Acquire)).expect("an M starts with a P");
    acquirep(m, p);
    schedule(m);
    // Released: nothing refers to this M any more but never-freed pointers that are not
    // followed (a parked G's last M). It holds no P, runs no G, is on no list, and its note is
    // clear: as a new M is. The next `newm` gives it a new thread.
    crate::stack::overflow::on_thread_exit();
    set_current_m(null_mut());
    m.in_rt.store(true, Relaxed);
    RELEASED_MS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(m);
}

/// Ms whose threads exited (`global::stop_idle`), for `newm` to reuse: Ms are never freed.
static RELEASED_MS: std::sync::Mutex<Vec<&'static M>> = std::sync::Mutex::new(Vec::new());

/// The scheduler loop. Returns only when the M is released for being idle.
pub(crate) fn schedule(mp: &'static M) {
    // Dropped by a panic unwinding out of the loop (a timer callback or a park commit that
    // panicked), or when the M is released, which disarms it first.
    let guard = crate::util::fatal::AbortOnUnwind("the scheduler loop");
    loop {
        let pp = match mp.p() {
            Some(p) => p,
            None => {
                // A clock reading left by the last switch goes stale while this M waits.
                mp.now.set(0);
                match get_p(mp) {
                    Some(p) => p,
                    None => break,
                }
            }
        };
        if pp.should_retire() {
            retire_p(mp, pp);
            continue;
        }
        let Some((gp, inherit)) = find_runnable(mp) else {
            break;
        };
        if mp.spinning.load(Relaxed) {
            reset_spinning(mp);
        }
        // SAFETY: Gs are never freed.
        let g = unsafe { &*gp };
        let locked = g.locked_m.load(Acquire);
        if !locked.is_null() && !std::ptr::eq(locked, mp) {
            start_locked_m(mp, locked);
            continue;
        }
        let mut next = Some((gp, inherit));
        while let Some((gp, inherit)) = next {
            next = execute(mp, gp, inherit);
        }
        if mp.exit_thread.replace(false) {
            end_thread(mp);
            break;
        }
    }
    std::mem::forget(guard);
}

/// Go's mexit after a goroutine exited locked to this M: hands the M's P (if sysmon has not
/// taken it) to another M and stops counting this one; `m_main` then ends the thread.
fn end_thread(mp: &M) {
    // A P that sysmon took from the goroutine (it ran a whole slice locked) is settled here, as
    // `get_p` would settle it; and the M stops counting before a hand-off may start another.
    super::hog::settled(mp);
    SCHED.mcount.fetch_sub(1, Relaxed);
    if let Some(p) = p_ref(mp.p.swap(null_mut(), Relaxed)) {
        let preempted = mp.preempted.replace(null_mut());
        if !preempted.is_null() {
            global::runq_put(p, preempted, false);
        }
        p.m.store(null_mut(), Relaxed);
        p.status.store(P_IDLE, Release);
        global::handoffp(p);
    }
}

/// Blocks until this P-less M gets a P; None if it is released instead.
fn get_p(mp: &'static M) -> Option<&'static P> {
    super::hog::settled(mp);
    loop {
        // Two statements: the scheduler lock's guard must be gone before `stop_idle` takes it.
        let idle = lock().pidle_get();
        let p = match idle {
            Some(p) => p,
            None => match global::stop_idle(mp) {
                Idle::P(p) => p,
                Idle::Woken => continue,
                Idle::Release => return None,
            },
        };
        acquirep(mp, p);
        return Some(p);
    }
}

/// Go's startlockedm: `gp` must run on the M it is locked to; hand that M our P and stop.
///
/// The P is released first (Go's releasep): idle, with no owner, though on no idle list. While
/// the locked M wakes, this M goes on to other Ps and runs user code; a P still marked running
/// and owned by it would look to sysmon like a hog's, be taken and handed to a third M, and
/// then be run by two Ms at once, losing goroutines from its queue.
fn start_locked_m(mp: &M, locked: *mut M) {
    let pp = global::releasep(mp);
    // The locked M sleeps in `blocking::stop_locked_m` (from `blocking::exit` or a thread-mode
    // park) with its G queued; it is not on the idle list.
    let lm = m_ref(locked).expect("a locked goroutine names its M");
    lm.nextp.store(pp as *const P as *mut P, Release);
    lm.note.wakeup();
}

/// Moves everything a retiring P owns elsewhere and marks it dead (`set_procs` shrank). If
/// `set_procs` revived it meanwhile, keeps running it instead: the final decision is taken
/// under the scheduler lock, where `set_procs` revives dead Ps, so no P is lost between them.
fn retire_p(mp: &M, pp: &P) {
    // The queue goes to the head of the global queue, in order, as Go's p.destroy moves it;
    // then a goroutine preempted just before (see `find_runnable`), which must not wait in
    // this M (it may now sleep without a P).
    let mut gs = Vec::with_capacity(pp.runq.len() + 1);
    pp.runq.drain(&mut |gp| gs.push(gp));
    let preempted = mp.preempted.replace(null_mut());
    if !preempted.is_null() {
        gs.push(preempted);
    }
    lock().runq_put_head(&gs);
    global::move_p_state(pp);
    let l = lock();
    if !pp.should_retire() {
        return;
    }
    pp.m.store(null_mut(), Relaxed);
    pp.status.store(P_DEAD, Release);
    drop(l);
    mp.p.store(null_mut(), Relaxed);
    if mp.spinning.swap(false, Relaxed) {
        SCHED.nmspinning.fetch_sub(1, SeqCst);
    }
    if SCHED.runq_size.load(Relaxed) != 0 {
        wakep();
    }
}

fn reset_spinning(mp: &M) {
    mp.spinning.store(false, Relaxed);
    let prev = SCHED.nmspinning.fetch_sub(1, SeqCst);
    if prev == 0 {
        fatal!("reset_spinning: negative nmspinning");
    }
    // The last spinner found work: wake another in case there is more (proc.go's policy).
    wakep();
}

/// Queues a goroutine whose slice ran out (`M::preempted`) at the back of the local queue, and
/// wakes an idle P to steal it if there is one (Go's goschedImpl calls wakep too).
fn requeue(pp: &P, preempted: *mut G) {
    if !preempted.is_null() {
        super::global::runq_put(pp, preempted, false);
        wakep();
    }
}

/// How long a goroutine made runnable off any P may wait at the head of the global queue
/// before every new slice serves it first: one full time slice.
const GLOBAL_WAIT_NS: i64 = 10_000_000;

/// The goroutine that starts a new slice on `pp`: the head of the local queue, or one from the
/// global queue. The global queue goes first on every 61st slice (Go's rule); whenever its head
/// was made runnable off any P (a timer run by the M sleeping for timers, a wake-up from a
/// plain thread) and has waited `GLOBAL_WAIT_NS` (Go readies most of these into a local
/// `runnext`; here, with slices of a millisecond, the 61st-slice rule alone kept them 60 ms);
/// and when the slice before ran out: then every fourth time, and whenever this P's share of
/// the global queue is at least as long as the local queue (after `set_procs` drained retiring
/// Ps into it, or behind a spawn chain, Go's rule alone lets each goroutine there wait 61
/// slices). So one round of both queues takes about as many slices as they hold goroutines, and
/// sysmon shortens slices as the queues grow (rt::sysmon). Goroutines spilled from a full local
/// queue never count as waiting, and slices that did not run out keep Go's order for them:
/// serving them first breaks the depth-first order of spawn trees that overflow the local
/// queue (skynet ran 3-4× slower). Null if both queues are empty.
fn new_slice(pp: &P, expired: bool) -> *mut G {
    let global = SCHED.runq_size.load(Relaxed);
    if global > 0 {
        let mut global_first = global_turn(pp);
        if expired {
            let t = pp.fair_tick.load(Relaxed);
            pp.fair_tick.store(t.wrapping_add(1), Relaxed);
            global_first |= t.is_multiple_of(4) || global::global_share() >= pp.runq.len();
        }
        if global_first {
            let gp = lock().runq_get(pp, 1);
            if !gp.is_null() {
                return gp;
            }
        }
    }
    if let Some(gp) = pp.runq.get_ring() {
        return gp;
    }
    if SCHED.runq_size.load(Relaxed) > 0 {
        return lock().runq_get(pp, 0);
    }
    null_mut()
}

/// Whether the global queue (when not empty) is served before the local one by a new slice that
/// follows one that did not run out (`new_slice`, and the direct switch's `queued`): on every
/// 61st slice, or when its head has waited too long.
#[inline(never)]
pub(crate) fn global_turn(pp: &P) -> bool {
    pp.schedtick.load(Relaxed).is_multiple_of(61) || global::global_head_waited() >= GLOBAL_WAIT_NS
}

/// Go's findRunnable. Returns a runnable G and whether it inherits the current time slice.
/// May give up the P and sleep; on return `mp` holds a P.
fn find_runnable(mp: &'static M) -> Option<(*mut G, bool)> {
    'top: loop {
        let pp = mp.p().expect("find_runnable runs with a P");
        // Reading the clock costs more than the rest of a context switch: only when a timer
        // exists here, and not again if the goroutine that switched here just did (M::now,
        // taken on every pass: a later pass may come after this M slept).
        let hint = mp.now.replace(0);
        if pp.timers.next_when() != i64::MAX {
            let now = if hint == 0 { nanotime() } else { hint };
            pp.timers.run_expired(now);
        }

        // A slice that ran out (sysmon's flag, inherited along runnext hand-offs) ends here:
        // the goroutine in runnext joins the back of the local queue, so a spawn chain or a
        // ping-pong pair that keeps handing the slice on cannot keep the P. The goroutine whose
        // slice ran out joins the back of the local queue too, but only after the next one is
        // chosen, so that it does not win the P back at once.
        let expired = pp.preempt.load(Relaxed);
        let preempted = mp.preempted.replace(null_mut());
        if let Some(next) = pp.runq.take_next() {
            if !expired {
                requeue(pp, preempted);
                return Some((next, true));
            }
            super::global::runq_put(pp, next, false);
        }
        let gp = new_slice(pp, expired);
        if !gp.is_null() {
            requeue(pp, preempted);
            return Some((gp, false));
        }
        if !preempted.is_null() {
            return Some((preempted, false));
        }

        // Network: a non-blocking poll of this P's shards, and of stale ones (Go: before
        // stealing).
        if super::netpoll::has_waiters() && super::netpoll::poll_shards(pp.id, false) > 0 {
            continue 'top;
        }

        // Steal, if spinning is worthwhile: at most half the busy Ps spin.
        let procs = SCHED.procs.load(Relaxed);
        let busy = procs.saturating_sub(SCHED.npidle.load(SeqCst));
        if mp.spinning.load(Relaxed) || 2 * SCHED.nmspinning.load(SeqCst) < busy {
            if !mp.spinning.load(Relaxed) {
                mp.spinning.store(true, Relaxed);
                SCHED.nmspinning.fetch_add(1, SeqCst);
            }
            if let Some(gp) = steal_work(pp) {
                return Some((gp, false));
            }
        }
        // Nothing to steal: the other Ps' shards, whose owners may be busy.
        if super::netpoll::has_waiters() && super::netpoll::poll_shards(pp.id, true) > 0 {
            continue 'top;
        }

        // Nothing to run: help a burst of spawns by carving stack slots for it
        // (stack::pool::help_wanted), then look for work again; not on a P that `set_procs`
        // removed, which must retire. A spinning M stops spinning first, as one that found
        // work does: while it carves, another may steal.
        let help = crate::stack::pool::help_wanted();
        if help > 0 && !pp.should_retire() {
            if mp.spinning.load(Relaxed) {
                reset_spinning(mp);
            }
            crate::stack::pool::help_carve(help);
            continue 'top;
        }

        // Nothing to do: give up the P. Its cached slots go back to the pool first, where the
        // scavenger returns the memory of those that stay unused: a P that stays idle after a
        // burst would otherwise keep up to `GFREE_MAX` deep stacks committed for good. (Go
        // frees a stack that grew when its goroutine exits; ours never move, so a cached slot
        // keeps whatever its last goroutine touched.)
        // SAFETY: this M owns `pp`.
        let cache = unsafe { pp.slot_cache() };
        if !cache.is_empty() {
            crate::stack::pool::flush_p_cache(cache);
        }
        let mut l = lock();
        if SCHED.runq_size.load(Relaxed) > 0 {
            let gp = l.runq_get(pp, 0);
            return Some((gp, false));
        }
        mp.p.store(null_mut(), Relaxed);
        l.pidle_put(pp);
        drop(l);

        let was_spinning = mp.spinning.swap(false, Relaxed);
        if was_spinning {
            SCHED.nmspinning.fetch_sub(1, SeqCst);
            // Re-check after dropping the spinning count (the "delicate dance" in proc.go):
            // work queued meanwhile by someone who saw us spinning and so did not wake anyone.
            let has_work = SCHED.runq_size.load(SeqCst) > 0
                || global::allp().any(|p| p.status.load(Relaxed) != P_DEAD && !p.runq.is_empty());
            let idle = if has_work { lock().pidle_get() } else { None };
            if let Some(p2) = idle {
                acquirep(mp, p2);
                mp.spinning.store(true, Relaxed);
                SCHED.nmspinning.fetch_add(1, SeqCst);
                continue 'top;
            }
        }

        // Sleep: until handed a P, or until the earliest timer if we are the timer waiter.
        // The timer waiter sleeps in the network poller when goroutines wait for I/O.
        loop {
            let poll = super::netpoll::has_waiters();
            let wait = become_timer_waiter(mp, poll);
            let mut io = 0;
            let pp2 = match wait {
                TimerWait::PollForever => {
                    io = super::netpoll::poll(-1);
                    None
                }
                TimerWait::Until(deadline) if poll => {
                    io = super::netpoll::poll((deadline - nanotime()).max(0));
                    None
                }
                TimerWait::Until(deadline) => stopm(mp, deadline),
                TimerWait::NotWaiter => match global::stop_idle(mp) {
                    Idle::P(p) => Some(p),
                    Idle::Woken => None,
                    Idle::Release => return None,
                },
            };
            if wait != TimerWait::NotWaiter {
                SCHED.timer_waiter.store(null_mut(), SeqCst);
                SCHED.timer_waiter_until.store(i64::MAX, SeqCst);
            }
            if let Some(p2) = pp2 {
                acquirep(mp, p2);
                continue 'top;
            }
            // Woken for timers or I/O: take an idle P first and run the timers with it, so that
            // the readied goroutines land in its queue (Go's findRunnable, which runs timers
            // only with a P). Run without a P, each would go to the global queue and wake
            // another M for the P this one is about to take. The poll queued its goroutines
            // globally without waking anyone (Go's netpoll returns a list for the same reason):
            // this M runs one, and wakes an M for the rest (Go's injectglist).
            let idle = lock().pidle_get();
            if let Some(p2) = idle {
                acquirep(mp, p2);
                global::run_all_timers(nanotime());
                if io > 1 {
                    wakep();
                }
                continue 'top;
            }
            // No idle P a moment ago. Most Ps that go idle look at the global queue first, but a
            // retiring P that `set_procs` kept returns to the idle list without looking
            // (`retire_idle`); with no idle P this is one load.
            if io > 0 {
                wakep();
            }
            // Rare (every P was busy a moment ago), so a shared counter costs nothing here.
            SCHED.pless_timer_runs.fetch_add(1, SeqCst);
            global::run_all_timers(nanotime());
            SCHED.pless_timer_runs.fetch_sub(1, SeqCst);
            if poll {
                // Every P is busy: they poll without blocking as they schedule (and sysmon
                // polls every 10 ms), so stop here rather than block in epoll again and be
                // woken for each event (Go's findRunnable: netpoll, then stopm).
                match global::stop_idle(mp) {
                    Idle::P(p2) => {
                        acquirep(mp, p2);
                        continue 'top;
                    }
                    Idle::Woken => {}
                    Idle::Release => return None,
                }
            }
        }
    }
}

/// What an M with nothing to run sleeps for (`become_timer_waiter`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum TimerWait {
    /// Another M waits for the timers (or there are none): sleep until handed a P.
    NotWaiter,
    /// This M is the timer waiter: sleep until this nanotime (in the network poller if there
    /// are I/O waiters).
    Until(i64),
    /// This M waits in the network poller with no timer to wake it.
    PollForever,
}

/// Registers `mp` as the M that sleeps until the earliest timer (in the network poller if
/// `poll`), if there is a timer (or I/O waiter) and no other waiter.
fn become_timer_waiter(mp: &M, poll: bool) -> TimerWait {
    let me = mp as *const M as *mut M;
    loop {
        let next = global::earliest_timer();
        if next == i64::MAX && !poll {
            return TimerWait::NotWaiter;
        }
        if SCHED
            .timer_waiter
            .compare_exchange(null_mut(), me, SeqCst, SeqCst)
            .is_err()
        {
            return TimerWait::NotWaiter;
        }
        SCHED.timer_waiter_until.store(next, SeqCst);
        // A timer added before we published ourselves saw no waiter; re-check.
        if global::earliest_timer() >= next {
            return if next == i64::MAX {
                TimerWait::PollForever
            } else {
                TimerWait::Until(next)
            };
        }
        SCHED.timer_waiter.store(null_mut(), SeqCst);
    }
}

/// Go's stealWork: four rounds over all Ps in random order.
fn steal_work(pp: &P) -> Option<*mut G> {
    let now = nanotime();
    let n = SCHED.nallp.load(Acquire);
    for round in 0..4 {
        let last = round == 3;
        let start = crate::util::rand::below(n as u32) as usize;
        for k in 0..n {
            let Some(p2) = p_ref(SCHED.allp[(start + k) % n].load(Acquire)) else {
                continue;
            };
            if std::ptr::eq(p2, pp) || p2.status.load(Relaxed) == P_DEAD {
                continue;
            }
            if last && p2.timers.run_expired(now) > 0 {
                // Readied Gs landed in our own queue.
                if let Some((gp, _)) = pp.runq.get() {
                    return Some(gp);
                }
            }
            if p2.runq.is_empty() {
                continue;
            }
            if last && p2.status.load(Relaxed) == P_RUNNING && p2.runq.only_next() {
                // Go's runqgrab: the G in a running P's runnext was most likely just readied
                // by the goroutine running there, which is about to block and run it (a
                // ping-pong). Give the owner a moment instead of moving the pair apart.
                std::thread::sleep(std::time::Duration::from_micros(3));
            }
            if let Some(gp) = pp.runq.steal_from(&p2.runq, last) {
                return Some(gp);
            }
        }
    }
    None
}

/// Bookkeeping for a goroutine starting to run on `pp`, which sysmon reads to find hogs: a
/// switch, and unless `inherit`, a new time slice that answers an old preemption request (Go's
/// execute). Only the M holding `pp` writes the counters.
pub(crate) fn start_slice(pp: &P, inherit: bool) {
    if !inherit {
        let t = pp.schedtick.load(Relaxed);
        pp.schedtick.store(t.wrapping_add(1), Relaxed);
        pp.preempt.store(false, Relaxed);
    }
    let t = pp.switchtick.load(Relaxed);
    pp.switchtick.store(t.wrapping_add(1), Relaxed);
}

/// Ends the tracer's slice for why `g` switched out (out of line: `execute` stays small).
#[cold]
#[inline(never)]
fn trace_slice_end(mp: &M, g: &G, req: &Request) {
    let why = match req {
        Request::Park(_) => {
            trace::Stop::Block(super::g::WaitReason::from_u8(g.wait_reason.load(Relaxed)))
        }
        Request::Yield | Request::YieldGlobal => trace::Stop::Yield,
        Request::Preempted => trace::Stop::Preempted,
        Request::Exit | Request::ExitLocked | Request::None => trace::Stop::Exit,
        Request::ExitBlocking => trace::Stop::Blocking,
    };
    trace::slice_end(mp, g, why);
}

/// The start of Go's execute, shared with direct switches (rt::handoff): a new slice (or the
/// current one, with `inherit`), RUNNABLE → RUNNING, and the M and the G naming each other.
///
/// # Safety
/// This M owns `gp` (taken from a run queue, or kept by a park whose commit declined) and holds
/// `pp`.
#[inline(always)]
pub(crate) unsafe fn begin_run<'g>(mp: &M, pp: &P, gp: *mut G, inherit: bool) -> &'g G {
    // SAFETY: Gs are never freed; the caller's contract makes this M its only user.
    let g = unsafe { &*gp };
    start_slice(pp, inherit);
    // A load and a store, not a swap: a RUNNABLE G changes state only at its owner's hands (the
    // dumper borrows only WAITING ones), and a locked swap costs as much as the rest of this.
    if g.status.load(Acquire) != RUNNABLE {
        fatal!("execute: goroutine {} was not runnable", g.id());
    }
    g.status.store(RUNNING, Release);
    super::metrics::running(g);
    g.m.store(mp as *const M as *mut M, Relaxed);
    mp.curg.store(gp, Relaxed);
    g
}

/// Go's execute: runs `gp` on `mp` until it switches back, then does what it asked. Returns a G
/// to run at once (a park whose commit declined).
fn execute(mp: &M, gp: *mut G, inherit: bool) -> Option<(*mut G, bool)> {
    let pp = mp.p().expect("execute runs with a P");
    // SAFETY: the G was taken from a run queue, so this M now owns it.
    let g = unsafe { begin_run(mp, pp, gp, inherit) };
    // A clock reading left by a switch is only as fresh as that switch.
    mp.now.set(0);
    // Read once: the switch preserves it in a register for the check after.
    let tracing = trace::ON.load(Relaxed);
    if tracing {
        trace::slice_start(mp, pp);
    }
    // SAFETY: `g.sp` was saved by `switch` (or made by `init_stack`) and the G runs nowhere
    // else; `g0_sp` is this M's own scheduler context, valid until we are resumed.
    unsafe { arch::switch(mp.g0_sp.get(), *g.sp.get(), mp as *const M as usize) };
    // Back on g0: a G switched to us and left a request. Not necessarily `gp`: that one may
    // have switched directly to another (rt::handoff), and so on.
    let gp = mp.curg.load(Relaxed);
    if gp.is_null() {
        // A direct switch ran the due timers, found nothing to switch to and came back here
        // with its request done (rt::handoff).
        return None;
    }
    // SAFETY: the running G, which just switched here; Gs are never freed.
    let g = unsafe { &*gp };
    mp.curg.store(null_mut(), Relaxed);
    g.m.store(null_mut(), Relaxed);
    // SAFETY: written by the G just before it switched to this g0; only this M reads it.
    let req = unsafe { std::mem::replace(&mut *mp.req.get(), Request::None) };
    if tracing {
        trace_slice_end(mp, g, &req);
    }
    // Null if sysmon took the P while the G ran user code (rt::hog): the G's switch noticed,
    // and the G's next stop is the global queue; `schedule` then finds this M a P or parks it.
    let pp = mp.p();
    if run_request(mp, pp, gp, req) {
        if pp.is_none() {
            global::globrunq_put(gp);
            return None;
        }
        return Some((gp, true));
    }
    None
}

/// What the scheduler does for the request `gp` left as it switched out (Go's park_m,
/// gosched_m, gopreempt_m, goexit0, exitsyscall0): on g0 in `execute`, or in the middle of a
/// direct switch (rt::handoff). `pp` is the M's P, or None if sysmon took it while the goroutine
/// ran user code. Returns true if `gp` must run again at once: a park whose commit declined,
/// which leaves it RUNNABLE and still owned by this M.
#[inline(always)]
pub(crate) fn run_request(mp: &M, pp: Option<&P>, gp: *mut G, req: Request) -> bool {
    // SAFETY: Gs are never freed; `gp` just switched out on this M, which owns it until the
    // request publishes it.
    let g = unsafe { &*gp };
    match req {
        Request::Park(commit) => {
            g.status.store(WAITING, Release);
            // SAFETY: the closure lives on the parked G's stack, which cannot run before the
            // closure publishes it (see Request::Park).
            if !unsafe { (*commit)(gp) } {
                g.make_runnable();
                return true;
            }
        }
        Request::Yield => {
            g.status.store(RUNNABLE, Release);
            match pp {
                Some(p) => global::runq_put(p, gp, false),
                None => global::globrunq_put(gp),
            }
        }
        Request::YieldGlobal => {
            g.status.store(RUNNABLE, Release);
            global::globrunq_put(gp);
        }
        Request::Preempted => {
            g.status.store(RUNNABLE, Release);
            // To the back of the local queue once the next goroutine is chosen (see
            // `find_runnable`).
            match pp {
                Some(_) => mp.preempted.set(gp),
                None => global::globrunq_put(gp),
            }
        }
        Request::Exit => super::spawn::gfree(mp, gp),
        Request::ExitLocked => {
            super::spawn::gfree(mp, gp);
            mp.exit_thread.set(true);
        }
        Request::ExitBlocking => {
            g.status.store(RUNNABLE, Release);
            global::globrunq_put(gp);
        }
        Request::None => fatal!("goroutine switched to the scheduler without a request"),
    }
    false
}
