//! `WaitGroup` (Go's src/sync/waitgroup.go): wait for a collection of goroutines to finish.
//!
//! Deviation: the transition to zero clears the waiter count in the same CAS that takes the
//! counter to zero (Go stores 0 afterwards and panics if an `Add` raced with it), so an `add`
//! concurrent with the last `done` is never lost.
//!
//! As in Go, a WaitGroup reused for a new round must see every `wait` of the previous round
//! return before the new round's first `add`: all rounds share one semaphore, so a waiter of the
//! new round could otherwise take a wake-up meant for the old one. `wait` detects that (the
//! counter is not zero when it wakes) and panics, as Go's does.
//!
//! `WaitGroup::go` (Go 1.25's `WaitGroup.Go`) is defined in `goroutine/`, the layer that starts
//! goroutines; this module sits below it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::*};

use super::sema::{semacquire, semrelease};
use crate::rt::WaitReason;

/// Go's state word: the counter in the high 32 bits, the number of waiters in the low 32.
/// Waiters sleep on `sema` in the semaphore table.
struct Inner {
    state: AtomicU64,
    sema: AtomicU32,
}

const ONE: u64 = 1 << 32;

/// Waits for a collection of goroutines to finish. Clones share the counter. `go` starts a
/// goroutine and counts it in one call; `add` and `done` count any other work.
///
/// ```
/// let wg = gort::sync::WaitGroup::new();
/// for _ in 0..10 {
///     wg.add(1);
///     let wg = wg.clone();
///     gort::go(move || wg.done());
/// }
/// wg.wait();
/// ```
#[derive(Clone)]
pub struct WaitGroup {
    inner: Arc<Inner>,
}

impl Default for WaitGroup {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &(self.inner.state.load(Relaxed) >> 32))
            .finish()
    }
}

impl WaitGroup {
    /// A wait group with a count of zero.
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                state: AtomicU64::new(0),
                sema: AtomicU32::new(0),
            }),
        }
    }

    /// Adds `n` to the counter.
    ///
    /// # Panics
    /// If the counter would exceed `u32::MAX`.
    pub fn add(&self, n: usize) {
        if n == 0 {
            return;
        }
        let r = self.inner.state.fetch_update(AcqRel, Acquire, |s| {
            let v = (s >> 32) + n as u64;
            (n <= u32::MAX as usize && v <= u32::MAX as u64)
                .then_some((v << 32) | (s & 0xffff_ffff))
        });
        if r.is_err() {
            panic!(
                "gort::sync::WaitGroup::add: counter overflow (more than {} outstanding)",
                u32::MAX
            );
        }
    }

    /// Subtracts one from the counter; wakes the waiters when it reaches zero.
    ///
    /// # Panics
    /// If the counter is already zero (more `done` calls than `add`ed).
    pub fn done(&self) {
        let r = self
            .inner
            .state
            .fetch_update(AcqRel, Acquire, |s| match s >> 32 {
                0 => None,
                // Last one: counter and waiters to zero at once; the waiters are released below.
                1 => Some(0),
                _ => Some(s - ONE),
            });
        match r {
            Err(_) => panic!(
                "gort::sync::WaitGroup::done: counter would go below zero (more done() calls than add())"
            ),
            Ok(s) if s >> 32 == 1 => {
                for _ in 0..(s as u32) {
                    semrelease(&self.inner.sema, false);
                }
            }
            Ok(_) => {}
        }
    }

    /// Blocks until the counter is zero.
    pub fn wait(&self) {
        self.wait_as(WaitReason::WaitGroup);
    }

    /// `wait`, shown in dumps with `reason` (`gort::scope`'s wait for its goroutines).
    pub(crate) fn wait_as(&self, reason: WaitReason) {
        let st = &self.inner.state;
        let mut s = st.load(Acquire);
        loop {
            if s >> 32 == 0 {
                return;
            }
            match st.compare_exchange_weak(s, s + 1, AcqRel, Acquire) {
                Ok(_) => {
                    semacquire(&self.inner.sema, false, reason);
                    if st.load(Acquire) >> 32 != 0 {
                        panic!(
                            "gort::sync::WaitGroup: reused (add() for a new round) before a wait() \
                             of the previous round had returned"
                        );
                    }
                    return;
                }
                Err(now) => s = now,
            }
        }
    }
}
