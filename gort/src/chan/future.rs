//! `recv_async` and `send_async`: channel operations awaited by async code, without blocking
//! the executor's thread.
//!
//! Each future owns a waiter (see crate::wait) that it queues on the channel when the operation
//! cannot complete, together with the task's waker. The waiter is inside the future, so the
//! future is `!Unpin`, and dropping it takes the waiter out of the queue under the channel lock
//! (`RawChan::cancel_async`).
//!
//! - A receive waits readiness-only: woken, it tries again, and it takes its value in the poll
//!   that returns it. A sender that finds an async receiver waiting either wakes it and waits
//!   for it to come for the value (a sender that can wait, async ones included) or leaves the
//!   value in the channel (chan::stash), so dropping a pending `recv_async` loses no value, and
//!   passes on a wake-up it was given.
//! - A send waits with its value in the future, and a receiver moves it out under the channel
//!   lock (as a goroutine's waiting send is taken from its stack), so the async sender keeps
//!   its place in line, and an unbuffered send completes only once its value is taken.
//!   Dropping a pending `send_async` takes its waiter out of the queue under that lock: either
//!   a receiver took the value first, and the send happened, or nobody did, and the future
//!   drops the value.
//!
//! Go has no counterpart. The receive side has tokio's and flume's guarantees; the send side
//! is flume's: a rendezvous send cannot be both first in line and undoable.

use std::fmt;
use std::future::Future;
use std::marker::PhantomPinned;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{Receiver, SendError, Sender};
use crate::wait::{AsyncWaiter, Status};

/// The future of [`Receiver::recv_async`].
#[must_use = "futures do nothing unless polled"]
pub struct RecvFuture<'a, T> {
    rx: &'a Receiver<T>,
    waiter: AsyncWaiter,
    /// The waiter was queued by a poll that returned `Pending`.
    waiting: bool,
    _pin: PhantomPinned,
}

/// The future of [`Sender::send_async`].
#[must_use = "futures do nothing unless polled"]
pub struct SendFuture<'a, T> {
    tx: &'a Sender<T>,
    value: MaybeUninit<T>,
    /// `value` holds the value still to send.
    has_value: bool,
    waiter: AsyncWaiter,
    waiting: bool,
    _pin: PhantomPinned,
}

// SAFETY: the waiter's raw pointers are touched only under the channel lock; the value is a T,
// which moves between threads as T: Send allows.
unsafe impl<T: Send> Send for RecvFuture<'_, T> {}
// SAFETY: a shared reference gives no access to anything.
unsafe impl<T: Send> Sync for RecvFuture<'_, T> {}
// SAFETY: as for RecvFuture.
unsafe impl<T: Send> Send for SendFuture<'_, T> {}
// SAFETY: as for RecvFuture.
unsafe impl<T: Send> Sync for SendFuture<'_, T> {}

impl<T> Receiver<T> {
    /// Receives a value from async code: like `recv`, but the task waits instead of the thread.
    /// `None` once the channel is closed and drained.
    ///
    /// Cancel-safe: dropping the future before it completes loses no value.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::<i32>(0);
    /// gort::go(move || tx.send(7).unwrap());
    /// assert_eq!(gort::block_on(rx.recv_async()), Some(7));
    /// ```
    pub fn recv_async(&self) -> RecvFuture<'_, T> {
        crate::wait::task_wake::start();
        RecvFuture {
            rx: self,
            waiter: AsyncWaiter::new(),
            waiting: false,
            _pin: PhantomPinned,
        }
    }
}

impl<T> Sender<T> {
    /// Sends a value from async code: like `send`, but the task waits instead of the thread.
    /// Fails, giving the value back, if the channel is closed.
    ///
    /// While it waits, the value stays in the future, in line with the other senders: a
    /// receiver takes it from there (`try_recv` too) and wakes the task. Dropping the future
    /// before it completes either finds that a receiver took the value (the send happened) or
    /// drops the value, which nobody received.
    ///
    /// ```
    /// let (tx, rx) = gort::chan::<i32>(1);
    /// gort::block_on(tx.send_async(7)).unwrap();
    /// assert_eq!(rx.recv(), Some(7));
    /// ```
    pub fn send_async(&self, v: T) -> SendFuture<'_, T> {
        crate::wait::task_wake::start();
        SendFuture {
            tx: self,
            value: MaybeUninit::new(v),
            has_value: true,
            waiter: AsyncWaiter::new(),
            waiting: false,
            _pin: PhantomPinned,
        }
    }
}

impl<T> Future for RecvFuture<'_, T> {
    type Output = Option<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        // SAFETY: nothing is moved out of the pinned future; the waiter stays where it is.
        let this = unsafe { self.get_unchecked_mut() };
        let mut slot = MaybeUninit::<T>::uninit();
        // SAFETY: the waiter is pinned in this future, whose Drop cancels it; `slot` has room
        // for one T.
        let r = unsafe {
            this.rx
                .raw()
                .poll_async(&raw mut this.waiter, slot.as_mut_ptr().cast(), false, cx)
        };
        this.waiting = r.is_pending();
        r.map(|st| {
            // SAFETY: `Done` means a T was moved into `slot`.
            (st == Status::Done).then(|| unsafe { slot.assume_init() })
        })
    }
}

impl<T> Drop for RecvFuture<'_, T> {
    fn drop(&mut self) {
        if self.waiting {
            // SAFETY: the waiter was queued on this channel by a receive poll.
            unsafe { self.rx.raw().cancel_async(&raw mut self.waiter, false) };
        }
    }
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: as in RecvFuture::poll.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(this.has_value, "gort: SendFuture polled after it completed");
        // SAFETY: as in RecvFuture::poll; `value` holds a T, moved out on `Done`.
        let r = unsafe {
            this.tx.raw().poll_async(
                &raw mut this.waiter,
                this.value.as_mut_ptr().cast(),
                true,
                cx,
            )
        };
        this.waiting = r.is_pending();
        r.map(|st| {
            this.has_value = false;
            if st == Status::Done {
                Ok(())
            } else {
                // SAFETY: the channel did not take the value; we own it.
                Err(SendError(unsafe { this.value.assume_init_read() }))
            }
        })
    }
}

impl<T> Drop for SendFuture<'_, T> {
    fn drop(&mut self) {
        // SAFETY: the waiter was queued on this channel by a send poll; if a receiver moved
        // the value out, it is no longer ours.
        if self.waiting && unsafe { self.tx.raw().cancel_async(&raw mut self.waiter, true) } {
            self.has_value = false;
        }
        if self.has_value {
            // SAFETY: the value was never sent; we own it.
            unsafe { self.value.assume_init_drop() };
        }
    }
}

impl<T> fmt::Debug for RecvFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecvFuture")
            .field("waiting", &self.waiting)
            .finish()
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendFuture")
            .field("waiting", &self.waiting)
            .field("sent", &!self.has_value)
            .finish()
    }
}
