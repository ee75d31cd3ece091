//! Where tasks' wakers meet the scheduler. Go has no futures, so nothing in its runtime to
//! follow here.
//!
//! A `Waker` is code the runtime does not control, and channels and timers call it: a task
//! awaiting a channel is woken by whoever makes the channel ready. Most of those calls come from
//! a goroutine or thread that is simply running, where a waker may do anything its caller could
//! (block, park, panic). Two places are different: a park commit (the parker is already
//! published as waiting, so a second park by the same goroutine would tangle the two waits), and
//! a scheduler's own stack (timer callbacks: no goroutine to park at all). `waker_may_run_here`
//! tells them apart; the wait layer hands the wakes it may not run to a goroutine of the
//! runtime's own, which runs them where blocking is allowed.
//!
//! The one waker the runtime knows is safe anywhere is its own: `Signal`'s, which `block_on`
//! hands its future, and whose wake only readies a parked goroutine. Its state machine is
//! tokio's `CachedParkThread` protocol, on park/ready:
//! - `EMPTY`: the goroutine is polling, or about to.
//! - `NOTIFIED`: woken since the last poll began. Set by every wake.
//! - `PARKED`: the goroutine is parked, waiting for a wake. Set only by the park commit, by CAS
//!   from `EMPTY`. A wake that came during the poll makes the goroutine yield instead of
//!   parking (a future that wakes itself must let others run); one that comes between that look
//!   and the commit makes the CAS fail, and the park is declined.
//!
//! A wake swaps in `NOTIFIED` and readies the goroutine only if it swapped out `PARKED`: exactly
//! one wake per park readies it, and a wake before the park is never lost. After each park the
//! goroutine swaps `EMPTY` back in (acquiring the waker's writes) and polls again.
//!
//! Invariant: a waker whose vtable is `VTABLE` points at a live `Signal` (the `Arc` it holds).

use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering::*};
use std::task::{RawWaker, RawWakerVTable, Waker};

use super::g::{G, WAITING, WaitReason, thread_waiting};
use super::m::current_m;
use super::park::{park, ready, yield_now};

const EMPTY: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// What a `block_on` waker points at: a goroutine (or thread) that parks until woken.
pub(crate) struct Signal {
    state: AtomicU8,
    /// The parked G; written by the park commit before it publishes `PARKED`.
    g: AtomicPtr<G>,
}

impl Signal {
    pub(crate) fn new() -> Arc<Signal> {
        Arc::new(Signal {
            state: AtomicU8::new(EMPTY),
            g: AtomicPtr::new(null_mut()),
        })
    }

    /// A waker that readies the goroutine waiting in `wait`.
    pub(crate) fn waker(self: &Arc<Self>) -> Waker {
        let data = Arc::into_raw(self.clone()).cast::<()>();
        // SAFETY: `data` is a leaked `Arc<Signal>` strong reference, which the vtable's
        // functions manage as `RawWaker`'s contract requires.
        unsafe { Waker::from_raw(RawWaker::new(data, &VTABLE)) }
    }

    /// Parks the caller until a wake that came after its previous `wait`. If one already did,
    /// the caller yields instead: a future that wakes itself while it waits for another
    /// goroutine (a poll loop, an async `yield_now`) must let that goroutine run, which a park
    /// declined by its commit does not (the G would run again at once, in the same time slice,
    /// and at one processor for ever).
    pub(crate) fn wait(&self) {
        if self.state.load(Acquire) == NOTIFIED {
            yield_now(true);
        } else {
            park(WaitReason::Future, &mut |gp| {
                self.g.store(gp, Relaxed);
                // Fails if a wake came since the look above: then the G does not park at all.
                self.state
                    .compare_exchange(EMPTY, PARKED, AcqRel, Acquire)
                    .is_ok()
            });
        }
        // Woken (or never parked): take the notification.
        self.state.swap(EMPTY, AcqRel);
    }

    fn wake(&self) {
        if self.state.swap(NOTIFIED, AcqRel) == PARKED {
            // SAFETY: `PARKED` was published by the park commit of the G in `g`, which stays
            // parked until readied; this swap is the only one that saw it, so it is readied once.
            unsafe { ready(self.g.load(Relaxed)) };
        }
    }
}

static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake_by_ref, drop_waker);

/// # Safety
/// `data` is a strong reference to a `Signal` (the module invariant), here and below.
unsafe fn clone(data: *const ()) -> RawWaker {
    // SAFETY: the caller's contract: the waker being cloned holds a reference.
    unsafe { Arc::increment_strong_count(data.cast::<Signal>()) };
    RawWaker::new(data, &VTABLE)
}

unsafe fn wake(data: *const ()) {
    // SAFETY: the waker's own reference, consumed by this wake.
    let s = unsafe { Arc::from_raw(data.cast::<Signal>()) };
    s.wake();
}

unsafe fn wake_by_ref(data: *const ()) {
    // SAFETY: the waker's reference keeps the signal alive during the call.
    unsafe { &*data.cast::<Signal>() }.wake();
}

unsafe fn drop_waker(data: *const ()) {
    // SAFETY: the waker's own reference, released by its drop.
    drop(unsafe { Arc::from_raw(data.cast::<Signal>()) });
}

/// Whether the caller may call `w`: always for the runtime's own waker; for any other, only
/// when the caller is a running goroutine or thread, not a park commit or a scheduler's stack.
pub(crate) fn waker_may_run_here(w: &Waker) -> bool {
    std::ptr::eq(w.vtable(), &VTABLE) || !in_commit_or_scheduler()
}

std::thread_local! {
    /// Set by `deferring_wakers`.
    static DEFERRING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every waker but the runtime's own handed to the task-wake goroutine instead
/// of called here: for code that holds a lock a waker's code could need (a receive delivering
/// a due timer holds the timer's lock, which the task's `Timer::reset` takes). `f` must not
/// switch goroutines (the flag is the thread's).
pub(crate) fn deferring_wakers<R>(f: impl FnOnce() -> R) -> R {
    struct Reset(bool);
    impl Drop for Reset {
        fn drop(&mut self) {
            DEFERRING.with(|d| d.set(self.0));
        }
    }
    let _reset = Reset(DEFERRING.with(|d| d.replace(true)));
    f()
}

/// Whether the caller runs inside a park commit (its goroutine or thread is already `WAITING`),
/// on a scheduler's stack (no goroutine current: a timer callback), or in `deferring_wakers`.
fn in_commit_or_scheduler() -> bool {
    if DEFERRING.with(std::cell::Cell::get) {
        return true;
    }
    let Some(m) = current_m() else {
        return thread_waiting();
    };
    let gp = m.curg.load(Relaxed);
    // SAFETY: Gs are never freed.
    gp.is_null() || unsafe { (*gp).status() } == WAITING
}
