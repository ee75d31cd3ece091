//! `Semaphore`: a weighted semaphore with FIFO waiters (golang.org/x/sync/semaphore's
//! `Weighted`).
//!
//! State: the size (fixed), the permits currently held (`cur`), and a FIFO list of waiters, each
//! asking for `n` permits. `acquire` succeeds at once only if enough permits are free *and*
//! nobody is queued; otherwise it queues at the tail. `release` grants permits to waiters from
//! the head for as long as the head's request fits, and stops at the first that does not, even
//! if a later, smaller request would fit: a large request is never starved by small ones
//! (x/sync's reasoning: a semaphore used as a reader/writer lock with N permits).
//!
//! # Invariants
//! - `cur <= size`; every permit granted to a waiter is added to `cur` by the releaser before the
//!   waiter is readied, so a woken waiter owns its permits.
//! - `Waiter`s live on their parked goroutine's stack, are linked and unlinked only under
//!   `lock`, and are readied after the lock is released, with everything read from them first.
//!
//! # Deviations from x/sync
//! - No context: `acquire` cannot be cancelled, so a request for more than the size would block
//!   forever. It panics instead, saying so.
//! - x/sync's waiters block on a channel each; here they park through `park` directly. The state
//!   lives under the runtime's short spin-then-futex `Lock` (Go's own runtime mutex); a
//!   `gort::sync::Mutex` could not be used because the park commit runs on the scheduler, where
//!   a goroutine lock must not be taken.

use std::cell::Cell;
use std::fmt;
use std::ptr::null;

use crate::rt::{G, WaitReason, check_preempt, park, ready};
use crate::util::lock::Lock;

/// A queued `acquire`.
struct Waiter {
    g: Cell<*mut G>,
    n: usize,
    next: Cell<*const Waiter>,
}

/// State protected by `Semaphore::lock`.
struct State {
    /// Permits held.
    cur: Cell<usize>,
    /// FIFO of waiters.
    head: Cell<*const Waiter>,
    tail: Cell<*const Waiter>,
}

/// A weighted semaphore: bounds concurrent access to a resource by a number of permits
/// (golang.org/x/sync/semaphore's `Weighted`).
///
/// Waiters are served in FIFO order: a request that does not fit blocks every request behind
/// it, so large requests are not starved by a stream of small ones.
///
/// ```
/// let sem = gort::sync::Semaphore::new(3);
/// sem.acquire(2);
/// assert!(sem.try_acquire(1));
/// assert!(!sem.try_acquire(1));
/// sem.release(3);
/// ```
pub struct Semaphore {
    size: usize,
    lock: Lock,
    state: State,
}

// SAFETY: `state` and the waiters it reaches are touched only under `lock`.
unsafe impl Send for Semaphore {}
// SAFETY: as above.
unsafe impl Sync for Semaphore {}
// A panic can never leave the state half-updated: the only panics (misuse) happen after the
// lock is released and before anything changed.
impl std::panic::UnwindSafe for Semaphore {}
impl std::panic::RefUnwindSafe for Semaphore {}

impl Semaphore {
    /// Creates a semaphore with `permits` permits, all available.
    pub const fn new(permits: usize) -> Semaphore {
        Semaphore {
            size: permits,
            lock: Lock::new(),
            state: State {
                cur: Cell::new(0),
                head: Cell::new(null()),
                tail: Cell::new(null()),
            },
        }
    }

    /// The permits the semaphore was created with.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Permits not held right now (a snapshot).
    pub fn available(&self) -> usize {
        self.lock.lock();
        let free = self.size - self.state.cur.get();
        self.lock.unlock();
        free
    }

    /// Takes `n` permits if they are free and nobody is queued. Must hold the lock.
    fn take_now(&self, n: usize) -> bool {
        let s = &self.state;
        if self.size - s.cur.get() >= n && s.head.get().is_null() {
            s.cur.set(s.cur.get() + n);
            return true;
        }
        false
    }

    /// Acquires `n` permits, parking (FIFO) until they are available. On a plain thread it
    /// blocks the thread.
    ///
    /// # Panics
    /// If `n` is larger than the semaphore's size: such a request could never be granted.
    pub fn acquire(&self, n: usize) {
        check_preempt();
        self.lock.lock();
        let ok = self.take_now(n);
        self.lock.unlock();
        if ok {
            return;
        }
        if n > self.size {
            panic!(
                "gort::sync::Semaphore::acquire: requested {n} permits from a semaphore of size {}; \
                 this could never succeed",
                self.size
            );
        }
        let w = Waiter {
            g: Cell::new(std::ptr::null_mut()),
            n,
            next: Cell::new(null()),
        };
        park(WaitReason::Semacquire, &mut |gp| {
            self.lock.lock();
            if self.take_now(n) {
                self.lock.unlock();
                return false;
            }
            w.g.set(gp);
            let wp: *const Waiter = &w;
            let s = &self.state;
            match s.tail.get() {
                // SAFETY: queued waiters are alive; the lock is held.
                tail if !tail.is_null() => unsafe { (*tail).next.set(wp) },
                _ => s.head.set(wp),
            }
            s.tail.set(wp);
            self.lock.unlock_final();
            true
        });
        // Woken by `release`, which counted our permits in `cur` (or the park was declined
        // because they were free).
    }

    /// Acquires `n` permits if they are available now and nobody is queued; never blocks.
    pub fn try_acquire(&self, n: usize) -> bool {
        self.lock.lock();
        let ok = self.take_now(n);
        self.lock.unlock();
        ok
    }

    /// Returns `n` permits and wakes the waiters at the head of the queue whose requests now
    /// fit.
    ///
    /// # Panics
    /// If more permits are released than are held.
    pub fn release(&self, n: usize) {
        self.lock.lock();
        let s = &self.state;
        let cur = s.cur.get();
        if n > cur {
            self.lock.unlock();
            panic!(
                "gort::sync::Semaphore::release: released {n} permits but only {cur} are held \
                 (size {}); release must match earlier acquires",
                self.size
            );
        }
        s.cur.set(cur - n);
        // Grant from the head while the head's request fits. The granted waiters form a prefix
        // of the list; cut it off and wake it after unlocking.
        let first = s.head.get();
        let mut last: *const Waiter = null();
        loop {
            let wp = s.head.get();
            if wp.is_null() {
                break;
            }
            // SAFETY: queued waiters are alive; the lock is held.
            let w = unsafe { &*wp };
            if self.size - s.cur.get() < w.n {
                break;
            }
            s.cur.set(s.cur.get() + w.n);
            s.head.set(w.next.get());
            last = wp;
        }
        if last.is_null() {
            self.lock.unlock();
            return;
        }
        if s.head.get().is_null() {
            s.tail.set(null());
        }
        // SAFETY: `last` was queued; the lock is held.
        unsafe { (*last).next.set(null()) };
        self.lock.unlock();
        let mut wp = first;
        while !wp.is_null() {
            // SAFETY: the granted waiters are unlinked and still parked, so alive until readied;
            // `next` is read before the ready.
            let w = unsafe { &*wp };
            wp = w.next.get();
            // SAFETY: unlinked and granted by us: we are the parked waiter's one waker.
            unsafe { ready(w.g.get()) };
        }
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One snapshot under the lock (not `available()` plus a second locking): the two numbers
        // belong together.
        self.lock.lock();
        let available = self.size - self.state.cur.get();
        let mut waiters = 0usize;
        let mut w = self.state.head.get();
        while !w.is_null() {
            waiters += 1;
            // SAFETY: queued waiters are alive while they are queued; the lock is held.
            w = unsafe { (*w).next.get() };
        }
        self.lock.unlock();
        f.debug_struct("Semaphore")
            .field("size", &self.size)
            .field("available", &available)
            .field("waiters", &waiters)
            .finish()
    }
}
