//! sysmon: the monitor thread (Go's `sysmon` and `retake` in proc.go).
//!
//! Runs without a P. Each round it:
//! - retakes Ps whose M has been in a blocking call for a whole round (~20 µs at first) when there
//!   is other work, and hands them to other Ms (Go's retake of _Psyscall);
//! - flags goroutines whose time slice passed 10 ms, which yield at their next runtime call,
//!   and, when one goroutine still has not switched after 20 ms (it never calls the runtime) and
//!   work is queued behind it with no P idle, lends an extra P to another M
//!   that steals the hog's queue and timers (DESIGN decision 3b; retired when the hog yields).
//!   It does not lend while the hog's thread is runnable but mostly waiting for a CPU (its
//!   thread CPU clock over 5 ms windows, and its state in /proc): a thread the OS descheduled
//!   looks the same from the wall clock, but lending past it would only run in parallel what
//!   the program meant to run on one P;
//! - wakes an M for overdue timers, runs the stack scavenger, and retires idle Ps that
//!   `set_procs` removed.
//!
//! It sleeps 20 µs per round, doubling after 50 idle rounds up to 10 ms, as Go's does; an idle
//! program costs about 100 wakeups a second.

use std::sync::atomic::{AtomicI64, Ordering::*};

use super::g::G;
use super::p::{P, P_BLOCKING, P_DEAD, P_IDLE, P_RUNNING};
use super::sched::{self, SCHED, lock, wakep};
use crate::stack::pool;
use crate::sys::nanotime;

/// A goroutine running longer than this is flagged (Go's forcePreemptNS).
const HOG_NS: i64 = 10_000_000;

/// nanotime as of sysmon's last round (it rounds at least every 10 ms): a clock for
/// bookkeeping that must not cost a clock read per park (`G::wait_since`).
static COARSE_NOW: AtomicI64 = AtomicI64::new(0);

pub(crate) fn coarse_now() -> i64 {
    let t = COARSE_NOW.load(Relaxed);
    if t == 0 { nanotime() } else { t }
}

#[derive(Clone, Copy, Default)]
struct Seen {
    schedtick: u32,
    schedwhen: i64,
    switchtick: u32,
    switchwhen: i64,
    blocktick: u32,
    blockwhen: i64,
    /// Start of the window over which a suspected hog's thread is watched: when, which thread,
    /// and the CPU time that thread had used by then (None: not watching).
    hog_since: i64,
    hog_tid: i32,
    hog_cpu: Option<i64>,
}

pub(crate) fn start() {
    let res = std::thread::Builder::new()
        .name("gort-sysmon".into())
        .stack_size(256 << 10)
        .spawn(run);
    if let Err(e) = res {
        crate::util::fatal!("cannot start sysmon: {e}");
    }
}

fn run() {
    // Dumps capture goroutine backtraces on this thread (rt::dump): it needs the alternate
    // signal stack that turns a stack fault during the capture into a report.
    crate::stack::overflow::on_thread_start();
    let _guard = crate::util::fatal::AbortOnUnwind("sysmon");
    let mut seen = vec![Seen::default(); sched::MAX_P];
    let mut idle = 0u32;
    let mut delay_us = 20u64;
    let mut last_scavenge = nanotime();
    loop {
        if idle == 0 {
            delay_us = 20;
        } else if idle > 50 {
            delay_us = (delay_us * 2).min(10_000);
        }
        std::thread::sleep(std::time::Duration::from_micros(delay_us));
        let now = nanotime();
        COARSE_NOW.store(now, Relaxed);
        super::dump::sysmon_tick(now);
        super::netpoll::sysmon_poll(now);
        let busy = retake(now, &mut seen);
        idle = if busy { 0 } else { idle + 1 };

        if SCHED.npidle.load(Relaxed) > 0 && sched::earliest_timer() <= now {
            wakep();
        }
        if now - last_scavenge >= 100_000_000 {
            last_scavenge = now;
            if pool::scavenge(now, 8192) == 8192 {
                // More to do: come back soon.
                last_scavenge = 0;
                idle = 0;
            }
            lock().pidle_reap();
        }
    }
}

/// Go's retake. Returns whether anything was retaken or flagged.
fn retake(now: i64, seen: &mut [Seen]) -> bool {
    let mut busy = false;
    // Re-raised below for every goroutine still flagged.
    super::park::PREEMPT_HINT.store(false, Relaxed);
    for p in sched::allp() {
        let s = &mut seen[p.id];
        let status = p.status.load(Acquire);
        if status == P_IDLE || status == P_DEAD {
            continue;
        }
        // Whether the running goroutine was already asked to yield in an earlier round.
        let flagged_before = p.preempt.load(Relaxed);
        if flagged_before {
            super::park::PREEMPT_HINT.store(true, Relaxed);
        }
        let t = p.schedtick.load(Relaxed);
        if s.schedtick != t {
            s.schedtick = t;
            s.schedwhen = now;
        } else if status == P_RUNNING && now - s.schedwhen >= HOG_NS {
            // A time slice longer than 10 ms (possibly several goroutines handing it on through
            // runnext): yield at the next runtime call (Go's preemptone).
            preempt(p);
            busy = true;
        }
        let t = p.switchtick.load(Relaxed);
        if s.switchtick != t {
            s.switchtick = t;
            s.switchwhen = now;
        } else if status == P_RUNNING && now - s.switchwhen >= 2 * HOG_NS && flagged_before {
            // One goroutine has run for 20 ms without a single runtime call that switched,
            // although it was asked to yield in an earlier round (even if sysmon itself was
            // delayed): it is not calling the runtime.
            move_work_past_hog(p, s, now);
            busy = true;
        }
        if status == P_BLOCKING {
            let t = p.blocktick.load(Relaxed);
            if s.blocktick != t {
                s.blocktick = t;
                s.blockwhen = now;
                continue;
            }
            // Nothing else to run and someone is free to pick up new work: leave it (Go).
            if p.runq.is_empty()
                && SCHED.nmspinning.load(Relaxed) + SCHED.npidle.load(Relaxed) > 0
                && now - s.blockwhen < HOG_NS
            {
                continue;
            }
            if super::blocking::retake(p) {
                busy = true;
            }
        }
    }
    busy
}

/// The goroutine running on `p`, if any (racy: it may have just switched).
fn running_g(p: &P) -> Option<&'static G> {
    let mp = p.m.load(Relaxed);
    if mp.is_null() {
        return None;
    }
    // SAFETY: Ms are never freed; Gs are never unmapped, so a stale curg is harmless to read.
    unsafe { (*mp).curg.load(Relaxed).as_ref() }
}

/// Asks the goroutine running on `p` to yield at its next runtime call.
fn preempt(p: &P) {
    p.preempt.store(true, Relaxed);
    super::park::PREEMPT_HINT.store(true, Relaxed);
}

/// A goroutine has run on `p` for more than 10 ms without calling the runtime (DESIGN decision
/// 3b): if work is waiting behind it, make sure another M can run that work.
fn move_work_past_hog(p: &P, s: &mut Seen, now: i64) {
    let waiting =
        !p.runq.is_empty() || p.timers.next_when() <= now || SCHED.runq_size.load(Relaxed) > 0;
    if !waiting {
        return;
    }
    if SCHED.npidle.load(Relaxed) > 0 {
        wakep();
        return;
    }
    if !super::procs::lent_past(p) && holds_up_work(p, s, now) {
        super::procs::lend_p(p);
    }
}

/// Window over which a suspected hog's thread is watched.
const HOG_WINDOW_NS: i64 = 5_000_000;

/// Whether the thread running `p` holds up the work queued behind it: it used at least a quarter
/// of the last window on a CPU, or it is asleep in the kernel (blocked without
/// `gort::blocking`). A thread that is runnable but waits for a CPU (an overloaded machine or
/// VM) has not switched for 20 ms either, but lending a P past it would only run in parallel
/// what the program meant to run on one P, and add a thread to the overload.
fn holds_up_work(p: &P, s: &mut Seen, now: i64) -> bool {
    let mp = p.m.load(Relaxed);
    if mp.is_null() {
        return false;
    }
    // SAFETY: Ms are never freed.
    let tid = unsafe { &*mp }.tid.load(Relaxed);
    // Keyed by thread, not M: a pooled extra M can move to another thread.
    let watching =
        s.hog_cpu.is_some() && s.hog_tid == tid && now - s.hog_since <= 4 * HOG_WINDOW_NS;
    if watching && now - s.hog_since < HOG_WINDOW_NS {
        // The window is still open: nothing to read yet.
        return false;
    }
    let Some(cpu) = crate::sys::thread_cpu_time(tid) else {
        // No statistics: trust the wall clock alone.
        return true;
    };
    let window = watching.then(|| (now - s.hog_since, cpu - s.hog_cpu.unwrap_or(cpu)));
    // Start the next window (or the first, for a new suspect or after a stale one).
    (s.hog_tid, s.hog_since, s.hog_cpu) = (tid, now, Some(cpu));
    let Some((wall, used)) = window else {
        return false;
    };
    4 * used >= wall || crate::sys::thread_is_blocked(tid).unwrap_or(true)
}
