//! `WaitGroup` (Go's sync.WaitGroup): wait for a collection of goroutines to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use crate::rt::g::WaitReason;
use crate::wait::WaitList;

struct Inner {
    count: AtomicUsize,
    waiters: WaitList,
}

/// Waits for a collection of goroutines to finish. Clones share the counter.
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
            .field("count", &self.inner.count.load(Relaxed))
            .finish()
    }
}

impl WaitGroup {
    pub fn new() -> WaitGroup {
        WaitGroup {
            inner: Arc::new(Inner {
                count: AtomicUsize::new(0),
                waiters: WaitList::new(),
            }),
        }
    }

    /// Adds `n` to the counter.
    pub fn add(&self, n: usize) {
        if self
            .inner
            .count
            .fetch_add(n, AcqRel)
            .checked_add(n)
            .is_none()
        {
            panic!("gort::sync::WaitGroup::add: counter overflow");
        }
    }

    /// Subtracts one from the counter; wakes the waiters when it reaches zero.
    ///
    /// # Panics
    /// If the counter is already zero (more `done` calls than `add`ed).
    pub fn done(&self) {
        let prev = self
            .inner
            .count
            .fetch_update(AcqRel, Acquire, |c| c.checked_sub(1));
        match prev {
            Err(_) => panic!(
                "gort::sync::WaitGroup::done: counter would go below zero (more done() calls than add())"
            ),
            Ok(1) => self.inner.waiters.wake_all(),
            Ok(_) => {}
        }
    }

    /// Blocks until the counter is zero.
    pub fn wait(&self) {
        self.inner.waiters.wait_until(WaitReason::WaitGroup, || {
            self.inner.count.load(Acquire) == 0
        });
    }
}
