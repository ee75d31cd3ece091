//! P: a processor, the right to run goroutines (Go's `p`). `procs()` of them exist; an M must
//! hold one to run Go code. Each P owns a local run queue, a timer heap and a cache of free Gs.
//! Ps are never freed (as in Go); a P removed by `set_procs` is marked dead and may be revived.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering::*};

use super::m::M;
use super::runq::RunQueue;
use super::timers::TimerHeap;
use crate::util::loom as la;

pub(crate) const P_IDLE: u32 = 0;
pub(crate) const P_RUNNING: u32 = 1;
pub(crate) const P_BLOCKING: u32 = 2;
pub(crate) const P_DEAD: u32 = 3;
/// Sysmon is deciding whether to take the P from a hog (rt::hog); others treat it as running.
pub(crate) const P_TAKING: u32 = 4;
/// Sysmon is deciding whether to retake the P from an M in a blocking call (rt::blocking);
/// it goes back to `P_BLOCKING` or on to `P_IDLE`.
pub(crate) const P_RETAKING: u32 = 5;

pub(crate) struct P {
    pub(crate) id: usize,
    /// P_IDLE / P_RUNNING / P_BLOCKING (its M is in a blocking call; sysmon may retake it) /
    /// P_DEAD / P_TAKING / P_RETAKING (sysmon's tentative marks, see rt::hog and rt::blocking).
    pub(crate) status: la::AtomicU32,
    /// The M holding this P (also while it is in a blocking call), or null.
    pub(crate) m: la::AtomicPtr<M>,
    pub(crate) runq: RunQueue,
    /// Incremented on every new time slice; sysmon compares it to spot hogs.
    pub(crate) schedtick: AtomicU32,
    /// Set by sysmon when the current time slice is over (10 ms, less while many goroutines wait:
    /// see rt::sysmon). The slice belongs to
    /// the P, not to a goroutine: goroutines that inherit it through runnext inherit its age, so
    /// a spawn chain cannot keep it young. The running goroutine yields at its next runtime
    /// call, and the next slice starts fairly (see `schedule::find_runnable`).
    pub(crate) preempt: AtomicBool,
    /// Expired slices so far: every fourth serves the global queue first (see
    /// `schedule::find_runnable`). Owner only.
    pub(crate) fair_tick: AtomicU32,
    /// Incremented on every goroutine switch (including ones that inherit the time slice);
    /// unchanged for a whole slice means one goroutine ran all that time without calling the
    /// runtime.
    pub(crate) switchtick: la::AtomicU32,
    /// Incremented on every blocking call; sysmon compares it to spot long calls.
    pub(crate) blocktick: AtomicU32,
    pub(crate) timers: TimerHeap,
    /// Free Gs of the default stack class. Only the M holding this P touches it.
    pub(crate) gfree: UnsafeCell<crate::stack::pool::SlotCache>,
    /// Cached block of goroutine ids [next, end). Only the M holding this P touches it.
    pub(crate) goid: UnsafeCell<(u64, u64)>,
    /// Goroutines started minus goroutines finished on this P (summed for num_goroutines).
    pub(crate) live: AtomicI64,
    /// Goroutines started on this P.
    pub(crate) spawned: AtomicU64,
    /// While a trace runs: when sysmon last took this P from a hog (rt::trace).
    pub(crate) trace_taken: AtomicI64,
}

// SAFETY: shared fields are atomics or internally locked; `gfree` and `goid` are touched only by
// the M that holds the P.
unsafe impl Sync for P {}
// SAFETY: as above.
unsafe impl Send for P {}

impl P {
    /// The P's free-slot cache.
    ///
    /// # Safety
    /// The caller owns the P (its M holds it, inside a P section or on g0), and does not hold
    /// another reference from an earlier call.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn slot_cache(&self) -> &mut crate::stack::pool::SlotCache {
        // SAFETY: the caller's contract: only the owner touches the cache, one borrow at a time.
        unsafe { &mut *self.gfree.get() }
    }

    /// Adjusts the live-goroutine count. Only the M holding the P calls it: a plain load and
    /// store, no locked instruction.
    pub(crate) fn add_live(&self, delta: i64) {
        self.live
            .store(self.live.load(Relaxed).wrapping_add(delta), Relaxed);
    }

    /// Counts a spawn, and unless it is a runtime goroutine (`live` false) one more live
    /// goroutine (holder of the P only).
    pub(crate) fn count_spawn(&self, live: bool) {
        self.spawned
            .store(self.spawned.load(Relaxed).wrapping_add(1), Relaxed);
        if live {
            self.add_live(1);
        }
    }

    pub(crate) fn new(id: usize) -> P {
        P {
            id,
            status: la::AtomicU32::new(P_IDLE),
            m: la::AtomicPtr::new(std::ptr::null_mut()),
            runq: RunQueue::new(),
            schedtick: AtomicU32::new(0),
            preempt: AtomicBool::new(false),
            fair_tick: AtomicU32::new(0),
            switchtick: la::AtomicU32::new(0),
            blocktick: AtomicU32::new(0),
            timers: TimerHeap::new(),
            gfree: UnsafeCell::new(Vec::with_capacity(crate::stack::pool::GFREE_MAX)),
            goid: UnsafeCell::new((0, 0)),
            live: AtomicI64::new(0),
            spawned: AtomicU64::new(0),
            trace_taken: AtomicI64::new(0),
        }
    }

    /// Whether this P must be retired: `set_procs` removed it.
    pub(crate) fn should_retire(&self) -> bool {
        self.id >= super::global::SCHED.procs.load(Relaxed)
    }
}

/// `pp` as a reference, for a pointer read from an atomic or a list (`M::nextp`, the idle list).
pub(crate) fn p_ref(pp: *mut P) -> Option<&'static P> {
    // SAFETY: Ps are never freed, and a non-null P pointer always points at one.
    unsafe { pp.as_ref() }
}
