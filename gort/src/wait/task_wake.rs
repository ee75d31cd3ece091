//! Wakes of async tasks, run by a goroutine of the runtime's own when their waker may not run
//! where the channel found it: inside a park commit, or in a timer callback on a scheduler's
//! stack (see rt::waker). Go has no futures, so nothing in its runtime to follow here.
//!
//! Handing a wake over costs a push on a lock-free stack and, if the goroutine sleeps, one
//! `ready`: both fine inside a commit. The goroutine then calls the wakers in the order they
//! came, on its own stack, where a waker may block or park like any code; a panicking waker is
//! reported by the panic hook, like a goroutine's panic, and the next one still runs.
//!
//! The goroutine starts when the first async waiter is made (`start`, called outside any lock by
//! the futures that queue waiters): only then can a task's waker reach a wake list at all.
//!
//! Invariants: `PENDING` is a stack of task nodes (`WakeList::task_node`), linked through
//! `Waiter::next`, that only the goroutine takes from, all at once. `PARKED` holds the
//! goroutine's G exactly while it is parked (or about to be) with nothing taken; whoever swaps
//! it out readies it, once.

use std::panic::Location;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering::*};

use super::{Waiter, WakeList};
use crate::rt::{G, WaitReason, park, ready, spawn_system};

static PENDING: AtomicPtr<Waiter> = AtomicPtr::new(null_mut());
static PARKED: AtomicPtr<G> = AtomicPtr::new(null_mut());

const NOT_STARTED: u8 = 0;
const STARTING: u8 = 1;
const STARTED: u8 = 2;
static STATE: AtomicU8 = AtomicU8::new(NOT_STARTED);

/// Starts the goroutine if it is not running yet. Call with no runtime lock held: it may spawn.
#[inline]
pub(crate) fn start() {
    if STATE.load(Acquire) != STARTED {
        start_slow();
    }
}

#[cold]
fn start_slow() {
    if STATE
        .compare_exchange(NOT_STARTED, STARTING, Acquire, Relaxed)
        .is_err()
    {
        // Started, or being started by another caller: wakes handed over meanwhile wait in
        // `PENDING`, which the goroutine empties first.
        return;
    }
    match spawn_system(run, Location::caller()) {
        Ok(_) => STATE.store(STARTED, Release),
        Err(e) => {
            // Out of stacks: the next async waiter tries again.
            STATE.store(NOT_STARTED, Release);
            eprintln!("gort: cannot start the goroutine that runs task wakes: {e}");
        }
    }
}

/// Hands the task node `w` to the goroutine.
///
/// # Safety
/// `w` was made by `WakeList::task_node` and is in no list.
pub(crate) unsafe fn defer(w: *mut Waiter) {
    let mut head = PENDING.load(Relaxed);
    loop {
        // SAFETY: `w` is ours until the push below publishes it.
        unsafe { (*w).next = head };
        match PENDING.compare_exchange_weak(head, w, SeqCst, Relaxed) {
            Ok(_) => break,
            Err(h) => head = h,
        }
    }
    // The Dekker pair of the commit in `run`: either we see its G here, or it sees our push.
    let gp = PARKED.swap(null_mut(), SeqCst);
    if !gp.is_null() {
        // SAFETY: the G was published parked by its commit, and the swap made us its one waker.
        unsafe { ready(gp) };
    }
}

/// The goroutine's body.
fn run() {
    loop {
        let mut stack = PENDING.swap(null_mut(), Acquire);
        if stack.is_null() {
            park(WaitReason::Future, &mut |gp| {
                PARKED.store(gp, SeqCst);
                if PENDING.load(SeqCst).is_null() {
                    return true;
                }
                // Work came meanwhile: run on, unless a `defer` took the G already, which
                // readies it.
                PARKED
                    .compare_exchange(gp, null_mut(), SeqCst, Relaxed)
                    .is_err()
            });
            continue;
        }
        // Oldest first.
        let mut fifo = null_mut();
        while !stack.is_null() {
            // SAFETY: the nodes taken above are ours alone.
            unsafe {
                let next = (*stack).next;
                (*stack).next = fifo;
                fifo = stack;
                stack = next;
            }
        }
        while !fifo.is_null() {
            // SAFETY: as above; the node is woken once, after its link is read.
            unsafe {
                let next = (*fifo).next;
                WakeList::wake_task_here(fifo);
                fifo = next;
            }
        }
    }
}
