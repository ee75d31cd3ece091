//! Direct switches: a goroutine that parks, yields or exits switches straight to the goroutine
//! its M's scheduler would run next, instead of to the scheduler (g0) and from there to that
//! goroutine.
//!
//! Go always goes through g0 (proc.go: `park_m`, `gosched_m` and `goexit0` run on g0 and call
//! `schedule`). Here the round trip costs a second context switch and, worse, a second run of
//! mispredicted returns (a switch empties the return predictor's view of the stack), on the path
//! of every channel hand-off between goroutines. The deviation keeps the scheduler's order: the
//! goroutine taken is the one `find_runnable` would return first, and only when nothing else
//! would come before it there (see `pick`); in every other case the switch goes to g0 as before.
//! Timers due at the switch are run in its middle, as `find_runnable` runs them first; when they
//! leave nothing to take, the switch ends in g0 after all.
//!
//! "Switch first, commit after" still holds. The switch is `arch::switch_call`: it saves the
//! leaving goroutine's context, then runs `finish` on the M's system stack below the suspended
//! scheduler frame, where g0 would have run the same steps (the request in `M::req`: queue a
//! yielder, or mark a parker waiting and run its commit), and only then enters the next
//! goroutine. So a commit publishes the parked goroutine only after its context is saved, runs
//! on the same stack with the same room as before, and releases its locks as soon after the
//! switch as through g0 (running it on the next goroutine's stack, after that goroutine's cold
//! frames were loaded, held a select's channel locks long enough to slow the select benchmark
//! at two processors by a fifth). A commit that declines resumes the parker at once, as g0
//! does, and puts the taken goroutine back in `runnext`.
//!
//! Invariants: a direct switch happens inside the P section of the leaving goroutine's switch
//! (`M::in_rt` set until the next goroutine returns to its own code), so sysmon cannot take the
//! P in between, and the goroutine taken is owned by this M from `pick` (or from `queued`, after
//! the timers) to its switch-in. g0 stays suspended in `execute` meanwhile and reads the
//! goroutine that comes back to it from `M::curg`; null there means a direct switch came back
//! with its request already done.

use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use super::g::G;
use super::global::{SCHED, runq_put};
use super::m::{M, Request};
use super::p::P;
use crate::arch::{self, Resume};
use crate::sys::nanotime;
use crate::util::fatal;

/// Where a direct switch goes (from `pick`).
#[derive(Clone, Copy)]
pub(crate) enum Next {
    /// This goroutine, taken from the P's queue, and whether it inherits the time slice.
    G(*mut G, bool),
    /// A timer on the P is due at this clock reading: `finish` runs the due timers after the
    /// request, as `find_runnable` would first, then takes the goroutine `queued` finds, or
    /// returns to the scheduler if there is none.
    AfterTimers(i64),
}

/// Where a goroutine on `p` that asks `req` switches directly; None if the switch must go to the
/// scheduler. It is what `find_runnable` would do first after g0 processed the request: run the
/// P's due timers, then take `runnext`, or else, unless a fairness rule gives the next slice to
/// the global queue (its 61st-slice turn, or a head that waited too long: `global_turn`), the
/// head of the local queue with a new slice. The scheduler keeps every case that needs it: a
/// slice that ran out, a retiring P, the tracer (running, or with a slice still open on this M
/// after it stopped: `execute` ends that slice for the goroutine that comes back), and a
/// goroutine locked to another thread (put back in `runnext`, where the scheduler finds it).
/// Requests other than a park, a yield or an exit always go to the scheduler.
///
/// A clock reading the caller left in `M::now` (a sleep's) stands for the clock here: it was
/// taken before this switch began, so a timer can only fire later by as much, never early.
/// Either this consumes it or the scheduler does, in this switch.
#[inline(always)]
pub(crate) fn pick(m: &M, p: &P, req: &Request) -> Option<Next> {
    if !matches!(req, Request::Park(_) | Request::Yield | Request::Exit)
        || p.preempt.load(Relaxed)
        || super::trace::ON.load(Relaxed)
        || m.trace_start.load(Relaxed) != 0
        || p.should_retire()
    {
        return None;
    }
    // Read before cleared: most switches find none, and then store nothing.
    let now = m.now.get();
    if now != 0 {
        m.now.set(0);
    }
    // The clock only when a timer exists here (as `find_runnable` reads it).
    let when = p.timers.next_when();
    if when != i64::MAX {
        let now = if now == 0 { nanotime() } else { now };
        if when <= now {
            return Some(Next::AfterTimers(now));
        }
    }
    let (gp, inherit) = queued(p)?;
    Some(Next::G(gp, inherit))
}

/// The queue half of `pick`: `runnext`, or the local queue's head unless it is the global
/// queue's turn (as `new_slice` would choose for a slice that did not run out); None (with
/// nothing taken) when the scheduler must choose.
#[inline(always)]
fn queued(p: &P) -> Option<(*mut G, bool)> {
    let (gp, inherit) = match p.runq.take_next() {
        Some(gp) => (gp, true),
        None if SCHED.runq_size.load(Relaxed) == 0 || !super::schedule::global_turn(p) => {
            (p.runq.get_ring()?, false)
        }
        None => return None,
    };
    // SAFETY: Gs are never freed; taking `gp` from the queue made this M its owner.
    if !unsafe { (*gp).locked_m.load(Acquire) }.is_null() {
        runq_put(p, gp, true);
        return None;
    }
    Some((gp, inherit))
}

/// What `finish` needs, in the leaving goroutine's frame: `finish` copies it out before it
/// publishes that goroutine, whose frame may be gone right after.
#[derive(Clone, Copy)]
struct Handoff {
    m: *const M,
    p: *const P,
    prev: *mut G,
    next: Next,
}

/// Switches from `gp` to `next` (from `pick`) on `m`, which owns `p`, with the request already in
/// `M::req`. Returns the argument of the switch that later resumes `gp`, as `arch::switch` does.
///
/// # Safety
/// `gp` is the running G of `m`, inside the P section of its switch; `next` came from `pick` in
/// that section (a goroutine it took from `p`'s queue is owned by this M).
#[inline(always)]
pub(crate) unsafe fn switch(m: &M, p: &P, gp: *mut G, next: Next) -> usize {
    let h = Handoff {
        m,
        p,
        prev: gp,
        next,
    };
    // SAFETY: `gp` is running here and stops with this switch. The system stack below the
    // suspended scheduler frame (`g0_sp`) is unused while a goroutine runs on this M: C calls
    // run there only from `ffi::call`, whose goroutines cannot switch at all. `finish` does not
    // unwind and returns a context `switch` can resume.
    unsafe {
        let top = (*m.g0_sp.get() - super::cgo::RED_ZONE) & !15;
        arch::switch_call((*gp).sp.get(), &h as *const Handoff as usize, finish, top)
    }
}

/// The scheduler's half of a direct switch, on the system stack: what `execute` does for the
/// request the leaving goroutine left (queue a yielder, run a parker's commit, recycle a
/// finished goroutine's slot), then what `find_runnable` and `execute` do to start the next one:
/// run the due timers if `pick` found some, take the next goroutine and start it. When the
/// timers leave nothing to take here, this returns to the scheduler's context instead, with no
/// goroutine current on the M, which tells `execute` that the request is done.
///
/// # Safety
/// Only as the function of the `switch_call` in `switch`: `data` is that call's `Handoff`, the
/// leaving goroutine's context is saved, and this runs on this M's system stack.
unsafe extern "C" fn finish(data: usize) -> Resume {
    let guard = fatal::AbortOnUnwind("a park commit or a timer callback");
    // SAFETY: `data` is the `Handoff` in the leaving goroutine's frame, which cannot run before
    // the request below publishes it; copied out first.
    let h = unsafe { *(data as *const Handoff) };
    // SAFETY: Ms and Ps are never freed; this M's thread runs us.
    let (m, p) = unsafe { (&*h.m, &*h.p) };
    let prev_gp = h.prev;
    // SAFETY: written by the leaving goroutine just before the switch; only code on this M
    // touches it.
    let req = unsafe { std::mem::replace(&mut *m.req.get(), Request::None) };
    // SAFETY: `prev_gp` is off its stack now, owned by this M until the request publishes it.
    unsafe { (*prev_gp).m.store(null_mut(), Relaxed) };
    // Only parks, yields and exits come here (`pick`), and only with the P.
    let next = if super::schedule::run_request(m, Some(p), prev_gp, req) {
        // A declined commit: the parker runs again at once, and the goroutine taken for it goes
        // back to `runnext`. Due timers wait for its next switch, which finds them still due.
        if let Next::G(gp, _) = h.next {
            runq_put(p, gp, true);
        }
        Next::G(prev_gp, true)
    } else {
        h.next
    };
    let (gp, inherit) = match next {
        Next::G(gp, inherit) => (gp, inherit),
        Next::AfterTimers(now) => {
            // The callbacks run as on the scheduler, with no goroutine current.
            m.curg.store(null_mut(), Relaxed);
            p.timers.run_expired(now);
            match queued_unless_expired(p) {
                Some(next) => next,
                None => {
                    std::mem::forget(guard);
                    return Resume {
                        // SAFETY: g0 is suspended in `execute`'s switch on this M, and
                        // `finish` runs below its frame.
                        sp: unsafe { *m.g0_sp.get() },
                        arg: h.m as usize,
                    };
                }
            }
        }
    };
    std::mem::forget(guard);
    // SAFETY: this M owns `gp` (taken by `pick` or `queued`, or the parker it kept) and holds
    // `p`.
    let g = unsafe { super::schedule::begin_run(m, p, gp, inherit) };
    Resume {
        // SAFETY: `gp` is runnable, owned by this M and runs nowhere else; its sp was saved by
        // a switch or made by `init_stack`.
        sp: unsafe { *g.sp.get() },
        arg: h.m as usize,
    }
}

/// `queued`, after timer callbacks ran: None also when, meanwhile, the slice ran out (sysmon's
/// flag), the tracer started or the P began to retire, all of which the scheduler handles. These
/// are the conditions of `pick`'s guard that can change during the callbacks; the guard keeps
/// its own copy because a shared helper, though inlined, changed the compiler's inlining of the
/// run queue into `park` (24 more instructions there, the ring 3% slower).
fn queued_unless_expired(p: &P) -> Option<(*mut G, bool)> {
    if p.preempt.load(Relaxed) || super::trace::ON.load(Relaxed) || p.should_retire() {
        return None;
    }
    queued(p)
}
