//! Go's `context` package: cancellation and deadlines that propagate down a tree of contexts
//! (src/context/context.go).
//!
//! A context's `done()` channel is closed when it is cancelled, by its `CancelFn`, by its
//! deadline, or by the cancellation of an ancestor; `err()` then says why, and nothing else
//! closes it. Deadlines are `time::after_func` timers, stopped when the context is cancelled
//! early. `background()` is never cancelled; its `done()` never becomes ready.
//!
//! Ownership follows Go's references, so that whatever could still cancel a context keeps it
//! alive: its `CancelFn`, its pending deadline timer, and its cancellable parent (which holds its
//! children until they are cancelled, Go's `children` map) each hold it strongly, as do its
//! `Context` clones. A child points back to its parent weakly (only to leave the parent's map
//! when cancelled), so parent and child form no reference cycle. A context that nothing can
//! cancel any more is freed, and its `done()` stays open for ever (`Sender::leave_open`), as in
//! Go, where such a context is merely unreachable. As in Go, a child that is never cancelled
//! stays in its parent's map until the parent is cancelled or freed.
//!
//! Cancelling and freeing walk the tree with a work list, not by recursion: a chain of contexts
//! may be deeper than a goroutine stack allows frames (Go's stacks grow; ours do not).
//!
//! Semantics as Go's: a child's deadline is never later than its parent's; a child of a
//! cancelled parent starts cancelled with the parent's error; cancelling is idempotent.
//!
//! Go's later additions are here too:
//! - values (`with_value` / `value`), keyed by type rather than by an arbitrary key: a Go
//!   program keys by an unexported type anyway, and a type key needs no downcast at the call
//!   site. A value context shares its parent's cancellation; the values form a list shared by
//!   every context below, so a lookup walks only the values, never the cancellation tree;
//! - a cancellation cause (`with_cancel_cause` / `cause`), inherited by descendants, as Go's
//!   `WithCancelCause` and `Cause`;
//! - `without_cancel`, which keeps the values and drops the cancellation;
//! - `after_func`, which starts a goroutine when the context is cancelled, registered on the
//!   context itself (Go's `AfterFunc`; no goroutine waits in the meantime).
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

use std::any::Any;
use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::*};
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

/// Why a context was cancelled, as the canceller put it (Go's context.Cause): any error.
pub type Cause = Arc<dyn std::error::Error + Send + Sync>;

struct State {
    err: Option<Error>,
    /// The cause given to a `CancelCauseFn` (or inherited); `err` when none was.
    cause: Option<Cause>,
    /// Closed (dropped) on cancellation.
    tx: Option<Sender<()>>,
    /// The children registered with this context, until they are cancelled.
    children: HashMap<usize, Arc<Inner>>,
    timer: Option<crate::time::AfterFunc>,
    /// Functions to start when the context is cancelled, by registration number.
    after: HashMap<usize, Pending>,
}

/// An `after_func` registration waiting for its context to be cancelled.
struct Pending {
    f: Box<dyn FnOnce() + Send>,
    claim: Arc<AtomicU8>,
    loc: &'static Location<'static>,
}

/// An `after_func` registration's fate: whoever moves it out of `WAITING` decides it.
const WAITING: u8 = 0;
const STARTED: u8 = 1;
const STOPPED: u8 = 2;

/// A value attached by `with_value`, and the ones attached above it.
struct ValueNode {
    value: Box<dyn Any + Send + Sync>,
    next: Option<Arc<ValueNode>>,
}

struct Inner {
    done: Receiver<()>,
    deadline: Option<Instant>,
    /// The nearest cancellable ancestor, whose child map holds this context.
    parent: Option<Weak<Inner>>,
    /// None for `background()`, which can never be cancelled.
    state: Option<Mutex<State>>,
}

/// A cancellation scope (Go's context.Context). Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
    /// The nearest value first.
    values: Option<Arc<ValueNode>>,
}

/// Cancels the context it was returned with, and all its descendants (Go's CancelFunc).
///
/// Dropping it does not cancel, as forgetting to call Go's does not: call `cancel` when the
/// work is done. Until then the context stays registered with its parent, and one made by
/// `with_timeout` or `with_deadline` keeps its timer pending until the deadline (Go's `vet`
/// warns of such a lost cancel; nothing here can).
#[derive(Clone)]
pub struct CancelFn {
    inner: Arc<Inner>,
    /// Run by `cancel` after cancelling, in the caller (`signal::notify_context` stops its
    /// signals there, as Go's stop function does).
    also: Option<Arc<dyn Fn() + Send + Sync>>,
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

    /// Go's cancelCtx.cancel: records `err` and `cause`, closes `done`, cancels the
    /// descendants with the same, starts the `after_func`s, and (when asked) leaves the
    /// parent's child map.
    fn cancel(self: &Arc<Self>, err: Error, cause: Option<Cause>, remove_from_parent: bool) {
        let mut work = vec![self.clone()];
        // Started once the whole tree is cancelled, so that nothing a start does can leave a
        // descendant uncancelled.
        let mut start = Vec::new();
        while let Some(ctx) = work.pop() {
            let Some(mut st) = ctx.lock() else {
                continue;
            };
            if st.err.is_some() {
                continue;
            }
            st.err = Some(err);
            st.cause = cause.clone();
            let tx = st.tx.take();
            let children = std::mem::take(&mut st.children);
            let timer = st.timer.take();
            let after = std::mem::take(&mut st.after);
            drop(st);
            if let Some(t) = timer {
                t.stop();
            }
            drop(tx);
            start.extend(after.into_values());
            work.extend(children.into_values());
        }
        for p in start {
            if p.claim
                .compare_exchange(WAITING, STARTED, AcqRel, Acquire)
                .is_ok()
            {
                crate::time::go_or_retry(false, crate::goroutine::body(p.f), p.loc);
            }
        }
        if remove_from_parent
            && let Some(p) = self.parent.as_ref().and_then(Weak::upgrade)
            && let Some(mut ps) = p.lock()
        {
            ps.children.remove(&self.key());
        }
    }

    /// For a context being freed: leaves `done` open for ever and moves its children to `work`.
    fn release(&mut self, work: &mut Vec<Arc<Inner>>) {
        if let Some(m) = self.state.as_mut() {
            let st = m.get_mut().unwrap_or_else(|e| e.into_inner());
            if let Some(tx) = st.tx.take() {
                tx.leave_open();
            }
            work.extend(st.children.drain().map(|(_, c)| c));
            st.after.clear();
        }
    }

    fn err(&self) -> Option<Error> {
        self.lock().and_then(|s| s.err)
    }

    fn cause(&self) -> Option<Cause> {
        let st = self.lock()?;
        let err = st.err?;
        Some(st.cause.clone().unwrap_or_else(|| Arc::new(err)))
    }
}

impl Drop for Inner {
    /// Nothing can cancel this context any more. Its children are freed here too, with a work
    /// list (each child's own drop then finds no children).
    fn drop(&mut self) {
        let mut work = Vec::new();
        self.release(&mut work);
        while let Some(child) = work.pop() {
            if let Ok(mut inner) = Arc::try_unwrap(child) {
                inner.release(&mut work);
            }
        }
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
            values: None,
        }
    }

    /// A child cancelled by the returned `CancelFn` or when this context is.
    pub fn with_cancel(&self) -> (Context, CancelFn) {
        self.child(self.inner.deadline)
    }

    /// A child that is also cancelled when `d` has passed. A `d` too large for an `Instant`
    /// (`Duration::MAX`, say) gives a child with no deadline, as `with_cancel` does: its
    /// `deadline()` is None.
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
            ctx.inner.cancel(Error::DeadlineExceeded, None, true);
            return (ctx, cancel);
        }
        // The timer holds the context until it fires or is stopped, as Go's does.
        let inner = ctx.inner.clone();
        let timer = crate::time::after_func_system(left, move || {
            inner.cancel(Error::DeadlineExceeded, None, true);
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
        // The nearest cancellable ancestor: this context, unless it is `background()`.
        let parent = self.inner.state.is_some().then_some(&self.inner);
        let inner = Arc::new(Inner {
            done: rx,
            deadline,
            parent: parent.map(Arc::downgrade),
            state: Some(Mutex::new(State {
                err: None,
                tx: Some(tx),
                cause: None,
                children: HashMap::new(),
                timer: None,
                after: HashMap::new(),
            })),
        });
        // Go's propagateCancel: register with the parent, or start cancelled if it already is.
        if let Some(p) = parent {
            let mut ps = p.lock().expect("cancellable parent has state");
            match ps.err {
                Some(err) => {
                    let cause = ps.cause.clone();
                    drop(ps);
                    inner.cancel(err, cause, false);
                }
                None => {
                    ps.children.insert(inner.key(), inner.clone());
                }
            }
        }
        let cancel = CancelFn {
            inner: inner.clone(),
            also: None,
        };
        let values = self.values.clone();
        (Context { inner, values }, cancel)
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

    /// A child like `with_cancel`'s whose canceller says why (Go's WithCancelCause): see
    /// `cause`.
    pub fn with_cancel_cause(&self) -> (Context, CancelCauseFn) {
        let (ctx, cancel) = self.with_cancel();
        (
            ctx,
            CancelCauseFn {
                inner: cancel.inner,
            },
        )
    }

    /// Why the context was cancelled (Go's context.Cause): the cause given to the
    /// `CancelCauseFn` that cancelled it or an ancestor, else its `err()`; None while it is not
    /// cancelled.
    pub fn cause(&self) -> Option<Cause> {
        self.inner.cause()
    }

    /// A context that carries `value` and is cancelled exactly when this one is (Go's
    /// WithValue). Values are keyed by type: `value::<V>()` here and in every descendant finds
    /// the nearest value of type `V`. To carry two values of one type, wrap them in types of
    /// their own.
    pub fn with_value<V: Any + Send + Sync>(&self, value: V) -> Context {
        Context {
            inner: self.inner.clone(),
            values: Some(Arc::new(ValueNode {
                value: Box::new(value),
                next: self.values.clone(),
            })),
        }
    }

    /// The value of type `V` attached by the nearest `with_value` on the way up, if any (Go's
    /// Value).
    pub fn value<V: Any + Send + Sync>(&self) -> Option<&V> {
        let mut node = self.values.as_deref();
        while let Some(n) = node {
            if let Some(v) = n.value.downcast_ref::<V>() {
                return Some(v);
            }
            node = n.next.as_deref();
        }
        None
    }

    /// A context with this one's values that is never cancelled and has no deadline (Go's
    /// WithoutCancel): for work that must finish even when its caller gives up.
    pub fn without_cancel(&self) -> Context {
        Context {
            values: self.values.clone(),
            ..Context::background()
        }
    }

    /// Starts `f` in a goroutine of its own once this context is cancelled, or at once if it
    /// already is (Go's context.AfterFunc). No goroutine waits in the meantime. `f` never runs
    /// for a context that can never be cancelled (`background()`, `without_cancel()`), or
    /// once nothing can cancel this one any more. The goroutine's spawn site is this call.
    #[track_caller]
    pub fn after_func(&self, f: impl FnOnce() + Send + 'static) -> AfterFunc {
        static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
        let claim = Arc::new(AtomicU8::new(WAITING));
        let loc = Location::caller();
        let id = NEXT_ID.fetch_add(1, Relaxed);
        let handle = AfterFunc {
            claim: claim.clone(),
            ctx: Arc::downgrade(&self.inner),
            id,
        };
        if let Some(mut st) = self.inner.lock() {
            if st.err.is_none() {
                let f = Box::new(f);
                st.after.insert(id, Pending { f, claim, loc });
            } else {
                drop(st);
                claim.store(STARTED, Release);
                crate::time::go_or_retry(false, crate::goroutine::body(f), loc);
            }
        }
        handle
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
        self.inner.cancel(Error::Canceled, None, true);
        if let Some(also) = &self.also {
            also();
        }
    }

    /// This `CancelFn`, also running `also` whenever it is called.
    pub(crate) fn with_also(self, also: impl Fn() + Send + Sync + 'static) -> CancelFn {
        CancelFn {
            also: Some(Arc::new(also)),
            ..self
        }
    }
}

/// Cancels the context it was returned with, and all its descendants, with a cause (Go's
/// CancelCauseFunc).
#[derive(Clone)]
pub struct CancelCauseFn {
    inner: Arc<Inner>,
}

impl CancelCauseFn {
    /// Cancels the context and its descendants: their `err()` becomes `Canceled` and their
    /// `cause()` this `cause` (a `&str` or `String` will do). Later calls do nothing; the
    /// first cause stays.
    pub fn cancel(&self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) {
        let cause: Cause = Arc::from(cause.into());
        self.inner.cancel(Error::Canceled, Some(cause), true);
    }
}

impl fmt::Debug for CancelCauseFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelCauseFn").finish_non_exhaustive()
    }
}

/// The link between a context and a function `Context::after_func` registered on it.
pub struct AfterFunc {
    claim: Arc<AtomicU8>,
    ctx: Weak<Inner>,
    id: usize,
}

impl AfterFunc {
    /// Unregisters the function. Returns true if this call kept it from running; false if it
    /// was already started (the context was cancelled) or stopped. It does not wait for a
    /// started function to finish (Go's stop function).
    pub fn stop(&self) -> bool {
        if self
            .claim
            .compare_exchange(WAITING, STOPPED, AcqRel, Acquire)
            .is_err()
        {
            return false;
        }
        if let Some(inner) = self.ctx.upgrade() {
            let pending = inner.lock().and_then(|mut st| st.after.remove(&self.id));
            // Dropped unlocked: what `f` captured may use this context when it drops.
            drop(pending);
        }
        true
    }
}

impl fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AfterFunc").finish_non_exhaustive()
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

    /// Go's TestCustomContextAfterFuncUnregisterAfterFunc: a stopped `after_func` leaves its
    /// context's registrations, so a long-lived context does not collect stopped ones.
    #[test]
    fn stop_unregisters_the_after_func() {
        let (ctx, _cancel) = Context::background().with_cancel();
        let registered = |c: &Context| c.inner.lock().map_or(0, |st| st.after.len());
        let stop = ctx.after_func(|| {});
        assert_eq!(registered(&ctx), 1);
        assert!(stop.stop());
        assert_eq!(registered(&ctx), 0);
    }
}
