//! park/ready: the one blocking mechanism every gort primitive uses (Go's gopark/goready).
//!
//! Protocol ("switch first, commit after", Go's park_m): the waiting side calls
//! `park(reason, commit)`. The G switches to its M's scheduler, which marks it WAITING and only
//! then runs `commit(gp)` (a direct switch to the next goroutine does the same in the middle of
//! the switch, on the same stack: rt::handoff); `commit` publishes the G where a waker can find
//! it (typically: push it on a wait list and unlock). If `commit` returns false the G runs again
//! at once. A waker that found the G calls `ready(gp)`, which queues it on the waker's P
//! (`runnext`, so a woken peer runs next) and wakes an idle P if there is one.
//!
//! Because the G is off its stack before anyone can find it, a waker never sees a G that is still
//! running, and no lock is held across the switch.
//!
//! Rule for commit callbacks: the step that publishes the G (an unlock, a CAS) must be the last
//! access to anything in the parked goroutine's frame. The moment the G is published another M
//! may ready it, run it, and return from the frame the callback borrows from; so take what is
//! needed (wake lists, timers to arm) out of the frame first. The same goes for what the
//! goroutine may free once it runs (a channel, a `Cond`, a `Semaphore`): a runtime lock guarding
//! it is released with `Lock::unlock_final`, since a plain `unlock` reads the lock after
//! releasing it (util::lock).
//!
//! Thread mode: plain OS threads, goroutines locked to their thread, and goroutines that are
//! unwinding park by blocking their thread on the G's futex word (`wake`) instead: `commit` runs
//! on the thread, then the thread sleeps; `ready` sets the word and wakes it. A goroutine parked
//! this way hands its P to another M first, so the rest of the program keeps running; once it
//! has, `ready` queues it like any G instead of waking its thread, and the scheduler that picks
//! it hands its own P to the thread (Go's stoplockedm / startlockedm).

use std::sync::atomic::Ordering::*;

use super::blocking;
use super::g::{BLOCKING, G, RUNNING, WAITING, WaitReason};
use super::global::{self, runq_put, wakep};
use super::handoff;
use super::m::{M, Request, current_m};
use super::p::{P, p_ref};
use crate::arch;
use crate::sys::futex;

/// Switches from the running goroutine `gp` on `m` to `m`'s scheduler with `req`. Returns the
/// M that later resumes the goroutine (possibly another one).
///
/// The switch starts a P section (rt::hog) that the scheduler keeps: it finds the M's P still
/// owned, or none if sysmon took it from this goroutine while it ran user code. The goroutine
/// resumes outside any section, so the caller must not be inside one.
#[inline(always)]
pub(crate) fn switch_to_scheduler(m: &'static M, gp: *mut G, req: Request) -> &'static M {
    // SAFETY: `gp` is the running G, the only one that touches its hook.
    #[cfg(feature = "tracing")]
    let hook = unsafe { *(*gp).hook.get() };
    // A subscriber that parks inside the hook (which it should not) may resume the goroutine
    // on another M: the switch below is from whichever M runs it now.
    #[cfg(feature = "tracing")]
    let m = if hook.is_null() {
        m
    } else {
        // SAFETY: a set hook is valid until its goroutine replaces it (set_switch_hook).
        unsafe { run_hook(hook, false) };
        current_m().expect("a goroutine runs on an M")
    };
    let (pp, _) = super::hog::enter(m);
    let direct = pp.and_then(|p| Some((p, handoff::pick(m, p, &req)?)));
    // SAFETY: `m` is the current M and `gp` its running G; `req` is read right after the switch
    // by this M's g0, or in the middle of a direct switch (rt::handoff) inside the P section
    // entered above. The G's saved sp is written before the request is processed, and
    // so before anyone else can run the G.
    let mut arg = unsafe {
        *m.req.get() = req;
        match direct {
            Some((p, next)) => handoff::switch(m, p, gp, next),
            None => arch::switch((*gp).sp.get(), *m.g0_sp.get(), 0),
        }
    };
    // A dumper may borrow the parked G to capture its backtrace here (see rt::dump).
    while arg == super::dump::DUMP_ARG {
        // SAFETY: the dumper switched to us with DUMP_ARG and waits to be switched back to.
        arg = unsafe { super::dump::capture_and_return(gp) };
    }
    // SAFETY: whoever resumes a goroutine passes its own M (`execute`), and Ms are never
    // freed. (No `Option` check here: this is every context switch's return path.)
    let m: &'static M = unsafe { &*(arg as *const M) };
    // Back to code that touches no P until its next section.
    m.in_rt.store(false, Release);
    #[cfg(feature = "tracing")]
    if !hook.is_null() {
        // SAFETY: as above; the goroutine did not run (so did not replace it) meanwhile.
        unsafe { run_hook(hook, true) };
    }
    m
}

/// Calls a goroutine's switch hook, out of line so that the switch path stays small. A panic
/// in the subscriber stops here (the panic hook reports it): it must not unwind out of a
/// switch, past a park whose waits are still published.
///
/// # Safety
/// `hook` is the running goroutine's, set and valid.
#[cfg(feature = "tracing")]
#[cold]
#[inline(never)]
unsafe fn run_hook(hook: *const super::g::SwitchHook, switch_in: bool) {
    let gp = super::m::current_g();
    // SAFETY: the caller's contract; `gp` is the running G, the only one that touches its
    // hook. The hook is cleared while it runs, so that a park inside it (a subscriber that
    // blocks on a gort primitive, which it should not) does not run it again.
    unsafe {
        *(*gp).hook.get() = std::ptr::null();
        crate::util::fatal::contain_panic(|| {
            if switch_in {
                ((*hook).switch_in)(hook)
            } else {
                ((*hook).switch_out)(hook)
            }
        });
        *(*gp).hook.get() = hook;
    }
}

/// Parks the calling goroutine (or thread) until `ready` is called for it, as described in the
/// module doc. `commit` runs exactly once.
pub(crate) fn park(reason: WaitReason, commit: &mut dyn FnMut(*mut G) -> bool) {
    let m = current_m();
    let gp = super::m::g_of(m);
    // SAFETY: Gs are never freed; `gp` is the caller's own G.
    let g = unsafe { &*gp };
    g.wait_reason.store(reason as u8, Relaxed);
    g.wait_since.store(super::sysmon::coarse_now(), Relaxed);
    let Some(m) = m.filter(|_| !g.cannot_switch()) else {
        if let Some(m) = m {
            // A sleep's clock reading is for a switch; this park is not one.
            m.now.set(0);
        }
        park_thread(m, g, commit);
        return;
    };
    // SAFETY: `commit` outlives the park: it lives in this frame, and this goroutine cannot run
    // (and so the frame cannot end) until the scheduler has called it. The lifetime is erased
    // only to store the pointer in the M.
    let commit: *mut (dyn FnMut(*mut G) -> bool + 'static) = unsafe { std::mem::transmute(commit) };
    switch_to_scheduler(m, gp, Request::Park(commit));
    g.wait_reason.store(WaitReason::None as u8, Relaxed);
}

/// `G::wake` values (thread mode, see `park_thread`).
const WAKE_WAITING: u32 = 0;
const WAKE_READY: u32 = 1;
const WAKE_QUEUE: u32 = 2;
/// A plain thread waiting, counted in `PARKED_THREADS`: its waker uncounts it as it wakes it,
/// so the deadlock detector never counts a woken thread that has yet to run as parked.
const WAKE_COUNTED: u32 = 3;

/// Thread-mode park (see module doc).
fn park_thread(m: Option<&'static M>, g: &G, commit: &mut dyn FnMut(*mut G) -> bool) {
    g.wake.store(WAKE_WAITING, Relaxed);
    g.parks_thread.store(true, Relaxed);
    // A goroutine holding a P gives it up while its thread blocks. One that has none (inside
    // `ffi::call` or `gort::blocking`, or a plain thread) just blocks.
    let holding = m.filter(|_| g.status() == RUNNING);
    let holds_p = holding.is_some();
    let before = g.status();
    if let Some(m) = holding {
        // Keep the P in the blocking state for a moment: a short wait ends cheaply in
        // `blocking::exit`; a long one hands it off below (or sysmon retakes it).
        blocking::enter(m, false);
    }
    g.status.store(WAITING, Release);
    let mut handed_p = false;
    let guard = crate::util::fatal::AbortOnUnwind("a park commit");
    let published = commit(g as *const G as *mut G);
    std::mem::forget(guard);
    if published {
        handed_p = wait_woken(m, g, holding);
    }
    g.parks_thread.store(false, Relaxed);
    if handed_p {
        g.status.store(RUNNING, Release);
    } else if holds_p {
        g.status.store(BLOCKING, Release);
        blocking::exit(current_m().expect("a goroutine holding a P runs on an M"));
    } else {
        g.status.store(before, Release);
    }
    g.wait_reason.store(WaitReason::None as u8, Relaxed);
}

/// Waits for `ready` on a thread-parked G: spins briefly when another CPU may be about to wake
/// us, then hands off the P (if we kept one) and sleeps. Returns whether the wake-up came with
/// a P already acquired.
///
/// A G that gave its P away waits as Go's locked goroutines do (stoplockedm): it marks itself
/// `WAKE_QUEUE` with `locked_m` set, so `ready` queues it like any runnable G and the scheduler
/// that picks it hands its own P to this M (`start_locked_m`). Waking the thread at once
/// instead would only have it find every P busy and sleep again until one is handed over.
fn wait_woken(m: Option<&'static M>, g: &G, holding: Option<&'static M>) -> bool {
    if global::SCHED.procs.load(Relaxed) > 1 {
        for _ in 0..100 {
            if g.wake.load(Acquire) != WAKE_WAITING {
                return false;
            }
            std::hint::spin_loop();
        }
    }
    if let Some(m) = holding {
        // `oldp` was set by `blocking::enter` above.
        if let Some(p) = p_ref(m.oldp.swap(std::ptr::null_mut(), Relaxed)) {
            blocking::release_own(m, p);
        }
        g.locked_m.store(m as *const M as *mut M, Release);
        if g.wake
            .compare_exchange(WAKE_WAITING, WAKE_QUEUE, AcqRel, Acquire)
            .is_err()
        {
            // Readied meanwhile: `blocking::exit` finds a P.
            g.locked_m.store(std::ptr::null_mut(), Relaxed);
            return false;
        }
        blocking::stop_locked_m(m, g);
        return true;
    }
    // A plain thread parked here is one the deadlock detector knows cannot act (and so wakes
    // sysmon, whose detector looks only while it is awake). Its first park starts the runtime
    // if nothing else has (a program of plain threads and channels): the detector, and the
    // SIGQUIT dump, then cover it too. (After the commit: no channel lock is held here.)
    let mut waiting = WAKE_WAITING;
    if m.is_none() {
        super::ensure_started();
        super::dump::PARKED_THREADS.fetch_add(1, SeqCst);
        if g.wake
            .compare_exchange(WAKE_WAITING, WAKE_COUNTED, AcqRel, Acquire)
            .is_err()
        {
            // Readied already: nobody else will uncount us.
            super::dump::PARKED_THREADS.fetch_sub(1, SeqCst);
            return false;
        }
        super::dump::THREAD_PARKS.fetch_add(1, SeqCst);
        super::sysmon::wake();
        waiting = WAKE_COUNTED;
    }
    while g.wake.load(Acquire) == waiting {
        futex::wait(&g.wake, waiting, -1);
    }
    false
}

/// Makes a parked G runnable (Go's goready).
///
/// # Safety
/// `gp` is a G (or plain thread's G) parked by `park`, whose `commit` has published it where
/// the caller found it, and the caller is the one waker that took it from there: it is alive
/// (a thread's G lives until its thread exits, and a parked thread cannot exit) and readied
/// once per park.
pub(crate) unsafe fn ready(gp: *mut G) {
    // SAFETY: the caller's contract.
    if unsafe { ready_quietly(gp) } {
        wakep();
    }
}

/// `ready` without waking an M to run `gp`, for an M without a P that readies a batch and then
/// takes a P for them itself (the network poller's sleeper): woken at once, a second M would
/// take the P this one is about to take. Returns whether `gp` was queued (a plain thread's G is
/// woken directly instead).
///
/// # Safety
/// As for `ready`.
#[inline(always)]
pub(crate) unsafe fn ready_quietly(gp: *mut G) -> bool {
    // SAFETY: the caller's contract.
    let g = unsafe { &*gp };
    if g.parks_thread.load(Acquire) {
        let mut from = WAKE_WAITING;
        loop {
            match g.wake.compare_exchange(from, WAKE_READY, AcqRel, Acquire) {
                Ok(_) => {
                    if from == WAKE_COUNTED {
                        // Before the wake-up: from now on the thread may act.
                        super::dump::PARKED_THREADS.fetch_sub(1, SeqCst);
                    }
                    futex::wake(&g.wake, 1);
                    return false;
                }
                // A plain thread that counted itself parked (see `wait_woken`).
                Err(WAKE_COUNTED) => from = WAKE_COUNTED,
                // Its thread waits for a P to be handed to it: queue it (see `wait_woken`).
                Err(WAKE_QUEUE) => break,
                Err(_) => return false,
            }
        }
    }
    g.make_runnable();
    super::metrics::readied(g);
    super::hog::with_p(|pp| {
        if super::trace::ON.load(Relaxed) {
            super::trace::readied(g, pp);
        }
        match pp {
            Some(p) => runq_put(p, gp, true),
            None => global::globrunq_put(gp),
        }
    });
    true
}

/// Go's `block`: parks for ever (`select! {}`); nothing readies the goroutine, and the deadlock
/// detector counts it as blocked.
pub(crate) fn block_forever() -> ! {
    super::ensure_started();
    loop {
        park(WaitReason::SelectNoCases, &mut |_| true);
    }
}

/// Go's Gosched: let other goroutines run. On a plain thread, yields the thread.
///
/// With `behind_global` (a user's yield), a goroutine that finds goroutines waiting at the head
/// of the global queue (woken by plain threads, or queued by Ms without a P; not a spilled
/// local backlog, which is its P's own and runs in its order) joins them there, as Go's
/// Gosched always does: queued locally it would run again first, and the global queue is
/// otherwise served only every 61st slice. Otherwise, and for spawn's backpressure (whose
/// point is to run the children queued locally first), it goes to the back of the local queue,
/// which is cheaper.
pub(crate) fn yield_now(behind_global: bool) {
    let Some(m) = current_m() else {
        std::thread::yield_now();
        return;
    };
    let gp = m.curg.load(Relaxed);
    if gp.is_null() {
        // The scheduler's own stack (a timer callback spawning with a full queue): there is
        // no goroutine to yield.
        return;
    }
    // SAFETY: the running G is alive.
    let g = unsafe { &*gp };
    if g.cannot_switch() {
        if g.status() == RUNNING {
            // Pinned to this thread: let others have the P for a moment.
            blocking::enter(m, true);
            std::thread::yield_now();
            blocking::exit(current_m().expect("a goroutine runs on an M"));
        } else {
            // No P to share (inside `ffi::call` or `gort::blocking`).
            std::thread::yield_now();
        }
        return;
    }
    // A first look at the queue outside a P section (a P is never freed, so a stale one is
    // only a wrong guess): a goroutine with company goes straight to the scheduler.
    if m.p().is_some_and(|p| p.runq.only_next())
        && super::hog::with_p(|pp| pp.is_some_and(yield_in_place))
    {
        return;
    }
    // Go's goschedImpl wakes a P for the goroutine it queues. Here only when another goroutine
    // will run first, so that an idle P can take this one: two goroutines that yield in turn on
    // one P while another P sleeps spread out, and a goroutine yielding alone wakes nobody.
    if global::SCHED.npidle.load(Relaxed) != 0 && m.p().is_some_and(|p| !p.runq.is_empty()) {
        global::wakep();
    }
    let req = if behind_global && global::global_head_waiting() {
        Request::YieldGlobal
    } else {
        Request::Yield
    };
    // The flag, if set, is answered by the new time slice `execute` gives the G.
    switch_to_scheduler(m, gp, req);
}

/// Whether a yield on `p` can skip the scheduler because the scheduler would choose the yielding
/// goroutine again: nothing is queued on `p` or globally, `p` has no timers to run, no goroutine
/// waits for the network (the scheduler would poll), its slice has not run out and `p` is not
/// retiring. Then the yield starts a new slice here, as the scheduler would have (so sysmon sees
/// the switch and takes no hog's P), and costs no context switch. Go's Gosched always goes
/// through the global queue.
fn yield_in_place(p: &P) -> bool {
    let alone = p.runq.is_empty()
        && global::SCHED.runq_size.load(Relaxed) == 0
        && p.timers.next_when() == i64::MAX
        && !p.preempt.load(Relaxed)
        && !p.should_retire()
        && !super::trace::ON.load(Relaxed)
        && !super::netpoll::has_waiters();
    if alone {
        super::schedule::start_slice(p, false);
    }
    alone
}
