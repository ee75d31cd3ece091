//! `Once`: run a function exactly once (Go's `src/sync/once.go`).
//!
//! A `done` flag for the fast path and a `RawMutex` for the slow path: the first caller runs `f`
//! under the mutex; concurrent callers park on the mutex (their wait shows as a mutex wait, as
//! in Go) and return once `f` has finished. `done` is set only after `f` returns, so no caller
//! returns before the initialisation is complete.
//!
//! Panics follow Go, not std: if `f` panics, the `Once` counts as done. The panic propagates to
//! the caller that ran `f`; every later call, and every caller that was waiting, returns without
//! running anything. (std's `Once` is poisoned instead and later calls panic.) This matches the
//! rest of `gort::sync`, which has no poisoning.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering::*};

use super::mutex::RawMutex;
use crate::rt::WaitReason;

/// Runs a function exactly once, however many goroutines call it (Go's `sync.Once`).
///
/// ```
/// static INIT: gort::sync::Once = gort::sync::Once::new();
/// let mut runs = 0;
/// INIT.call_once(|| runs += 1);
/// INIT.call_once(|| runs += 1);
/// assert_eq!(runs, 1);
/// assert!(INIT.is_completed());
/// ```
///
/// If the function panics, the `Once` is still complete: later calls do nothing (Go's rule;
/// std's `Once` would be poisoned instead).
pub struct Once {
    /// 1 once `f` has returned or panicked. Written under `m`.
    done: AtomicU32,
    m: RawMutex,
}

impl Once {
    /// A `Once` that has not run yet.
    pub const fn new() -> Once {
        Once {
            done: AtomicU32::new(0),
            m: RawMutex::new(),
        }
    }

    /// Runs `f` if no call has run it yet; otherwise waits until that run has finished (parking
    /// the goroutine, or blocking a plain thread) and returns without running `f`.
    ///
    /// Calling `call_once` on the same `Once` from inside `f` deadlocks, as in Go and std.
    #[inline]
    pub fn call_once<F: FnOnce()>(&self, f: F) {
        if self.done.load(Acquire) == 0 {
            self.call_slow(f);
        }
    }

    #[cold]
    fn call_slow<F: FnOnce()>(&self, f: F) {
        struct Unlock<'a>(&'a RawMutex);
        impl Drop for Unlock<'_> {
            fn drop(&mut self) {
                self.0.unlock();
            }
        }
        struct SetDone<'a>(&'a AtomicU32);
        impl Drop for SetDone<'_> {
            fn drop(&mut self) {
                self.0.store(1, Release);
            }
        }
        self.m.lock(WaitReason::SyncMutexLock);
        let _unlock = Unlock(&self.m);
        if self.done.load(Relaxed) == 0 {
            // Dropped (also on panic) before `_unlock`: done is set while the mutex is held.
            let _done = SetDone(&self.done);
            f();
        }
    }

    /// Whether a call has completed (returned or panicked).
    pub fn is_completed(&self) -> bool {
        self.done.load(Acquire) != 0
    }
}

impl Default for Once {
    fn default() -> Once {
        Once::new()
    }
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("completed", &self.is_completed())
            .finish()
    }
}
