//! `Mutex<T>`: a goroutine-aware mutual exclusion lock (Go's `src/sync/mutex.go`, with
//! `sync_runtime_canSpin` / `sync_runtime_doSpin` from `src/runtime/proc.go`).
//!
//! `RawMutex` is the lock word and its slow paths; `Mutex<T>` wraps it with std's guard API.
//! `RwLock` and `Once` build on `RawMutex` too.
//!
//! # Algorithm (Go's)
//! Fast path: one CAS that sets LOCKED; unlock is one atomic subtract when nobody waits.
//! Contended: spin a few rounds if that can help (several processors, others busy, nothing else
//! queued on ours), then wait on the semaphore table (`sema.rs`) keyed by `sema`.
//!
//! Fairness: in *normal mode* a woken waiter competes with newly arriving goroutines (which are
//! already running and usually win: throughput), and re-queues at the head if it loses. A
//! waiter that has waited more than 1 ms switches the mutex to *starvation mode*: unlock hands
//! ownership straight to the head waiter (FIFO) and yields the processor to it; newcomers
//! neither take the lock nor spin, they queue at the tail. The mode ends when a waiter that
//! got the lock waited less than 1 ms or was the last waiter. No waiter waits much longer than
//! the time the waiters ahead of it hold the lock.
//!
//! # Deviations from Go
//! - Misuse Go detects at run time (unlocking an unlocked mutex) cannot be written with guards;
//!   the check stays as an internal invariant (`fatal!`).
//! - A plain OS thread (no P) spins when the machine has more than one CPU; the P-based tests
//!   of canSpin apply only to goroutines.
//! - `lock` checks for a pending preemption request before trying (ARCHITECTURE.md, decision
//!   "No preemption in the middle of an instruction"), never while holding the lock.
//! - With several processors, the fast path loads the word and takes the lock if it is free,
//!   whatever the waiter and WOKEN bits say (Go's CAS from 0 fails then, and lockSlow does the
//!   same CAS a second time). Same semantics, one atomic read-modify-write less per lock while
//!   waiters are parked, and a held lock's line is not pulled from its holder by a CAS bound to
//!   fail. Measured on W9 when it replaced Go's CAS from 0 (medians of 9 alternating runs):
//!   45 -> 33 ns/op at procs=1, 51 -> 35 ns/op at procs=2.
//! - With one processor the fast path is Go's CAS from 0, and the value a failed CAS read serves
//!   as that load. A holder seldom loses the processor inside its critical section (only if it
//!   blocks or yields there), so the word is almost always 0 when a goroutine asks; and a load
//!   of the word right after the last unlock's locked subtract waits for that subtract to drain
//!   before the CAS can start, a quarter of an uncontended lock/unlock pair. W9 at procs=1
//!   (medians of 7 alternating runs): 16.1 -> 12.9 ns/op; procs=2 unchanged (33.7 -> 32.7).

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

use super::sema::{semacquire, semrelease};
use crate::rt::{WaitReason, check_preempt};
use crate::sys::nanotime;
use crate::util::fatal;

// The state word (Go's Mutex.state):
//
// ```text
//  31                                 3   2   1   0
// ┌───────────────────────────────────┬───┬───┬───┐
// │ waiter count (parked or about to) │ S │ W │ L │
// └───────────────────────────────────┴───┴───┴───┘
// ```
// - L `LOCKED`: the mutex is held. In starvation mode it stays clear from an unlock until the
//   handed-off waiter sets it, but the mutex counts as held throughout (S is set).
// - W `WOKEN`: a goroutine is awake and trying to take the lock (a spinner or a woken
//   waiter), so unlock must not wake another.
// - S `STARVING`: starvation mode; ownership passes directly to the head waiter.
// - waiters: goroutines that incremented the count and wait (or are about to) on `sema`.
//   Decremented by the unlocker that wakes one (normal mode) or by the waiter that receives
//   the lock (starvation mode).
const LOCKED: i32 = 1;
const WOKEN: i32 = 2;
const STARVING: i32 = 4;
const WAITER_SHIFT: u32 = 3;
const WAITER: i32 = 1 << WAITER_SHIFT;

/// Waiting longer than this switches the mutex to starvation mode (Go's starvationThresholdNs).
const STARVATION_NS: i64 = 1_000_000;

/// Spin rounds before parking and PAUSEs per round (Go's active_spin / active_spin_cnt).
const ACTIVE_SPIN: u32 = 4;
const ACTIVE_SPIN_CNT: u32 = 30;

/// The lock word and its semaphore; no data. Unlocking is the caller's business (guards).
pub(crate) struct RawMutex {
    state: AtomicI32,
    /// Semaphore counter of the table key (Go's Mutex.sema).
    sema: AtomicU32,
}

impl RawMutex {
    pub(crate) const fn new() -> RawMutex {
        RawMutex {
            state: AtomicI32::new(0),
            sema: AtomicU32::new(0),
        }
    }

    /// Acquires the lock, parking while it is held.
    #[inline]
    pub(crate) fn lock(&self, reason: WaitReason) {
        check_preempt();
        // The word as it is, or a CAS's guess that it is 0 (see the module doc for which, and
        // why); then take a free lock whatever its waiter bits say (lockSlow's first step).
        let old = if crate::rt::procs::ONE_P.load(Relaxed) {
            match self
                .state
                .compare_exchange_weak(0, LOCKED, Acquire, Relaxed)
            {
                Ok(_) => return,
                Err(old) => old,
            }
        } else {
            self.state.load(Relaxed)
        };
        if old & (LOCKED | STARVING) != 0
            || self
                .state
                .compare_exchange_weak(old, old | LOCKED, Acquire, Relaxed)
                .is_err()
        {
            self.lock_slow(reason);
        }
    }

    /// Acquires the lock if it is free and not reserved for a starving waiter (Go's TryLock).
    #[inline]
    pub(crate) fn try_lock(&self) -> bool {
        let old = self.state.load(Relaxed);
        if old & (LOCKED | STARVING) != 0 {
            return false;
        }
        self.state
            .compare_exchange(old, old | LOCKED, Acquire, Relaxed)
            .is_ok()
    }

    /// Releases the lock. The caller must hold it.
    #[inline]
    pub(crate) fn unlock(&self) {
        let new = self.state.fetch_sub(LOCKED, Release).wrapping_sub(LOCKED);
        if new != 0 {
            self.unlock_slow(new);
        }
    }

    /// Go's lockSlow.
    #[cold]
    #[inline(never)]
    fn lock_slow(&self, reason: WaitReason) {
        let mut wait_start: i64 = 0;
        let mut starving = false;
        let mut awoke = false;
        let mut iter = 0;
        let mut old = self.state.load(Relaxed);
        loop {
            // Spin only in normal mode while the lock is held: in starvation mode ownership
            // goes to a waiter, so spinning cannot win it.
            if old & (LOCKED | STARVING) == LOCKED && can_spin(iter) {
                // Set WOKEN so that unlock does not wake a waiter we would race with.
                if !awoke
                    && old & WOKEN == 0
                    && old >> WAITER_SHIFT != 0
                    && self
                        .state
                        .compare_exchange(old, old | WOKEN, Relaxed, Relaxed)
                        .is_ok()
                {
                    awoke = true;
                }
                do_spin();
                iter += 1;
                old = self.state.load(Relaxed);
                continue;
            }
            let mut new = old;
            // Newcomers must not take a starving mutex: they queue.
            if old & STARVING == 0 {
                new |= LOCKED;
            }
            if old & (LOCKED | STARVING) != 0 {
                new += WAITER;
            }
            // Switch to starvation mode, unless the mutex is free right now (unlock expects a
            // starving mutex to have waiters).
            if starving && old & LOCKED != 0 {
                new |= STARVING;
            }
            if awoke {
                if new & WOKEN == 0 {
                    fatal!("sync: inconsistent mutex state");
                }
                new &= !WOKEN;
            }
            match self.state.compare_exchange(old, new, Acquire, Relaxed) {
                Ok(_) => {
                    if old & (LOCKED | STARVING) == 0 {
                        return; // locked with the CAS
                    }
                    // A waiter that was already woken once queues at the front.
                    let lifo = wait_start != 0;
                    if wait_start == 0 {
                        wait_start = nanotime();
                    }
                    semacquire(&self.sema, lifo, reason);
                    starving = starving || nanotime() - wait_start > STARVATION_NS;
                    old = self.state.load(Relaxed);
                    if old & STARVING != 0 {
                        // Ownership was handed to us, but LOCKED is clear and we still count as
                        // a waiter: fix both.
                        if old & (LOCKED | WOKEN) != 0 || old >> WAITER_SHIFT == 0 {
                            fatal!("sync: inconsistent mutex state");
                        }
                        let mut delta = LOCKED - WAITER;
                        if !starving || old >> WAITER_SHIFT == 1 {
                            // Leave starvation mode: it is so slow that two goroutines could
                            // otherwise hand the lock back and forth in it forever.
                            delta -= STARVING;
                        }
                        self.state.fetch_add(delta, Acquire);
                        return;
                    }
                    awoke = true;
                    iter = 0;
                }
                Err(cur) => old = cur,
            }
        }
    }

    /// Go's unlockSlow: `new` is the state after clearing LOCKED.
    #[cold]
    #[inline(never)]
    fn unlock_slow(&self, new: i32) {
        if new.wrapping_add(LOCKED) & LOCKED == 0 {
            fatal!("sync: unlock of unlocked mutex");
        }
        if new & STARVING != 0 {
            // Hand ownership to the head waiter. LOCKED stays clear until it sets it, but
            // STARVING keeps newcomers out meanwhile.
            semrelease(&self.sema, true);
            return;
        }
        let mut old = new;
        loop {
            // Nobody to wake, or someone is already awake / took the lock / made it starve.
            if old >> WAITER_SHIFT == 0 || old & (LOCKED | WOKEN | STARVING) != 0 {
                return;
            }
            // Take the right to wake one waiter.
            let new = (old - WAITER) | WOKEN;
            match self.state.compare_exchange(old, new, Release, Relaxed) {
                Ok(_) => {
                    semrelease(&self.sema, false);
                    return;
                }
                Err(cur) => old = cur,
            }
        }
    }
}

/// Go's sync_runtime_canSpin: spinning is worth it only for a few rounds, on a multicore
/// machine, with other processors busy (the holder is likely running) and nothing else queued
/// on our processor that could use the time instead.
fn can_spin(iter: u32) -> bool {
    if iter >= ACTIVE_SPIN || crate::util::ncpu() <= 1 {
        return false;
    }
    crate::rt::spin_worthwhile()
}

/// Go's sync_runtime_doSpin (procyield).
fn do_spin() {
    for _ in 0..ACTIVE_SPIN_CNT {
        std::hint::spin_loop();
    }
}

/// A mutual exclusion lock that parks goroutines (Go's `sync.Mutex`, with std's API).
///
/// A goroutine that finds the lock held spins briefly if the holder is likely running on another
/// processor, then parks; its OS thread runs other goroutines meanwhile. On a plain OS thread,
/// `lock` blocks the thread. The lock is fair under contention: a waiter that has waited for
/// more than 1 ms puts the mutex in starvation mode, where ownership passes in FIFO order
/// (see the module docs of `gort::sync` for the policy).
///
/// There is no poisoning: a panic while the lock is held releases it.
///
/// ```
/// use std::sync::Arc;
/// let m = Arc::new(gort::sync::Mutex::new(0));
/// let hs: Vec<_> = (0..10)
///     .map(|_| {
///         let m = m.clone();
///         gort::spawn(move || *m.lock() += 1)
///     })
///     .collect();
/// for h in hs {
///     h.join().unwrap();
/// }
/// assert_eq!(*m.lock(), 10);
/// ```
pub struct Mutex<T: ?Sized> {
    raw: RawMutex,
    data: UnsafeCell<T>,
}

// SAFETY: as std's Mutex: the lock hands out `&mut T` to one holder at a time, so sharing the
// mutex needs only `T: Send` (the value may be accessed from, and dropped on, another thread).
unsafe impl<T: ?Sized + Send> Send for Mutex<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send> Sync for Mutex<T> {}
// A panic while the lock is held unlocks it as the guard drops, and the lock's own state is never
// left half-updated. There is no poisoning (std's Mutex claims unwind safety for every T because
// it poisons), so the claim is made only for a T that is itself unwind safe.
impl<T: ?Sized + std::panic::UnwindSafe> std::panic::UnwindSafe for Mutex<T> {}
impl<T: ?Sized + std::panic::UnwindSafe> std::panic::RefUnwindSafe for Mutex<T> {}

/// Exclusive access to the data of a locked [`Mutex`]; unlocks when dropped.
///
/// Like std's guard it is not `Send`. It may be held across blocking gort calls (the lock is
/// not tied to an OS thread).
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    mutex: &'a Mutex<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives out `&T`, as std's MutexGuard.
unsafe impl<T: ?Sized + Sync> Sync for MutexGuard<'_, T> {}

impl<T> Mutex<T> {
    /// Creates an unlocked mutex holding `value`.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the mutex and returns its value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the lock, parking the goroutine (or blocking the plain thread) until it is free.
    ///
    /// Locking a mutex the caller already holds deadlocks, as in Go and std.
    #[inline]
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.raw.lock(WaitReason::SyncMutexLock);
        MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        }
    }

    /// Acquires the lock if it is free right now (Go's TryLock). Returns `None` while it is held,
    /// and also while it is being handed to a starving waiter.
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().then(|| MutexGuard {
            mutex: self,
            _not_send: PhantomData,
        })
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard locks (for `Cond::wait`).
    pub(crate) fn mutex(&self) -> &'a Mutex<T> {
        self.mutex
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves the lock is held, so no one else accesses the data.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.mutex.raw.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}
