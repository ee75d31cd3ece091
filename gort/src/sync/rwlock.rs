//! `RwLock<T>`: a goroutine-aware reader/writer lock (Go's `src/sync/rwmutex.go`).
//!
//! # Algorithm (Go's)
//! - `reader_count` counts readers holding or wanting the lock. A writer first takes `w` (so
//!   writers queue among themselves on an ordinary `RawMutex`), then subtracts `MAX_READERS`
//!   from `reader_count`: from then on the count is negative, and arriving readers see a
//!   pending writer and park on `reader_sem`. This is what keeps a stream of readers from
//!   starving writers.
//! - The writer adds the number of readers that were active when it announced itself to
//!   `reader_wait` and, unless that is zero, parks on `writer_sem`; each departing reader that
//!   sees a negative count decrements `reader_wait`, and the last one wakes the writer.
//! - Unlocking a writer adds `MAX_READERS` back, wakes as many readers as queued up meanwhile,
//!   then releases `w`.
//!
//! Invariants: at most `MAX_READERS - 1` concurrent readers; `reader_wait` is non-zero only while
//! a writer waits for departing readers. The counters are SeqCst throughout, as Go's atomics.
//!
//! Deviations from Go: unlocking through guards makes Go's "RUnlock of unlocked RWMutex"
//! misuse unreachable, so those checks are internal invariants (`fatal!`). `try_read` /
//! `try_write` follow Go 1.18's TryRLock / TryLock.
//!
//! As in Go, read locks are not recursive: a goroutine that holds a read lock and asks for
//! another while a writer waits deadlocks, because the writer excludes new readers.

use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering::*};

use super::mutex::RawMutex;
use super::sema::{semacquire, semrelease};
use crate::rt::{WaitReason, check_preempt};
use crate::util::fatal;

/// Go's rwmutexMaxReaders.
const MAX_READERS: i32 = 1 << 30;

/// The reader/writer lock state; no data.
struct RawRwLock {
    /// Held by the writer that owns or is acquiring the lock.
    w: RawMutex,
    /// Writers wait here for departing readers.
    writer_sem: AtomicU32,
    /// Readers wait here for the writer to finish.
    reader_sem: AtomicU32,
    /// Readers holding or waiting; minus MAX_READERS while a writer is pending or holds it.
    reader_count: AtomicI32,
    /// Readers the pending writer still waits for.
    reader_wait: AtomicI32,
}

impl RawRwLock {
    const fn new() -> RawRwLock {
        RawRwLock {
            w: RawMutex::new(),
            writer_sem: AtomicU32::new(0),
            reader_sem: AtomicU32::new(0),
            reader_count: AtomicI32::new(0),
            reader_wait: AtomicI32::new(0),
        }
    }

    /// Go's RLock.
    #[inline]
    fn read(&self) {
        check_preempt();
        if self.reader_count.fetch_add(1, SeqCst) + 1 < 0 {
            // A writer is pending: wait for it.
            semacquire(&self.reader_sem, false, WaitReason::SyncRWMutexRLock);
        }
    }

    /// Go's TryRLock.
    fn try_read(&self) -> bool {
        let mut c = self.reader_count.load(SeqCst);
        loop {
            if c < 0 {
                return false;
            }
            match self
                .reader_count
                .compare_exchange_weak(c, c + 1, SeqCst, SeqCst)
            {
                Ok(_) => return true,
                Err(cur) => c = cur,
            }
        }
    }

    /// Go's RUnlock.
    #[inline]
    fn read_unlock(&self) {
        let r = self.reader_count.fetch_sub(1, SeqCst) - 1;
        if r < 0 {
            self.read_unlock_slow(r);
        }
    }

    /// Go's rUnlockSlow: a writer is pending.
    #[cold]
    fn read_unlock_slow(&self, r: i32) {
        if r + 1 == 0 || r + 1 == -MAX_READERS {
            fatal!("sync: RUnlock of unlocked RWMutex");
        }
        if self.reader_wait.fetch_sub(1, SeqCst) - 1 == 0 {
            // The last departing reader lets the writer in.
            semrelease(&self.writer_sem, false);
        }
    }

    /// Go's Lock.
    fn write(&self) {
        // First, resolve competition with other writers.
        self.w.lock(WaitReason::SyncRWMutexLock);
        // Announce the pending writer to readers.
        let r = self.reader_count.fetch_sub(MAX_READERS, SeqCst);
        // Wait for the readers that are still active.
        if r != 0 && self.reader_wait.fetch_add(r, SeqCst) + r != 0 {
            semacquire(&self.writer_sem, false, WaitReason::SyncRWMutexLock);
        }
    }

    /// Go's TryLock.
    fn try_write(&self) -> bool {
        if !self.w.try_lock() {
            return false;
        }
        if self
            .reader_count
            .compare_exchange(0, -MAX_READERS, SeqCst, SeqCst)
            .is_err()
        {
            self.w.unlock();
            return false;
        }
        true
    }

    /// Go's Unlock.
    fn write_unlock(&self) {
        // Announce to readers that there is no active writer.
        let r = self.reader_count.fetch_add(MAX_READERS, SeqCst) + MAX_READERS;
        if r >= MAX_READERS {
            fatal!("sync: Unlock of unlocked RWMutex");
        }
        // Wake the readers that queued behind this writer.
        for _ in 0..r {
            semrelease(&self.reader_sem, false);
        }
        // Let other writers proceed.
        self.w.unlock();
    }
}

/// A reader/writer lock that parks goroutines (Go's `sync.RWMutex`, with std's API).
///
/// Any number of readers or one writer. A writer that asks for the lock excludes new readers
/// until it has had its turn, so a stream of readers cannot starve writers. Read locks are
/// not recursive: taking a second read lock while holding one can deadlock if a writer
/// arrives in between. No poisoning.
///
/// ```
/// let l = gort::sync::RwLock::new(vec![1]);
/// {
///     let a = l.read();
///     let b = l.read();
///     assert_eq!(a.len() + b.len(), 2);
/// }
/// l.write().push(2);
/// assert_eq!(*l.read(), [1, 2]);
/// ```
pub struct RwLock<T: ?Sized> {
    raw: RawRwLock,
    data: UnsafeCell<T>,
}

// SAFETY: as std's RwLock: the value moves between threads with the lock (T: Send), and readers
// on several threads share `&T` at once (T: Sync).
unsafe impl<T: ?Sized + Send> Send for RwLock<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Send + Sync> Sync for RwLock<T> {}
// A panicking holder releases the lock as its guard drops, and the lock's own state is never
// left half-updated. There is no poisoning (std's RwLock claims unwind safety for every T
// because it poisons), so the claim is made only for a T that is itself unwind safe.
impl<T: ?Sized + std::panic::UnwindSafe> std::panic::UnwindSafe for RwLock<T> {}
impl<T: ?Sized + std::panic::UnwindSafe> std::panic::RefUnwindSafe for RwLock<T> {}

/// Shared access to the data of an [`RwLock`]; releases the read lock when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

/// Exclusive access to the data of an [`RwLock`]; releases the write lock when dropped.
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    lock: &'a RwLock<T>,
    _not_send: PhantomData<*const ()>,
}

// SAFETY: a shared guard only gives out `&T`, as std's guards.
unsafe impl<T: ?Sized + Sync> Sync for RwLockReadGuard<'_, T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for RwLockWriteGuard<'_, T> {}

impl<T> RwLock<T> {
    /// Creates an unlocked lock holding `value`.
    pub const fn new(value: T) -> RwLock<T> {
        RwLock {
            raw: RawRwLock::new(),
            data: UnsafeCell::new(value),
        }
    }

    /// Consumes the lock and returns its value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Acquires a read lock, parking while a writer holds the lock or waits for it.
    #[inline]
    pub fn read(&self) -> RwLockReadGuard<'_, T> {
        self.raw.read();
        RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Acquires a read lock if no writer holds or waits for the lock.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.raw.try_read().then(|| RwLockReadGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Acquires the write lock, parking until every reader and writer ahead has left.
    pub fn write(&self) -> RwLockWriteGuard<'_, T> {
        self.raw.write();
        RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Acquires the write lock if nobody holds the lock at all.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.raw.try_write().then(|| RwLockWriteGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }

    /// Mutable access without locking: `&mut self` proves nobody else holds the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: a read lock is held, so no writer accesses the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.read_unlock();
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the write lock is held, so no one else accesses the data.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only access through the guard.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.raw.write_unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("RwLock");
        match self.try_read() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}
