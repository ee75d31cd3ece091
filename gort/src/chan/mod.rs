//! Channels (Go's `chan T`): typed, multi-producer multi-consumer, buffered or unbuffered.
//!
//! The typed `Sender`/`Receiver` own the values and the handle counts; `raw` is the
//! type-erased core after Go's chan.go (its waiter queues are in `crate::wait`). A channel
//! closes when `close` is called or the last `Sender` is dropped; dropping the last `Receiver`
//! also closes it, so blocked and future sends fail and return their value, and drops the
//! values still buffered, as std's channels do (nobody could ever receive them).

mod error;
mod future;
pub(crate) mod raw;
pub(crate) mod slot;
mod stash;

pub use error::{RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError};
pub use future::{RecvFuture, SendFuture};

use std::fmt;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
use std::sync::Arc;
use std::sync::atomic::Ordering::*;
use std::time::Duration;

use crate::sys::deadline_after;
use crate::wait::Status;
use crate::wait::select::{Mode, select};
use raw::RawChan;
use slot::{RecvSlot, SendSlot};

/// Creates a channel with room for `cap` buffered values; `cap == 0` is unbuffered (a send
/// completes only when a receiver takes the value).
///
/// # Panics
/// If the buffer for `cap` values cannot be allocated.
///
/// ```
/// let (tx, rx) = gort::chan::<u32>(1);
/// gort::go(move || tx.send(42).unwrap());
/// assert_eq!(rx.recv(), Some(42));
/// ```
#[track_caller]
pub fn chan<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    pair(RawChan::new::<T>(cap))
}

/// The first Sender and Receiver of `raw`, a channel of `T`.
fn pair<T>(raw: RawChan) -> (Sender<T>, Receiver<T>) {
    let raw = Arc::new(raw);
    (
        Sender {
            raw: raw.clone(),
            _t: PhantomData,
        },
        Receiver {
            raw,
            _t: PhantomData,
        },
    )
}

/// A receiver that is never ready (Go's nil channel): it never yields a value and never closes.
pub fn never<T>() -> Receiver<T> {
    let raw = Arc::new(RawChan::new::<T>(0));
    // No Sender exists, but the count stays at one, so the channel never closes.
    Receiver {
        raw,
        _t: PhantomData,
    }
}

/// The sending side of a channel. Clone it for more senders.
pub struct Sender<T> {
    raw: Arc<RawChan>,
    _t: PhantomData<fn(T)>,
}

/// The receiving side of a channel. Clone it for more receivers (each value goes to one).
pub struct Receiver<T> {
    raw: Arc<RawChan>,
    _t: PhantomData<fn() -> T>,
}

// SAFETY: values of T move through the channel between threads, which T: Send allows; the core
// is thread-safe.
unsafe impl<T: Send> Send for Sender<T> {}
// SAFETY: as above; `&Sender` only sends.
unsafe impl<T: Send> Sync for Sender<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Receiver<T> {}
// SAFETY: as above; `&Receiver` only receives.
unsafe impl<T: Send> Sync for Receiver<T> {}
// As std's channels: an operation that panics (only a misuse panic, before anything changed)
// leaves the channel consistent, and values move in and out whole.
impl<T> std::panic::UnwindSafe for Sender<T> {}
impl<T> std::panic::RefUnwindSafe for Sender<T> {}
impl<T> std::panic::UnwindSafe for Receiver<T> {}
impl<T> std::panic::RefUnwindSafe for Receiver<T> {}

/// A timer's channel: its senders never close it, even when all are dropped (Go's timer
/// channels stay open after their timer is gone); it closes only if every receiver is dropped,
/// and then runs `hook` (see `raw::Hook`). It holds one value, and reports a length and a
/// capacity of 0, as Go 1.23's timer channels do.
pub(crate) fn timer_chan<T>(hook: raw::Hook) -> (Sender<T>, Receiver<T>) {
    let mut raw = RawChan::new::<T>(1);
    raw.make_timer_chan(hook);
    // One sender that is never dropped.
    raw.senders.fetch_add(1, Relaxed);
    pair(raw)
}

impl<T> Sender<T> {
    pub(crate) fn raw(&self) -> &RawChan {
        &self.raw
    }

    /// Whether `rx` receives from this sender's channel.
    pub(crate) fn same_channel(&self, rx: &Receiver<T>) -> bool {
        Arc::ptr_eq(&self.raw, &rx.raw)
    }

    /// Whether some receiver still exists.
    pub(crate) fn has_receivers(&self) -> bool {
        self.raw.receivers.load(Relaxed) > 0
    }

    /// Whether a receiver waits on this sender's channel now (racy read).
    pub(crate) fn receiver_waits(&self) -> bool {
        self.raw.receiver_waits()
    }

    /// Takes one buffered value out without blocking, as a receiver would, and drops it;
    /// false if there was none. For the sending side of a timer channel, which drains stale
    /// ticks when the timer is stopped or reset, under the timer's lock: so without firing the
    /// timer first (`RawChan::recv_buffered`), which takes that lock.
    pub(crate) fn drain_one(&self) -> bool {
        let mut v = std::mem::MaybeUninit::<T>::uninit();
        // SAFETY: `v` is writable space for one T of this channel; on `Done` it holds a value
        // moved out of the channel, which we own and drop.
        let st = unsafe { self.raw.recv_buffered(v.as_mut_ptr(), false) };
        if st == Status::Done {
            // SAFETY: `Done`: the channel moved a T into `v`.
            drop(unsafe { v.assume_init() });
            return true;
        }
        false
    }

    /// Sends `v`, blocking until a receiver takes it (unbuffered) or there is room.
    /// Fails, returning `v`, if the channel is closed or every receiver is gone.
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        let mut v = ManuallyDrop::new(v);
        // SAFETY: `v` is an initialised T; on Done it was moved out (we must not drop it).
        match unsafe { self.raw.send(&mut *v as *mut T, true) } {
            Status::Done => Ok(()),
            _ => Err(SendError(ManuallyDrop::into_inner(v))),
        }
    }

    /// Sends `v` if that can be done without blocking: into the buffer's room, or, unbuffered,
    /// to a receiver waiting now.
    ///
    /// A waiting async receiver (`recv_async`) is woken and the value left in the channel for it
    /// (in the buffer, or past the capacity where there is no room: an unbuffered channel's `len`
    /// then counts it); any receiver may take it first, and if the woken one's future is dropped
    /// instead, it waits for the next receiver. Go, with no receive that can be abandoned, hands
    /// the value over.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        // A preemption point like every channel operation: a goroutine that polls with
        // `try_send` in a loop must still give way when its time slice is up.
        crate::rt::check_preempt();
        self.send_now(v)
    }

    /// `try_send` without the preemption check, for runtime code that must not switch
    /// goroutines (a timer firing under its lock).
    pub(crate) fn send_now(&self, v: T) -> Result<(), TrySendError<T>> {
        let mut v = ManuallyDrop::new(v);
        // SAFETY: as in `send`.
        match unsafe { self.raw.send(&mut *v as *mut T, false) } {
            Status::Done => Ok(()),
            Status::WouldBlock => Err(TrySendError::Full(ManuallyDrop::into_inner(v))),
            Status::Closed => Err(TrySendError::Closed(ManuallyDrop::into_inner(v))),
        }
    }

    /// Sends `v`, waiting at most `d`.
    pub fn send_timeout(&self, v: T, d: Duration) -> Result<(), SendTimeoutError<T>> {
        // No `try_send` first: it would leave the value for an async receiver, where this send
        // must wait until the value is taken (the select tries at once anyway).
        let mut slot = SendSlot::new(v);
        let r = select(&[slot.case(self)], Mode::Until(deadline_after(d)));
        match r {
            Some((_, true)) => {
                drop(slot.take());
                Ok(())
            }
            Some((_, false)) => Err(SendTimeoutError::Closed(slot.take().unwrap_err().0)),
            None => Err(SendTimeoutError::Timeout(slot.take().unwrap_err().0)),
        }
    }

    /// Closes the channel: receivers drain what is buffered, then get `None`; senders blocked
    /// now and later get their value back. Closing twice is harmless (Go panics; we don't).
    pub fn close(&self) {
        self.raw.close();
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's capacity (0 for an unbuffered channel).
    pub fn capacity(&self) -> usize {
        self.raw.cap()
    }

    /// Whether the channel is closed (the last sender or receiver is gone, or `close` was called).
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

impl<T> Receiver<T> {
    pub(crate) fn raw(&self) -> &RawChan {
        &self.raw
    }

    /// Receives a value, blocking until one is available. `None` once the channel is closed and
    /// drained.
    pub fn recv(&self) -> Option<T> {
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: `slot` is writable space for one T; on Done it holds the value.
        match unsafe { self.raw.recv(slot.as_mut_ptr(), true) } {
            // SAFETY: Done means a value was moved into `slot`.
            Status::Done => Some(unsafe { slot.assume_init() }),
            _ => None,
        }
    }

    /// Receives a value if one is available now.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        // A preemption point, as in `try_send`.
        crate::rt::check_preempt();
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: as in `recv`.
        match unsafe { self.raw.recv(slot.as_mut_ptr(), false) } {
            // SAFETY: Done means a value was moved into `slot`.
            Status::Done => Ok(unsafe { slot.assume_init() }),
            Status::WouldBlock => Err(TryRecvError::Empty),
            Status::Closed => Err(TryRecvError::Closed),
        }
    }

    /// Receives a value, waiting at most `d`.
    pub fn recv_timeout(&self, d: Duration) -> Result<T, RecvTimeoutError> {
        match self.try_recv() {
            Ok(v) => return Ok(v),
            Err(TryRecvError::Closed) => return Err(RecvTimeoutError::Closed),
            Err(TryRecvError::Empty) => {}
        }
        let mut slot = RecvSlot::new();
        let r = select(&[slot.case(self)], Mode::Until(deadline_after(d)));
        match r {
            Some(_) => slot.take().ok_or(RecvTimeoutError::Closed),
            None => Err(RecvTimeoutError::Timeout),
        }
    }

    /// A blocking iterator over received values; ends when the channel is closed and drained.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// A non-blocking iterator over the values available now.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        TryIter { rx: self }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer's capacity (0 for an unbuffered channel).
    pub fn capacity(&self) -> usize {
        self.raw.cap()
    }

    /// Whether the channel is closed (the last sender or receiver is gone, or `close` was called).
    pub fn is_closed(&self) -> bool {
        self.raw.is_closed()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.raw.senders.fetch_add(1, Relaxed);
        Sender {
            raw: self.raw.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.raw.receivers.fetch_add(1, Relaxed);
        Receiver {
            raw: self.raw.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> Sender<T> {
    /// Gives up this sender without closing the channel, even if it is the last one: the
    /// channel then stays open with nobody to send, as `never()` is (a context that nothing
    /// can cancel any more).
    pub(crate) fn leave_open(self) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so its reference to the channel is released once,
        // here; the sender count keeps this sender, so the channel never closes.
        drop(unsafe { std::ptr::read(&this.raw) });
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        if self.raw.senders.fetch_sub(1, AcqRel) == 1 {
            self.raw.close();
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        if self.raw.receivers.fetch_sub(1, AcqRel) == 1 {
            self.raw.close_unreceivable();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Blocking iterator returned by `Receiver::iter`.
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

/// Non-blocking iterator returned by `Receiver::try_iter`.
#[derive(Debug)]
pub struct TryIter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for TryIter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.try_recv().ok()
    }
}

/// Owning blocking iterator.
#[derive(Debug)]
pub struct IntoIter<T> {
    rx: Receiver<T>,
}

impl<T> Iterator for IntoIter<T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> IntoIterator for Receiver<T> {
    type Item = T;
    type IntoIter = IntoIter<T>;
    fn into_iter(self) -> IntoIter<T> {
        IntoIter { rx: self }
    }
}
