//! `WaitList`: a condition-variable-like list of parked goroutines (or threads), built on
//! park/ready. Used by WaitGroup, scopes and join. The condition is checked under the list's
//! lock inside the park commit, so a wakeup between the check and the park cannot be lost; Gs are
//! readied after the lock is released.

use std::sync::Mutex;

use crate::rt::g::{G, WaitReason};
use crate::rt::park::{park, ready};

struct GPtr(*mut G);
// SAFETY: a G pointer is handed between threads by design; Gs are never freed.
unsafe impl Send for GPtr {}

pub(crate) struct WaitList {
    waiters: Mutex<Vec<GPtr>>,
}

impl WaitList {
    pub(crate) const fn new() -> WaitList {
        WaitList {
            waiters: Mutex::new(Vec::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<GPtr>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Parks the caller until `done()` holds. `done` must become true only together with a
    /// later `wake_all` (the waker changes the state, then calls `wake_all`).
    pub(crate) fn wait_until(&self, reason: WaitReason, done: impl Fn() -> bool) {
        while !done() {
            park(reason, &mut |gp| {
                let mut w = self.lock();
                if done() {
                    return false;
                }
                w.push(GPtr(gp));
                true
            });
        }
    }

    /// Wakes every waiter.
    pub(crate) fn wake_all(&self) {
        let waiters = std::mem::take(&mut *self.lock());
        for g in waiters {
            ready(g.0);
        }
    }
}
