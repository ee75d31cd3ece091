//! Go's `context` package: cancellation and deadlines that propagate down a tree of contexts
//! (src/context/context.go).
//!
//! A context's `done()` channel is closed when it is cancelled, by its `CancelFn`, by its
//! deadline, or by the cancellation of an ancestor; `err()` then says why. Children register
//! with their cancellable parent (weakly), so cancelling a parent cancels every descendant with
//! the parent's error. Deadlines are `time::after_func` timers, stopped when the context is
//! cancelled early. `background()` is never cancelled; its `done()` never becomes ready.
//!
//! Semantics as Go's: a child's deadline is never later than its parent's; a child of a
//! cancelled parent starts cancelled with the parent's error; cancelling is idempotent.
//!
//! ```
//! use std::time::Duration;
//! use gort::context::{Context, Error};
//!
//! let (ctx, cancel) = Context::background().with_timeout(Duration::from_secs(10));
//! let worker = {
//!     let ctx = ctx.clone();
//!     gort::spawn(move || {
//!         gort::select! {
//!             recv(ctx.done()) -> _ => ctx.err(),
//!             recv(gort::after(Duration::from_secs(60))) -> _ => None,
//!         }
//!     })
//! };
//! cancel.cancel(); // or let the 10 s deadline pass
//! assert_eq!(worker.join().unwrap(), Some(Error::Canceled));
//! ```

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use crate::{Receiver, Sender};

/// Why a context was cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Error {
    /// Its `CancelFn` (or an ancestor's) was called.
    Canceled,
    /// Its deadline (or an ancestor's) passed.
    DeadlineExceeded,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Error::Canceled => "context canceled",
            Error::DeadlineExceeded => "context deadline exceeded",
        })
    }
}

impl std::error::Error for Error {}

struct State {
    err: Option<Error>,
    /// Closed (dropped) on cancellation.
    tx: Option<Sender<()>>,
    children: HashMap<usize, Weak<Inner>>,
    timer: Option<crate::time::AfterFunc>,
}

struct Inner {
    done: Receiver<()>,
    deadline: Option<Instant>,
    parent: Option<Arc<Inner>>,
    /// None for `background()`, which can never be cancelled.
    state: Option<Mutex<State>>,
}

/// A cancellation scope (Go's context.Context). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

/// Cancels the context it was returned with, and all its descendants (Go's CancelFunc).
#[derive(Clone)]
pub struct CancelFn {
    inner: Weak<Inner>,
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("deadline", &self.deadline())
            .field("err", &self.err())
            .finish()
    }
}

impl fmt::Debug for CancelFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelFn").finish_non_exhaustive()
    }
}

impl Inner {
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, State>> {
        self.state
            .as_ref()
            .map(|m| m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    fn key(self: &Arc<Self>) -> usize {
        Arc::as_ptr(self) as usize
    }

    /// Go's cancelCtx.cancel: records `err`, closes `done`, cancels the children, and (when
    /// asked) leaves the parent's child list.
    fn cancel(self: &Arc<Self>, err: Error, remove_from_parent: bool) {
        let Some(mut st) = self.lock() else {
            return;
        };
        if st.err.is_some() {
            return;
        }
        st.err = Some(err);
        let tx = st.tx.take();
        let children = std::mem::take(&mut st.children);
        let timer = st.timer.take();
        drop(st);
        if let Some(t) = timer {
            t.stop();
        }
        drop(tx);
        for child in children.values().filter_map(Weak::upgrade) {
            child.cancel(err, false);
        }
        if remove_from_parent
            && let Some(p) = self.nearest_cancellable_parent()
            && let Some(mut ps) = p.lock()
        {
            ps.children.remove(&self.key());
        }
    }

    fn nearest_cancellable_parent(&self) -> Option<&Arc<Inner>> {
        let mut p = self.parent.as_ref();
        while let Some(inner) = p {
            if inner.state.is_some() {
                return Some(inner);
            }
            p = inner.parent.as_ref();
        }
        None
    }

    fn err(&self) -> Option<Error> {
        self.lock().and_then(|s| s.err)
    }
}

impl Context {
    /// The root context: never cancelled, no deadline (Go's context.Background).
    pub fn background() -> Context {
        Context {
            inner: Arc::new(Inner {
                done: crate::never(),
                deadline: None,
                parent: None,
                state: None,
            }),
        }
    }

    /// A child cancelled by the returned `CancelFn` or when this context is.
    pub fn with_cancel(&self) -> (Context, CancelFn) {
        self.child(self.inner.deadline)
    }

    /// A child that is also cancelled when `d` has passed.
    pub fn with_timeout(&self, d: Duration) -> (Context, CancelFn) {
        match Instant::now().checked_add(d) {
            Some(t) => self.with_deadline(t),
            None => self.with_cancel(),
        }
    }

    /// A child that is also cancelled at `deadline` (never later than this context's own).
    pub fn with_deadline(&self, deadline: Instant) -> (Context, CancelFn) {
        if self.inner.deadline.is_some_and(|p| p <= deadline) {
            return self.with_cancel();
        }
        let (ctx, cancel) = self.child(Some(deadline));
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            ctx.inner.cancel(Error::DeadlineExceeded, true);
            return (ctx, cancel);
        }
        let weak = Arc::downgrade(&ctx.inner);
        let timer = crate::time::after_func_system(left, move || {
            if let Some(inner) = weak.upgrade() {
                inner.cancel(Error::DeadlineExceeded, true);
            }
        });
        match ctx.inner.lock() {
            Some(mut st) if st.err.is_none() => st.timer = Some(timer),
            _ => {
                timer.stop();
            }
        }
        (ctx, cancel)
    }

    fn child(&self, deadline: Option<Instant>) -> (Context, CancelFn) {
        let (tx, rx) = crate::chan::<()>(0);
        let inner = Arc::new(Inner {
            done: rx,
            deadline,
            parent: Some(self.inner.clone()),
            state: Some(Mutex::new(State {
                err: None,
                tx: Some(tx),
                children: HashMap::new(),
                timer: None,
            })),
        });
        // Go's propagateCancel: register with the nearest cancellable ancestor, or start
        // cancelled if it already is.
        if let Some(p) = inner.nearest_cancellable_parent() {
            let mut ps = p.lock().expect("cancellable parent has state");
            match ps.err {
                Some(err) => {
                    drop(ps);
                    inner.cancel(err, false);
                }
                None => {
                    ps.children.retain(|_, w| w.strong_count() > 0);
                    ps.children.insert(inner.key(), Arc::downgrade(&inner));
                }
            }
        }
        let cancel = CancelFn {
            inner: Arc::downgrade(&inner),
        };
        (Context { inner }, cancel)
    }

    /// A channel that is closed when this context is cancelled (use it in `select!`).
    pub fn done(&self) -> &Receiver<()> {
        &self.inner.done
    }

    /// Why the context was cancelled, or None while it is not.
    pub fn err(&self) -> Option<Error> {
        self.inner.err()
    }

    /// When the context will be cancelled by a deadline, if it has one.
    pub fn deadline(&self) -> Option<Instant> {
        self.inner.deadline
    }
}

impl Default for Context {
    fn default() -> Self {
        Context::background()
    }
}

impl CancelFn {
    /// Cancels the context and its descendants; later calls do nothing.
    pub fn cancel(&self) {
        if let Some(inner) = self.inner.upgrade() {
            inner.cancel(Error::Canceled, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn children(c: &Context) -> usize {
        c.inner.lock().map_or(0, |st| st.children.len())
    }

    /// Go's TestCancelRemoves: a cancelled child leaves its parent's child set, and a child
    /// cancelled before its deadline gives its timer back (stopped, not left to fire).
    #[test]
    fn cancel_removes_the_child_and_stops_its_timer() {
        let (parent, _pc) = Context::background().with_cancel();
        let (child, cc) = parent.with_cancel();
        assert_eq!(children(&parent), 1);
        cc.cancel();
        assert_eq!(children(&parent), 0);
        drop(child);

        let (timed, tc) = parent.with_timeout(Duration::from_secs(3600));
        assert_eq!(children(&parent), 1);
        assert!(timed.inner.lock().unwrap().timer.is_some());
        tc.cancel();
        assert_eq!(children(&parent), 0);
        assert!(
            timed.inner.lock().unwrap().timer.is_none(),
            "the timer was kept"
        );
        assert_eq!(timed.err(), Some(Error::Canceled));
    }
}
