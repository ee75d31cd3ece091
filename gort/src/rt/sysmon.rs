//! sysmon: the monitor thread (Go's `sysmon` and `retake` in proc.go).
//!
//! Runs without a P. Each round it:
//! - retakes Ps whose M has been in a blocking call for a whole round (~20 µs at first) when there
//!   is other work, and hands them to other Ms (Go's retake of _Psyscall);
//! - flags time slices that passed 10 ms: the running goroutine yields at its next runtime call
//!   (Go's preemptone), and the next slice starts fairly;
//! - takes the P of a goroutine that has not switched for 10 ms although its slice was flagged
//!   in an earlier round — a hog, running user code without calling the runtime — and hands it
//!   to another M, exactly as for a blocking call (rt::hog);
//! - wakes an M for overdue timers, runs the stack scavenger, and retires idle Ps that
//!   `set_procs` removed.
//!
//! It sleeps 20 µs per round, doubling after 50 idle rounds up to 10 ms, as Go's does. As in Go,
//! only hand-offs count as activity: flags alone let it back off, so a program whose only
//! goroutine sits in a plain `std::thread::sleep` costs about 100 wake-ups a second. While a
//! goroutine runs on some P it looks at least every 2 ms (every 1 ms while a slice is flagged),
//! so that slices end close to 10 ms.

use std::sync::atomic::{AtomicI64, Ordering::*};

use super::m::M;
use super::p::{P_BLOCKING, P_DEAD, P_IDLE, P_RUNNING};
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

/// What sysmon saw of one P in earlier rounds.
#[derive(Clone, Copy)]
struct Seen {
    /// The M that held the P.
    m: *mut M,
    schedtick: u32,
    schedwhen: i64,
    switchtick: u32,
    switchwhen: i64,
    blocktick: u32,
    blockwhen: i64,
}

impl Default for Seen {
    fn default() -> Seen {
        Seen {
            m: std::ptr::null_mut(),
            schedtick: 0,
            schedwhen: 0,
            switchtick: 0,
            switchwhen: 0,
            blocktick: 0,
            blockwhen: 0,
        }
    }
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
    let mut flagged = false;
    let mut running = false;
    loop {
        if idle == 0 {
            delay_us = 20;
        } else if idle > 50 {
            delay_us = (delay_us * 2).min(10_000);
        }
        if flagged {
            // A flagged slice may need a hand-off soon: look again within a millisecond.
            delay_us = delay_us.min(1_000);
        } else if running {
            // Goroutines are running: slices must end close to 10 ms, not up to 20.
            delay_us = delay_us.min(2_000);
        }
        std::thread::sleep(std::time::Duration::from_micros(delay_us));
        let now = nanotime();
        COARSE_NOW.store(now, Relaxed);
        super::dump::sysmon_tick(now);
        super::netpoll::sysmon_poll(now);
        let busy;
        (busy, flagged, running) = retake(now, &mut seen);
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
        sched::retire_idle();
    }
}

/// Go's retake. Returns whether a P was handed off, whether a slice is flagged, and whether a
/// goroutine runs on some P.
fn retake(now: i64, seen: &mut [Seen]) -> (bool, bool, bool) {
    let mut busy = false;
    let mut flagged = false;
    let mut running = false;
    for p in sched::allp() {
        let s = &mut seen[p.id];
        let status = p.status.load(Acquire);
        let mp = p.m.load(Relaxed);
        if status != P_RUNNING || mp != s.m {
            // Idle, dead, blocking or changed hands: whoever runs next gets a new window before
            // it can be taken for a hog. The time slice goes on, as in Go: its age is reset
            // only by a new slice (`schedtick`), so a goroutine cannot keep it young by blocking
            // calls or by moving between threads.
            s.m = mp;
            s.switchwhen = now;
        }
        if status == P_IDLE || status == P_DEAD {
            continue;
        }
        // SAFETY: Ms are never freed (`mp` was loaded once: the P may change hands meanwhile).
        running |= status == P_RUNNING
            && unsafe { mp.as_ref() }.is_some_and(|m| !m.curg.load(Relaxed).is_null());
        // Whether this slice was already flagged in an earlier round.
        let flagged_before = p.preempt.load(Relaxed);
        let t = p.schedtick.load(Relaxed);
        if s.schedtick != t {
            s.schedtick = t;
            s.schedwhen = now;
        } else if (status == P_RUNNING || status == P_BLOCKING) && now - s.schedwhen >= HOG_NS {
            // A time slice longer than 10 ms (possibly several goroutines handing it on through
            // runnext, or one looping on short blocking calls, as Go's retake also flags
            // _Psyscall Ps): yield at the next runtime call (Go's preemptone).
            p.preempt.store(true, Relaxed);
            flagged = true;
        }
        let t = p.switchtick.load(Relaxed);
        if s.switchtick != t {
            s.switchtick = t;
            s.switchwhen = now;
        } else if status == P_RUNNING && flagged_before && now - s.switchwhen >= HOG_NS {
            // One goroutine has run for 10 ms without a runtime call that switched, and did not
            // answer a flag raised in an earlier round: treat it as in a blocking call.
            if super::hog::take(p, t) {
                busy = true;
                continue;
            }
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
    // Raised while some slice is flagged, so that the check at runtime calls costs one load of
    // a global otherwise.
    let pless = super::hog::PLESS.load(Relaxed) > 0;
    super::park::PREEMPT_HINT.store(flagged || busy || pless, Relaxed);
    (busy, flagged, running)
}
