//! The dynamic `Select` (a run-time number of cases), with crossbeam-channel's shape: `select`
//! picks a ready operation, and the caller completes it through `SelectedOperation`.
//!
//! Cases are readiness-only: a blocked `Select` is woken by an operation that would have
//! completed with it, and that operation proceeds as if the `Select` had not been there. The
//! selected operation then runs as a plain `recv`/`send`, which completes at once unless another
//! goroutine raced for the same channel in between, in which case it blocks like a plain call.

use std::time::Duration;

use super::{Case, Mode, select};
use crate::chan::raw::RawChan;
use crate::chan::{Receiver, SendError, Sender};
use crate::sys::deadline_after;

/// Selects over a set of channel operations known only at run time.
///
/// ```
/// let (tx, rx) = gort::chan::<i32>(1);
/// tx.send(7).unwrap();
/// let mut sel = gort::Select::new();
/// let i = sel.recv(&rx);
/// let op = sel.select();
/// assert_eq!(op.index(), i);
/// assert_eq!(op.recv(&rx), Some(7));
/// ```
#[derive(Default)]
pub struct Select<'a> {
    cases: Vec<Case<'a>>,
}

impl std::fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish()
    }
}

impl<'a> Select<'a> {
    pub fn new() -> Select<'a> {
        Select { cases: Vec::new() }
    }

    /// Adds a receive operation; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        self.push(r.raw(), false)
    }

    /// Adds a send operation; returns its index.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.push(s.raw(), true)
    }

    fn push(&mut self, chan: &'a RawChan, send: bool) -> usize {
        self.cases.push(Case {
            chan,
            send,
            elem: std::ptr::null_mut(),
            result: std::ptr::null_mut(),
        });
        self.cases.len() - 1
    }

    fn op(&self, r: Option<(usize, bool)>) -> Option<SelectedOperation<'a>> {
        r.map(|(index, _)| SelectedOperation {
            index,
            chan: self.cases[index].chan,
        })
    }

    /// Blocks until one of the operations is ready.
    ///
    /// # Panics
    /// If there are no operations (it would block forever).
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.op(select(&self.cases, Mode::Block))
            .expect("a blocking select returns an operation")
    }

    /// Returns a ready operation, or None if none is ready now.
    pub fn try_select(&mut self) -> Option<SelectedOperation<'a>> {
        self.op(select(&self.cases, Mode::NonBlock))
    }

    /// Waits at most `d` for an operation to become ready.
    pub fn select_timeout(&mut self, d: Duration) -> Option<SelectedOperation<'a>> {
        self.op(select(&self.cases, Mode::Until(deadline_after(d))))
    }
}

/// A ready operation chosen by `Select`; complete it with `recv` or `send` on the same channel.
#[must_use = "complete the selected operation with recv() or send()"]
pub struct SelectedOperation<'a> {
    index: usize,
    chan: &'a RawChan,
}

impl std::fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl SelectedOperation<'_> {
    /// The index `Select::recv`/`Select::send` returned for this operation.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a selected receive. `None` if the channel is closed and drained.
    ///
    /// # Panics
    /// If `r` is not the channel of the selected operation.
    pub fn recv<T>(self, r: &Receiver<T>) -> Option<T> {
        assert!(
            std::ptr::eq(r.raw(), self.chan),
            "SelectedOperation::recv: this receiver is not the selected operation's channel"
        );
        r.recv()
    }

    /// Completes a selected send.
    ///
    /// # Panics
    /// If `s` is not the channel of the selected operation.
    pub fn send<T>(self, s: &Sender<T>, v: T) -> Result<(), SendError<T>> {
        assert!(
            std::ptr::eq(s.raw(), self.chan),
            "SelectedOperation::send: this sender is not the selected operation's channel"
        );
        s.send(v)
    }
}
