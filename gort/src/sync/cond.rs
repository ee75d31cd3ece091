//! `Cond`: a condition variable for `gort::sync::Mutex` (Go's `src/sync/cond.go` over the
//! `notifyList` of `src/runtime/sema.go`).
//!
//! # The ticket scheme (Go's notifyList)
//! `wait` takes a ticket (`wait_gen`, incremented without a lock) *before* it unlocks the mutex,
//! then parks unless its ticket has already been notified. `notify_gen` is the next ticket to
//! notify. `notify_one` advances `notify_gen` by one and wakes the waiter holding that ticket if
//! it has parked already (if not, it will see its ticket notified and not park); `notify_all`
//! sets `notify_gen` to `wait_gen` and wakes every parked waiter. So a notification can never
//! be lost between the unlock and the park, and `notify_one` wakes the longest waiter.
//!
//! Both counters wrap; `less` compares them as Go does, correct while fewer than 2^31 waiters
//! are outstanding.
//!
//! # Invariants
//! - `notify_gen` is written only under `lock`; `wait_gen` only by atomic increment.
//! - A `Waiter` lives on the stack of its parked goroutine and is linked into the list only under
//!   `lock`; a notifier unlinks it under `lock`, reads its fields, then readies it after
//!   unlocking (after the ready the frame may be gone).
//!
//! Deviation from Go: parking goes through `park`'s commit, which takes the list lock, re-checks
//! the ticket and links the waiter (Go holds the lock across the switch instead). No copy checker
//! is needed: a `Cond` that is borrowed cannot move.

use std::cell::Cell;
use std::fmt;
use std::ptr::null;
use std::sync::atomic::{AtomicU32, Ordering::*};

use super::mutex::MutexGuard;
use crate::rt::{G, WaitReason, park, ready};
use crate::util::lock::Lock;

/// A parked `wait` (Go's sudog as notifyList uses it).
struct Waiter {
    g: Cell<*mut G>,
    ticket: u32,
    next: Cell<*const Waiter>,
}

/// A condition variable: goroutines wait for a condition that others signal (Go's `sync.Cond`).
///
/// Use it with a [`Mutex`](super::Mutex) that protects the condition, and wait in a loop (a
/// woken waiter re-acquires the lock after others may have changed the state):
///
/// ```
/// use std::sync::Arc;
/// use gort::sync::{Cond, Mutex};
///
/// let pair = Arc::new((Mutex::new(false), Cond::new()));
/// let p = pair.clone();
/// gort::go(move || {
///     *p.0.lock() = true;
///     p.1.notify_one();
/// });
/// let (m, c) = &*pair;
/// let mut ready = m.lock();
/// while !*ready {
///     ready = c.wait(ready);
/// }
/// ```
///
/// Unlike std's `Condvar`, `wait` returns only after a notification (no spurious wakeups), as
/// Go's does. Notifying does not require holding the mutex.
pub struct Cond {
    /// Ticket of the next waiter (Go's wait).
    wait_gen: AtomicU32,
    /// Ticket of the next waiter to notify (Go's notify). Written under `lock`.
    notify_gen: AtomicU32,
    lock: Lock,
    /// Parked waiters in roughly ticket order. Protected by `lock`.
    head: Cell<*const Waiter>,
    tail: Cell<*const Waiter>,
}

// SAFETY: `head`, `tail` and the waiters they reach are touched only under `lock` (module
// invariants); everything else is atomic.
unsafe impl Send for Cond {}
// SAFETY: as above.
unsafe impl Sync for Cond {}
// No code that can panic runs while the list is being changed.
impl std::panic::UnwindSafe for Cond {}
impl std::panic::RefUnwindSafe for Cond {}

/// `a < b` for wrapping counters whose true difference is below 2^31 (Go's less).
fn less(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

impl Cond {
    /// Creates a condition variable with no waiters.
    pub const fn new() -> Cond {
        Cond {
            wait_gen: AtomicU32::new(0),
            notify_gen: AtomicU32::new(0),
            lock: Lock::new(),
            head: Cell::new(null()),
            tail: Cell::new(null()),
        }
    }

    /// Atomically unlocks the guard's mutex and parks until notified, then locks the mutex
    /// again and returns its guard (Go's Cond.Wait). On a plain thread it blocks the thread.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
        let mutex = guard.mutex();
        // Take the ticket while still holding the lock: a notify after the unlock covers us.
        let t = self.wait_gen.fetch_add(1, SeqCst);
        drop(guard);
        self.wait_ticket(t);
        mutex.lock()
    }

    /// Waits while `condition` holds (it is checked with the lock held, before each wait).
    pub fn wait_while<'a, T: ?Sized, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> MutexGuard<'a, T>
    where
        F: FnMut(&mut T) -> bool,
    {
        while condition(&mut *guard) {
            guard = self.wait(guard);
        }
        guard
    }

    /// Parks until ticket `t` is notified (Go's notifyListWait).
    fn wait_ticket(&self, t: u32) {
        if less(t, self.notify_gen.load(SeqCst)) {
            return;
        }
        let w = Waiter {
            g: Cell::new(std::ptr::null_mut()),
            ticket: t,
            next: Cell::new(null()),
        };
        park(WaitReason::SyncCondWait, &mut |gp| {
            self.lock.lock();
            if less(t, self.notify_gen.load(Relaxed)) {
                self.lock.unlock();
                return false;
            }
            w.g.set(gp);
            let wp: *const Waiter = &w;
            match self.tail.get() {
                // SAFETY: linked waiters are alive; the lock is held.
                tail if !tail.is_null() => unsafe { (*tail).next.set(wp) },
                _ => self.head.set(wp),
            }
            self.tail.set(wp);
            self.lock.unlock_final();
            true
        });
    }

    /// Wakes one waiter, the one that has waited longest, if there is any (Go's Signal).
    pub fn notify_one(&self) {
        // Fast path: nobody has taken a ticket since the last notification.
        if self.wait_gen.load(SeqCst) == self.notify_gen.load(SeqCst) {
            return;
        }
        self.lock.lock();
        let t = self.notify_gen.load(Relaxed);
        if t == self.wait_gen.load(SeqCst) {
            self.lock.unlock();
            return;
        }
        self.notify_gen.store(t.wrapping_add(1), SeqCst);
        // Find the holder of ticket t. If it has not parked yet it is not here, and it will see
        // its ticket notified and not park. It is near the front either way: waiters queue in
        // roughly ticket order.
        let mut prev: *const Waiter = null();
        let mut sp = self.head.get();
        while !sp.is_null() {
            // SAFETY: linked waiters are alive; the lock is held.
            let s = unsafe { &*sp };
            if s.ticket == t {
                let next = s.next.get();
                match prev.is_null() {
                    true => self.head.set(next),
                    // SAFETY: as above.
                    false => unsafe { (*prev).next.set(next) },
                }
                if next.is_null() {
                    self.tail.set(prev);
                }
                let gp = s.g.get();
                self.lock.unlock();
                // SAFETY: unlinked under the lock, so we are the parked waiter's one waker.
                unsafe { ready(gp) };
                return;
            }
            prev = sp;
            sp = s.next.get();
        }
        self.lock.unlock();
    }

    /// Wakes every waiter (Go's Broadcast).
    pub fn notify_all(&self) {
        if self.wait_gen.load(SeqCst) == self.notify_gen.load(SeqCst) {
            return;
        }
        self.lock.lock();
        let mut sp = self.head.replace(null());
        self.tail.set(null());
        // Every ticket taken so far is notified: earlier waiters are in the list, or will see
        // their ticket notified before parking.
        self.notify_gen.store(self.wait_gen.load(SeqCst), SeqCst);
        self.lock.unlock();
        while !sp.is_null() {
            // SAFETY: the waiters were unlinked under the lock and are still parked, so they
            // are alive until readied; `next` is read before the ready.
            let s = unsafe { &*sp };
            sp = s.next.get();
            // SAFETY: as above: unlinked under the lock, so this is its one waker.
            unsafe { ready(s.g.get()) };
        }
    }
}

impl Default for Cond {
    fn default() -> Cond {
        Cond::new()
    }
}

impl fmt::Debug for Cond {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cond").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn less_wraps() {
        assert!(super::less(1, 2));
        assert!(!super::less(2, 2));
        assert!(super::less(u32::MAX, 0));
        assert!(!super::less(0, u32::MAX));
    }
}
