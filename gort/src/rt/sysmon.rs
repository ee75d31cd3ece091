//! sysmon: the monitor thread (Go's `sysmon` and `retake` in proc.go).
//!
//! Runs without a P. Each round it:
//! - retakes Ps whose M has been in a blocking call for a whole round (~20 µs at first) when there
//!   is other work, and hands them to other Ms (Go's retake of _Psyscall);
//! - flags time slices that passed their length (see below): the running goroutine yields at its
//!   next runtime call (Go's preemptone), and the next slice starts fairly;
//! - takes the P of a goroutine that has not switched for a slice although its slice was flagged
//!   in an earlier round — a hog, running user code without calling the runtime — and hands it
//!   to another M, exactly as for a blocking call (rt::hog);
//! - wakes an M for overdue timers, runs the stack scavenger, and retires idle Ps that
//!   `set_procs` removed.
//!
//! It sleeps 20 µs per round, doubling after 50 idle rounds up to 10 ms, as Go's does. As in Go,
//! only hand-offs count as activity: flags alone let it back off. Unlike Go, a hand-off that only
//! ends a long blocking call, with nothing waiting for the P, does not count either: it is no sign
//! of load, and a goroutine that loops on long blocking calls would otherwise restart the 20 µs
//! rounds at each call. While a goroutine runs on some P it looks at least every 2 ms (every
//! 1 ms while a running goroutine's slice is flagged or slices are short), so that slices end
//! close to their length; and 20 µs after it flags a slice, to lower the preemption hint once the
//! goroutine has answered (`FRESH_LOOK_US`).
//!
//! Deep sleep (Go's `sysmonwait`): once every P has stayed idle for a whole round (and the
//! deadlock detector, looking then, suspects nothing), sysmon sleeps until shortly after the
//! earliest timer (whose own waiter runs it), the scavenger's next pass or a second from now,
//! whichever is first, instead of every 10 ms.
//! Whatever could need it sooner wakes it (`wake`): a P leaving the idle list (so a goroutine
//! that turns into a hog is still seen within a round), a plain thread parking (the deadlock
//! detector's business), and SIGQUIT. Go wakes its sysmon only where a goroutine leaves a system
//! call (and when the world restarts after a stop, which gort never does), and sleeps until the
//! next timer or up to a minute. The whole round must be quiet, not only its start, so that
//! a program whose Ps idle between short bursts keeps the ordinary rounds and pays no futex
//! wake per burst.
//!
//! Slice length (a deviation from Go, whose slice is always 10 ms): a goroutine behind N others
//! that each use a whole slice waits N slices, so with 10 ms slices twenty CPU-bound goroutines
//! on one P make every wake-up wait 200 ms. As Linux's CFS does with its scheduling period, the
//! slice shrinks as the queue grows: one round of a P's queue (its local queue plus its share of
//! the global queue) takes about `ROUND_NS`, with slices between `MIN_SLICE_NS` and 10 ms. With
//! at most one goroutine waiting it is Go's 10 ms; a shorter slice costs one more preemption
//! (a requeue and a switch, about a microsecond) per slice, nothing on the hot paths.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::*};

use super::dump::{self, THREAD_PARKS};
use super::global::{self, SCHED, lock, wakep};
use super::m::M;
use super::p::{P_BLOCKING, P_DEAD, P_IDLE, P_RUNNING};
use crate::stack::pool;
use crate::sys::futex::Note;
use crate::sys::nanotime;

/// The longest time slice (Go's forcePreemptNS): a goroutine running longer is flagged.
const HOG_NS: i64 = 10_000_000;
/// The shortest time slice, however long the queue.
const MIN_SLICE_NS: i64 = 1_000_000;
/// How long one round of a P's run queue should take at most (while slices are above the
/// minimum): the slice is this divided by the number of goroutines in the round.
const ROUND_NS: i64 = 20_000_000;

/// The time slice of `p` when `share` goroutines of the global queue are its to run.
fn slice_ns(p: &super::p::P, share: usize) -> i64 {
    let round = (p.runq.len() + share) as i64 + 1;
    (ROUND_NS / round).clamp(MIN_SLICE_NS, HOG_NS)
}

/// How soon sysmon looks again after it flagged a running slice. The goroutine usually answers
/// at its next runtime call, within microseconds, and the next look lowers the preemption hint
/// (`retake`); until then every runtime call of every goroutine takes the hint's slow path. With
/// the usual next look, up to a millisecond later, a channel-bound program spent 8% of its time
/// there at one processor. This early look takes no hog: a flagged goroutine has until the
/// ordinary look after it to answer, as before.
const FRESH_LOOK_US: u64 = 20;

/// How often the scavenger runs.
const SCAVENGE_EVERY_NS: i64 = 100_000_000;
/// The longest deep sleep. Some changes reach no P and so do not wake sysmon (a plain thread
/// that stops the last timer, or an unknown thread that exits and leaves a deadlock behind):
/// it sees them within a second.
const DEEP_MAX_NS: i64 = 1_000_000_000;
/// How long after the earliest timer a deep sleep ends. The M waiting for that timer runs it
/// (and takes a P, which wakes sysmon); sysmon's look is the fallback for a late one, and
/// waking with it would start a second M for the same timer.
const TIMER_SLACK_NS: i64 = 10_000_000;

/// nanotime as of sysmon's last round (it rounds at least every 10 ms), or 0 while it sleeps
/// deeply: a clock for bookkeeping that must not cost a clock read per park (`G::wait_since`).
static COARSE_NOW: AtomicI64 = AtomicI64::new(0);

pub(crate) fn coarse_now() -> i64 {
    let t = COARSE_NOW.load(Relaxed);
    if t == 0 { nanotime() } else { t }
}

/// Set while sysmon sleeps deeply (Go's `sched.sysmonwait`); `wake` clears it.
static DEEP: AtomicBool = AtomicBool::new(false);
/// What sysmon sleeps deeply on (Go's `sched.sysmonnote`).
static NOTE: Note = Note::new();

/// Ends sysmon's deep sleep, if it is in one. One load when it is not. Async-signal-safe (two
/// atomics and a futex wake): the SIGQUIT handler calls it.
pub(crate) fn wake() {
    if DEEP.load(SeqCst) && DEEP.swap(false, SeqCst) {
        NOTE.wakeup();
    }
}

/// A stretch of rounds in which every P stayed idle.
#[derive(Clone, Copy)]
struct Quiet {
    /// The round that first saw it.
    since: i64,
    /// `Locked::pidle_gets` and `THREAD_PARKS` then: the stretch ends when either moves.
    gets: u64,
    parks: u64,
}

/// The quiet stretch this round (at `now`) is part of, if any; `before` is last round's.
fn quiet_stretch(now: i64, before: Option<Quiet>) -> Option<Quiet> {
    if SCHED.npidle.load(Relaxed) < SCHED.procs.load(Relaxed) {
        return None;
    }
    let l = lock();
    if !l.all_idle() {
        return None;
    }
    let seen = Quiet {
        since: now,
        gets: l.pidle_gets,
        parks: THREAD_PARKS.load(SeqCst),
    };
    drop(l);
    match before {
        Some(b) if b.gets == seen.gets && b.parks == seen.parks => Some(b),
        _ => Some(seen),
    }
}

/// Sleeps until `deadline` or `wake`, if the runtime is still as quiet as `q` once the sleep is
/// published. Returns whether it slept.
fn sleep_deeply(q: Quiet, deadline: i64) -> bool {
    NOTE.clear();
    {
        let l = lock();
        if !l.all_idle() || l.pidle_gets != q.gets {
            return false;
        }
        // Published under the scheduler lock, as Go's sysmon does: a `pidle_get` (which holds
        // it) either came before and moved `pidle_gets`, or comes after and sees the flag.
        DEEP.store(true, SeqCst);
    }
    // A plain thread that parks bumps THREAD_PARKS and then looks at DEEP; SIGQUIT's handler
    // sets its flag and then looks. Sysmon stores DEEP and then looks at both (all SeqCst), so
    // one side sees the other.
    let slept = THREAD_PARKS.load(SeqCst) == q.parks && !dump::quitting();
    if slept {
        COARSE_NOW.store(0, Relaxed);
        NOTE.sleep_until(deadline);
    }
    DEEP.store(false, SeqCst);
    slept
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
    let mut seen = vec![Seen::default(); global::MAX_P];
    let mut idle = 0u32;
    let mut delay_us = 20u64;
    let mut last_scavenge = nanotime();
    let mut last_look = last_scavenge;
    let mut flagged = false;
    let mut fresh = false;
    let mut soon = false;
    let mut shortest: Option<i64> = None;
    let mut quiet: Option<Quiet> = None;
    loop {
        if idle == 0 {
            delay_us = 20;
        } else if idle > 50 {
            delay_us = (delay_us * 2).min(10_000);
        }
        if flagged {
            // A flagged slice may need a hand-off soon: look again within a millisecond.
            delay_us = delay_us.min(1_000);
        } else if let Some(slice) = shortest {
            // Goroutines are running: slices must end close to their length, not up to twice it.
            delay_us = delay_us.min((slice as u64 / 2_000).clamp(1_000, 2_000));
        }
        let deep = quiet.filter(|q| {
            q.since < last_look && super::netpoll::watched() && dump::lets_sysmon_sleep(last_look)
        });
        let mut slept = false;
        if let Some(q) = deep {
            let scavenge = pool::next_scavenge().max(last_scavenge + SCAVENGE_EVERY_NS);
            let deadline = global::earliest_timer()
                .saturating_add(TIMER_SLACK_NS)
                .min(scavenge)
                .min(last_look + DEEP_MAX_NS);
            slept = sleep_deeply(q, deadline);
        } else {
            // A new blocking call with goroutines queued behind it: the next look, in a quarter
            // of a round, hands its P off if the call is still going. A shorter round, not a
            // reset of the back-off: a stream of short calls would keep that at 20 µs, and at
            // most this quadruples the looks while such a stream lasts.
            let us = if soon {
                (delay_us / 4).max(20)
            } else if fresh {
                FRESH_LOOK_US
            } else {
                delay_us
            };
            std::thread::sleep(std::time::Duration::from_micros(us));
        }
        let now = nanotime();
        if slept {
            // No P was in a blocking call while sysmon slept: none is charged for the sleep.
            last_look = now;
        }
        COARSE_NOW.store(now, Relaxed);
        super::dump::sysmon_tick(now);
        super::netpoll::sysmon_poll(now);
        let r = retake(now, now - last_look, &mut seen, fresh);
        (flagged, fresh, soon, shortest) = (r.flagged, r.fresh, r.soon, r.shortest);
        last_look = now;
        idle = if r.busy { 0 } else { idle + 1 };

        if SCHED.npidle.load(Relaxed) > 0 && global::earliest_timer() <= now {
            wakep();
        }
        if now - last_scavenge >= SCAVENGE_EVERY_NS {
            last_scavenge = now;
            if pool::scavenge(now, 8192) == 8192 {
                // More to do: come back soon.
                last_scavenge = 0;
                idle = 0;
            }
            lock().pidle_reap();
        }
        global::retire_idle();
        quiet = quiet_stretch(now, quiet);
    }
}

/// Go's retake: hands off the Ps of blocking calls and hogs, and says what it found. `early` is
/// the quick look that follows a fresh flag (`FRESH_LOOK_US`): it takes no hog, whose flag has
/// had no time to be answered; the next ordinary look does.
fn retake(now: i64, dt: i64, seen: &mut [Seen], early: bool) -> Retake {
    let mut busy = false;
    let mut soon = false;
    let mut flagged = false;
    let mut fresh = false;
    let mut hint = false;
    let mut shortest: Option<i64> = None;
    let share = global::global_share();
    // Processors in blocking calls, for the blocking-time estimate (rt::metrics).
    let mut in_calls = 0;
    for p in global::allp() {
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
        if status == P_BLOCKING {
            in_calls += 1;
        }
        let slice = slice_ns(p, share);
        // `mp` was loaded once: the P may change hands meanwhile.
        let m = super::m::m_ref(mp);
        if status == P_RUNNING && m.is_some_and(|m| !m.curg.load(Relaxed).is_null()) {
            shortest = Some(shortest.map_or(slice, |s| s.min(slice)));
        }
        // Whether this slice was already flagged in an earlier round.
        let flagged_before = p.preempt.load(Relaxed);
        let t = p.schedtick.load(Relaxed);
        if s.schedtick != t {
            s.schedtick = t;
            s.schedwhen = now;
        } else if (status == P_RUNNING || status == P_BLOCKING) && now - s.schedwhen >= slice {
            // A time slice past its length (possibly several goroutines handing it on through
            // runnext, or one looping on short blocking calls, as Go's retake also flags
            // _Psyscall Ps): yield at the next runtime call (Go's preemptone).
            p.preempt.store(true, Relaxed);
            hint = true;
            // A P in a blocking call is handed off by the rules below, however often sysmon
            // looks: only a running one needs the next look soon.
            flagged |= status == P_RUNNING;
            fresh |= status == P_RUNNING && !flagged_before;
        }
        let t = p.switchtick.load(Relaxed);
        if s.switchtick != t {
            s.switchtick = t;
            s.switchwhen = now;
        } else if status == P_RUNNING && flagged_before && !early && now - s.switchwhen >= slice {
            // One goroutine has run a slice without a runtime call that switched, and did not
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
                // Goroutines wait behind this call: look again soon, not after a backed-off
                // round. Otherwise a stream of calls about as long as that round (10 ms), each
                // started before the next look, shows a new call at every look and is never
                // retaken, and the queue runs one call at a time.
                soon |= !p.runq.is_empty();
                continue;
            }
            // Nothing else to run and someone is free to pick up new work: leave it (Go), until
            // the call has lasted a whole slice. Such a hand-off is not activity (see above).
            let wanted = !p.runq.is_empty()
                || SCHED.nmspinning.load(Relaxed) + SCHED.npidle.load(Relaxed) == 0;
            if !wanted && now - s.blockwhen < HOG_NS {
                continue;
            }
            if super::blocking::retake(p) && wanted {
                busy = true;
            }
        }
    }
    // Raised while some slice is flagged, so that the check at runtime calls costs one load of
    // a global otherwise.
    let pless = super::hog::PLESS.load(Relaxed) > 0;
    super::preempt::PREEMPT_HINT.store(hint || busy || pless, Relaxed);
    super::metrics::blocking_sampled(in_calls, dt);
    Retake {
        busy,
        soon,
        flagged,
        fresh,
        shortest,
    }
}

/// What one `retake` round found.
struct Retake {
    /// A P was handed off.
    busy: bool,
    /// A P has entered a blocking call with goroutines queued behind it: the next round
    /// comes soon.
    soon: bool,
    /// A running P's slice is flagged.
    flagged: bool,
    /// A running P's slice was flagged in this round for the first time.
    fresh: bool,
    /// The shortest time slice among the goroutines running.
    shortest: Option<i64>,
}
