//! A goroutine's send and receive (Go's chansend and chanrecv): the inline buffered path, the
//! locked attempt and the park, and the non-blocking parts under the lock that `select` and the
//! async futures share (`try_send_locked`, `try_recv_locked`). The algorithm and its invariants
//! are in the module doc of `chan::raw`.

use std::sync::atomic::Ordering::*;

use super::RawChan;
use crate::rt::{WaitReason, check_preempt, park};
use crate::wait::{Status, Waiter, WakeList};

impl RawChan {
    /// Sends the value at `elem` (Go's chansend). On `Done` the value was moved out of `elem`;
    /// otherwise it is still there.
    ///
    /// # Safety
    /// `elem` points to an initialised T, the channel's element type.
    #[inline]
    pub(crate) unsafe fn send<T>(&self, elem: *mut T, block: bool) -> Status {
        if !block && !self.closed.load(Relaxed) && self.full() {
            return Status::WouldBlock;
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.op(elem, block, true) }
    }

    /// The locked part of a send or receive: complete now, or fail (non-blocking), or park on the
    /// channel's send or receive queue until a peer or `close` wakes us.
    ///
    /// # Safety
    /// `elem` as for `send` (`send`) or `recv` (otherwise).
    #[inline(always)]
    unsafe fn op<T>(&self, elem: *mut T, block: bool, send: bool) -> Status {
        if block {
            check_preempt();
        }
        self.lock.lock();
        // SAFETY: lock held; `elem` per the caller.
        if unsafe { self.buffered_locked(elem, send) } {
            self.lock.unlock();
            return Status::Done;
        }
        // SAFETY: lock held; `elem` per the caller.
        unsafe { self.op_locked(elem.cast(), block, send) }
    }

    /// The common case of `op` on a buffered channel, inlined into it: a value goes into the
    /// buffer's room or comes out of it, and nobody waits to be woken. Returns false, with
    /// nothing done, where `try_send_locked` or `try_recv_locked` has more to do (a waiting
    /// peer, a stash, a closed channel, slots promised to a `Select`); where it returns true,
    /// they would have done the same, so a change to what they do first (a new kind of waiter,
    /// a new reason to leave the buffer alone) must be made here too. It moves a T, not
    /// `elem_size` bytes: each element type gets its own copy of this path (ARCHITECTURE.md,
    /// decision "A buffered channel operation that wakes nobody is inlined and typed").
    ///
    /// # Safety
    /// Lock held; `elem` as for `op`.
    #[inline(always)]
    unsafe fn buffered_locked<T>(&self, elem: *mut T, send: bool) -> bool {
        debug_assert_eq!(std::mem::size_of::<T>(), self.elem_size);
        // SAFETY: lock held.
        let st = unsafe { self.state() };
        let q = self.qcount.load(Relaxed);
        if send {
            // An unbuffered channel has no room (q + reserved >= 0 = cap).
            if q + st.reserved >= self.cap || !st.recvq.is_empty() || self.closed.load(Relaxed) {
                return false;
            }
            // SAFETY: slot `sendx` is free (q < cap) and `elem` is a valid T; slots are T-sized
            // and T-aligned (the buffer's layout is T's array layout).
            unsafe { std::ptr::copy_nonoverlapping(elem, self.slot(st.sendx).cast::<T>(), 1) };
            st.sendx = self.next_index(st.sendx);
            self.qcount.store(q + 1, Release);
        } else {
            if q == 0 || self.stashed.load(Relaxed) != 0 || !st.sendq.is_empty() {
                return false;
            }
            // SAFETY: slot `recvx` holds an initialised T (q > 0); slots as above.
            unsafe { std::ptr::copy_nonoverlapping(self.slot(st.recvx).cast::<T>(), elem, 1) };
            st.recvx = self.next_index(st.recvx);
            self.qcount.store(q - 1, Release);
        }
        true
    }

    /// The rest of `op`, entered with the lock held: once, and again after a dynamic `Select`
    /// that had reserved our waiter let it go.
    ///
    /// # Safety
    /// Lock held; `elem` as for `op`.
    #[inline(never)]
    unsafe fn op_locked(&self, elem: *mut u8, block: bool, send: bool) -> Status {
        loop {
            // SAFETY: forwarded from the caller (the lock is taken again for each retry).
            if let Some(st) = unsafe { self.op_once(elem, block, send) } {
                return st;
            }
            self.lock.lock();
        }
    }

    /// One attempt of `op`, with the lock held (and released); None if a dynamic `Select` that
    /// had reserved our waiter let it go.
    ///
    /// # Safety
    /// As `op_locked`.
    unsafe fn op_once(&self, elem: *mut u8, block: bool, send: bool) -> Option<Status> {
        let mut wake = WakeList::new();
        // SAFETY: lock held; `elem` per the caller.
        let r = unsafe {
            if send {
                self.try_send_locked(elem, &mut wake, block)
            } else {
                self.try_recv_locked(elem, &mut wake)
            }
        };
        if r.is_some() || !block {
            self.lock.unlock();
            wake.wake_all();
            return Some(r.unwrap_or(Status::WouldBlock));
        }
        let mut w = Waiter::new(elem);
        let wp: *mut Waiter = &mut w;
        let reason = if send {
            WaitReason::ChanSend
        } else {
            WaitReason::ChanRecv
        };
        park(reason, &mut |gp| {
            // SAFETY: still holding the lock taken above; `w` lives in this parked frame.
            unsafe {
                (*wp).g = gp;
                let st = self.state();
                let q = if send { &mut st.sendq } else { &mut st.recvq };
                q.enqueue(wp);
            }
            // Everything we need from the parked frame is read before the unlock: once it is
            // released, a peer may wake us and the frame may be gone.
            let wake = std::mem::replace(&mut wake, WakeList::new());
            self.lock.unlock_final();
            wake.wake_all();
            true
        });
        if w.retry {
            None
        } else if w.success {
            Some(Status::Done)
        } else {
            Some(Status::Closed)
        }
    }

    /// The non-blocking part of a send, under the lock. Returns None if it would block. Its
    /// common case is inlined in `buffered_locked`: keep the two in step.
    ///
    /// An async receiver (a readiness waiter) cannot take a value under the lock: it is woken
    /// to come for one. A sender that would otherwise wait (`blocking`: a goroutine's or an
    /// async one) then hands the value to a goroutine's receiver queued behind it if there is
    /// one, else (on an unbuffered channel) returns None, to wait in the send queue until the
    /// woken task comes for the value: a send completes only when the value is taken. One that
    /// may not wait (`try_send`, a `select!` with `default`) leaves the value in the channel
    /// for it, beyond the capacity if need be.
    ///
    /// # Safety
    /// Lock held; `elem` as for `send`.
    pub(crate) unsafe fn try_send_locked(
        &self,
        elem: *mut u8,
        wake: &mut WakeList,
        blocking: bool,
    ) -> Option<Status> {
        if self.closed.load(Relaxed) {
            return Some(Status::Closed);
        }
        // SAFETY: lock held.
        let st = unsafe { self.state() };
        if let Some(w) = st.recvq.dequeue() {
            // SAFETY: a dequeued waiter is valid and its G parked until readied (an async one's
            // future alive until it is woken).
            unsafe {
                (*w).success = true;
                if (*w).is_readiness() {
                    wake.push(w);
                    return self.send_to_async_locked(elem, wake, blocking);
                }
                self.copy((*w).elem, elem);
                wake.push(w);
            }
            return Some(Status::Done);
        }
        // SAFETY: lock held; `elem` per the caller.
        unsafe { self.buffer_locked(elem) }.then_some(Status::Done)
    }

    /// `try_send_locked` for a sender that found an async receiver first in line, and woke it
    /// (see there).
    ///
    /// # Safety
    /// As `try_send_locked`.
    #[cold]
    unsafe fn send_to_async_locked(
        &self,
        elem: *mut u8,
        wake: &mut WakeList,
        blocking: bool,
    ) -> Option<Status> {
        // SAFETY: lock held; `elem` per the caller; a dequeued waiter is valid and parked.
        unsafe {
            if !blocking {
                self.keep_for_async_receiver(elem);
                return Some(Status::Done);
            }
            if let Some(w) = self.state().recvq.dequeue_goroutine() {
                (*w).success = true;
                self.copy((*w).elem, elem);
                wake.push(w);
                return Some(Status::Done);
            }
            self.buffer_locked(elem).then_some(Status::Done)
        }
    }

    /// Appends the value at `elem` to the buffer if a slot is free (and not promised to a
    /// dynamic `Select`).
    ///
    /// # Safety
    /// Lock held; `elem` as for `send`.
    pub(super) unsafe fn buffer_locked(&self, elem: *mut u8) -> bool {
        // SAFETY: lock held.
        let st = unsafe { self.state() };
        let q = self.qcount.load(Relaxed);
        if q + st.reserved < self.cap {
            // SAFETY: slot `sendx` is free (q < cap) and `elem` is a valid element.
            unsafe { self.copy(self.slot(st.sendx), elem) };
            st.sendx = self.next_index(st.sendx);
            self.qcount.store(q + 1, Release);
            return true;
        }
        false
    }

    /// Receives into `elem` (Go's chanrecv). On `Done` a value was written there.
    ///
    /// # Safety
    /// `elem` points to writable, uninitialised space for one T, the channel's element type.
    #[inline]
    pub(crate) unsafe fn recv<T>(&self, elem: *mut T, block: bool) -> Status {
        self.run_due_timer();
        // SAFETY: forwarded from the caller.
        let st = unsafe { self.recv_buffered(elem, block) };
        self.run_due_timer();
        st
    }

    /// `recv` without firing a due timer first: for the timer itself, which drains its channel
    /// under its own lock (the due hook takes that lock).
    ///
    /// # Safety
    /// As `recv`.
    #[inline]
    pub(crate) unsafe fn recv_buffered<T>(&self, elem: *mut T, block: bool) -> Status {
        if !block && self.empty() {
            if !self.closed.load(Acquire) {
                return Status::WouldBlock;
            }
            if self.empty() {
                return Status::Closed;
            }
        }
        // SAFETY: forwarded from the caller.
        unsafe { self.op(elem, block, false) }
    }

    /// The non-blocking part of a receive, under the lock. Returns None if it would block. Its
    /// common case is inlined in `buffered_locked`: keep the two in step.
    ///
    /// # Safety
    /// Lock held; `elem` as for `recv`.
    pub(crate) unsafe fn try_recv_locked(
        &self,
        elem: *mut u8,
        wake: &mut WakeList,
    ) -> Option<Status> {
        // SAFETY: lock held.
        let st = unsafe { self.state() };
        if self.stashed.load(Relaxed) != 0 {
            // SAFETY: lock held; the stash is not empty; `elem` has room for one element.
            unsafe { self.recv_with_stash(elem) };
            return Some(Status::Done);
        }
        while let Some(w) = st.sendq.dequeue() {
            // SAFETY: a dequeued waiter is valid and its G parked until readied; slots in
            // [recvx, recvx+qcount) are initialised.
            unsafe {
                (*w).success = true;
                if (*w).is_readiness() {
                    // A dynamic `Select`'s send: woken to come with its value.
                    wake.push(w);
                    continue;
                }
                if self.cap == 0 || self.qcount.load(Relaxed) == 0 {
                    // Unbuffered, or every free slot is reserved: straight from the sender.
                    self.copy(elem, (*w).elem);
                } else {
                    // A sender waits only while the buffer is full (or its free slots are
                    // reserved): take the head, the sender's value goes to the tail.
                    self.copy(elem, self.slot(st.recvx));
                    st.recvx = self.next_index(st.recvx);
                    self.copy(self.slot(st.sendx), (*w).elem);
                    st.sendx = self.next_index(st.sendx);
                }
                wake.push(w);
            }
            return Some(Status::Done);
        }
        let q = self.qcount.load(Relaxed);
        if q > 0 {
            // SAFETY: slot `recvx` holds an initialised value (q > 0).
            unsafe { self.copy(elem, self.slot(st.recvx)) };
            st.recvx = self.next_index(st.recvx);
            self.qcount.store(q - 1, Release);
            return Some(Status::Done);
        }
        if self.closed.load(Relaxed) {
            return Some(Status::Closed);
        }
        None
    }
}
