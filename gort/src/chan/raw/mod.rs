//! `RawChan`: the type-erased channel core (Go's `hchan` and chansend/chanrecv/closechan in
//! src/runtime/chan.go).
//!
//! Elements move by `memcpy` of `elem_size` bytes (a Rust move), so one non-generic core serves
//! every element type and `select` can work across channels of different types, as Go's
//! selectgo does. The typed wrappers in `chan/mod.rs` own the values' lifetimes.
//!
//! Algorithm (Go's): under the channel lock, a send first hands its value directly to a waiting
//! receiver (no buffer round trip), else appends to the ring buffer, else blocks; a receive first
//! takes from a waiting sender (for a full buffer: the head of the buffer, and the sender's value
//! goes to the tail, keeping FIFO), else from the buffer, else blocks. Blocking follows the park
//! protocol: the waiter is linked and the lock released in the park commit, after the goroutine is
//! off its stack. Woken goroutines are readied after the lock is released.
//!
//! Deviation: a buffered send or receive that wakes nobody completes inline and typed
//! (`buffered_locked`; ARCHITECTURE.md, decision "A buffered channel operation that wakes nobody
//! is inlined and typed"); everything else goes through the one type-erased path
//! (`op_locked`), which would have done the same in those cases.
//!
//! Deviation: the dynamic `Select` chooses a send before it has the value (crossbeam-channel's
//! API). Its blocked send is a readiness-only waiter, woken by a receiver that then goes on as
//! if it had not been there; the woken select then *reserves* the send under the lock
//! (`reserve_send_locked`): it dequeues a waiting receiver, which stays parked until the value
//! arrives (`complete_send`), or claims a buffer slot (`State::reserved`), so completing the
//! operation never blocks. A reservation dropped unused is released (`release`): the receiver is
//! woken to try again (`Waiter::retry`), the slot goes to a waiting sender.
//!
//! Deviation: async receivers (`recv_async`) wait without a destination, so a sender that finds
//! one first in line leaves its value in the channel and wakes it: in the buffer if there is
//! room, else in the `Stash` beyond the capacity (see chan::stash). Receivers take stashed values
//! first. An async receiver that was woken and then dropped passes the wake-up on (`pass_on`).
//! An async sender waits with its value, as a goroutine does (Go's sudog `elem`): the value sits
//! in the pinned future, and a receiver moves it out under the lock and wakes the task, so an
//! async sender keeps its place in line and `try_recv` sees its value. The future learns the
//! outcome from its dequeued waiter, on its next poll or when it is dropped (`cancel_async`).
//! The futures are in `chan::future`.
//!
//! Invariants: `st`, and writes to `qcount`, `stashed` and `closed`, only under `lock`; `qcount` and
//! `closed` may be read without it for non-blocking fast paths (as Go's `full`/`empty`); the
//! buffer slots `[recvx, recvx+qcount)` (mod cap) hold initialised values.

use std::alloc::Layout;
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::task::{Context, Poll};

use super::stash::Stash;
use crate::util::lock::Lock;
use crate::wait::{AsyncWaiter, Reservation, Selectable, Status, WaitQueue, Waiter, WakeList};

mod discard;
mod ops;
mod reserve;

pub(crate) use discard::{FreeOnDrop, Hook, drop_each};

pub(crate) struct State {
    sendx: usize,
    recvx: usize,
    /// Free buffer slots promised to selected sends of the dynamic `Select` (not yet filled).
    reserved: usize,
    pub(crate) recvq: WaitQueue,
    pub(crate) sendq: WaitQueue,
}

/// The type-erased channel behind `Sender<T>` and `Receiver<T>` (see the module doc). It is `pub`
/// only because the cases of a `select!` expansion name it; none of its fields or methods are.
#[doc(hidden)]
pub struct RawChan {
    pub(crate) lock: Lock,
    st: UnsafeCell<State>,
    qcount: AtomicUsize,
    /// `stash.len()`, readable without the lock.
    stashed: AtomicUsize,
    closed: AtomicBool,
    /// A timer's channel (Go 1.23's): it reports a length and capacity of 0 whatever its one
    /// slot holds (Go's chanlen and chancap), and a receive first fires the timer if it is due
    /// (`run_due_timer`).
    timer: bool,
    cap: usize,
    elem_size: usize,
    buf: *mut u8,
    layout: Layout,
    drop_elem: unsafe fn(*mut u8),
    /// Live `Sender`s; the last one to go closes the channel.
    pub(crate) senders: AtomicUsize,
    /// Live `Receiver`s; when the last one goes, sends fail.
    pub(crate) receivers: AtomicUsize,
    /// Values kept for async receivers beyond the capacity (under `lock`; allocated on first
    /// use, which most channels never see, so that it costs a channel one word).
    stash: UnsafeCell<Option<Box<Stash>>>,
    /// A timer channel's link to its timer (see `discard::Hook`): set before the channel is
    /// shared, taken under `lock` when the last `Receiver` goes or by the channel's drop.
    on_unreceivable: UnsafeCell<Option<discard::Hook>>,
}

// SAFETY: all mutable state is behind `lock` or atomic (see the module invariants); elements are
// only moved between threads by the typed wrappers, which require T: Send.
unsafe impl Send for RawChan {}
// SAFETY: as above.
unsafe impl Sync for RawChan {}

unsafe fn drop_in_place_as<T>(p: *mut u8) {
    // SAFETY: the caller passes a pointer to an initialised T it owns.
    unsafe { std::ptr::drop_in_place(p.cast::<T>()) }
}

/// Drops a task's waker, containing a panic in its drop: an async operation has completed or
/// queued its waiter by then, and a panic unwinding out of the poll would hide that from the
/// future (which would drop a value the channel owns, or leave its waiter queued).
fn drop_waker(waker: Option<std::task::Waker>) {
    if waker.is_some() {
        crate::util::fatal::contain_panic(|| drop(waker));
    }
}

impl RawChan {
    /// A channel of `T` with room for `cap` buffered values.
    ///
    /// # Panics
    /// If the buffer cannot be allocated (the message names the capacity).
    #[track_caller]
    pub(crate) fn new<T>(cap: usize) -> RawChan {
        let elem_size = std::mem::size_of::<T>();
        let Some(layout) = elem_size
            .checked_mul(cap)
            .and_then(|n| Layout::from_size_align(n, std::mem::align_of::<T>()).ok())
        else {
            panic!(
                "gort::chan: capacity {cap} is too large ({cap} × {elem_size}-byte elements \
                 overflows the address space)"
            )
        };
        let buf = if layout.size() == 0 {
            std::ptr::without_provenance_mut(std::mem::align_of::<T>())
        } else {
            // SAFETY: the layout has a non-zero size.
            let p = unsafe { std::alloc::alloc(layout) };
            if p.is_null() {
                panic!(
                    "gort::chan: cannot allocate a buffer for capacity {cap} ({} bytes)",
                    layout.size()
                );
            }
            p
        };
        RawChan {
            lock: Lock::new(),
            st: UnsafeCell::new(State {
                sendx: 0,
                recvx: 0,
                reserved: 0,
                recvq: WaitQueue::new(),
                sendq: WaitQueue::new(),
            }),
            qcount: AtomicUsize::new(0),
            stashed: AtomicUsize::new(0),
            closed: AtomicBool::new(false),
            timer: false,
            cap,
            elem_size,
            buf,
            layout,
            drop_elem: drop_in_place_as::<T>,
            senders: AtomicUsize::new(1),
            receivers: AtomicUsize::new(1),
            stash: UnsafeCell::new(None),
            on_unreceivable: UnsafeCell::new(None),
        }
    }

    /// The capacity users see (`Sender::capacity`).
    pub(crate) fn cap(&self) -> usize {
        if self.timer { 0 } else { self.cap }
    }

    /// The length users see (`Sender::len`).
    pub(crate) fn len(&self) -> usize {
        if self.timer {
            return 0;
        }
        self.qcount.load(Relaxed) + self.stashed.load(Relaxed)
    }

    /// Makes this a timer's channel (see `timer`), whose `hook` stops the timer when the last
    /// `Receiver` goes and fires it when a receive finds it due; before the channel is shared.
    pub(crate) fn make_timer_chan(&mut self, hook: discard::Hook) {
        self.timer = true;
        *self.on_unreceivable.get_mut() = Some(hook);
    }

    /// On a timer's channel, fires the timer now if its time has come (Go 1.23's
    /// maybeRunChan), so a receive never misses a due timer because no scheduler has run its
    /// heap yet: at one processor, a goroutine that computes without a scheduling point and
    /// then polls its timer with `try_recv` would otherwise find it empty. Called by every
    /// receive before it takes the channel's lock, and again after it (a ticker left idle while
    /// its tick waited in the channel is armed again once a receive took that tick: see
    /// `time::timer`'s `deliver`).
    #[inline]
    pub(crate) fn run_due_timer(&self) {
        if !self.timer {
            return;
        }
        // SAFETY: a receive borrows a `Receiver`, so the hook is in place: it is taken only when
        // the last `Receiver` goes or the channel is freed, and nothing writes the cell before.
        if let Some(h) = unsafe { (*self.on_unreceivable.get()).as_ref() } {
            // SAFETY: the hook's contract: `due` may run while the hook is in place.
            unsafe { (h.due)(h.data) };
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Acquire)
    }

    /// The queues and indices. Caller holds `lock`.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn state(&self) -> &mut State {
        // SAFETY: the caller holds the lock, which makes this access exclusive.
        unsafe { &mut *self.st.get() }
    }

    /// The stash, created on first use. Caller holds `lock`.
    #[allow(clippy::mut_from_ref)]
    unsafe fn stash(&self) -> &mut Stash {
        // SAFETY: the caller holds the lock, which makes this access exclusive.
        let stash = unsafe { &mut *self.stash.get() };
        stash.get_or_insert_with(|| {
            let elem = Layout::from_size_align(self.elem_size, self.layout.align())
                .expect("the element's layout was valid when the channel was made");
            Box::new(Stash::new(elem))
        })
    }

    /// Moves `elem` into the stash. Caller holds `lock`; `elem` as for `send`.
    unsafe fn stash_push(&self, elem: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe {
            let s = self.stash();
            s.push(elem);
            self.stashed.store(s.len(), Relaxed);
        }
    }

    /// Leaves the value at `elem` in the channel for a woken async receiver: in the buffer if
    /// there is room, else in the stash.
    ///
    /// # Safety
    /// Lock held; `elem` as for `send`.
    #[cold]
    unsafe fn keep_for_async_receiver(&self, elem: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe {
            if !self.buffer_locked(elem) {
                self.stash_push(elem);
            }
        }
    }

    /// A receive while values wait in the stash. The stash is the buffer's tail: values go
    /// there only while the buffer is full (or its free slots are promised to a dynamic
    /// `Select`), so the buffer's head is the oldest value, and the stash's head moves into the
    /// slot it frees. Parked senders wait until the stash is empty: their values are newer.
    ///
    /// # Safety
    /// Lock held; the stash is not empty; `elem` has room for one element.
    #[cold]
    unsafe fn recv_with_stash(&self, elem: *mut u8) {
        // SAFETY: lock held (the caller's contract).
        let st = unsafe { self.state() };
        if self.qcount.load(Relaxed) == 0 {
            // SAFETY: forwarded: the stash is not empty.
            unsafe { self.stash_pop(elem) };
            return;
        }
        // SAFETY: slot `recvx` holds the oldest value (qcount > 0); the freed slot is the
        // ring's tail, `sendx`, once `recvx` moves past it.
        unsafe {
            self.copy(elem, self.slot(st.recvx));
            st.recvx = self.next_index(st.recvx);
            self.stash_pop(self.slot(st.sendx));
        }
        st.sendx = self.next_index(st.sendx);
    }

    /// Moves the oldest stashed value into `elem`. Caller holds `lock`; the stash is not empty;
    /// `elem` as for `recv`.
    #[cold]
    unsafe fn stash_pop(&self, elem: *mut u8) {
        // SAFETY: forwarded from the caller.
        unsafe {
            let s = self.stash();
            s.pop(elem);
            self.stashed.store(s.len(), Relaxed);
        }
    }

    /// The ring index after `i` (a compare, not a division: as Go's chansend/chanrecv).
    #[inline]
    fn next_index(&self, i: usize) -> usize {
        if i + 1 == self.cap { 0 } else { i + 1 }
    }

    fn slot(&self, i: usize) -> *mut u8 {
        // SAFETY: i < cap, so the offset is inside the buffer (0 for zero-sized elements).
        unsafe { self.buf.add(i * self.elem_size) }
    }

    #[inline]
    unsafe fn copy(&self, dst: *mut u8, src: *const u8) {
        // SAFETY: the caller passes two distinct element-sized locations; the small sizes are
        // copied with one unaligned load/store instead of a call to memcpy.
        unsafe {
            match self.elem_size {
                0 => {}
                8 => dst
                    .cast::<u64>()
                    .write_unaligned(src.cast::<u64>().read_unaligned()),
                16 => dst
                    .cast::<u128>()
                    .write_unaligned(src.cast::<u128>().read_unaligned()),
                4 => dst
                    .cast::<u32>()
                    .write_unaligned(src.cast::<u32>().read_unaligned()),
                n => std::ptr::copy_nonoverlapping(src, dst, n),
            }
        }
    }

    /// Go's `full`: a send would block (racy read).
    fn full(&self) -> bool {
        if self.cap == 0 {
            // SAFETY: the state lives as long as the channel; a stale answer only sends us down
            // the locked path (as Go's full()).
            return unsafe { WaitQueue::peek_empty(std::ptr::addr_of!((*self.st.get()).recvq)) };
        }
        self.qcount.load(Relaxed) == self.cap
    }

    /// Whether a receiver waits in the queue (racy read, without the lock): a goroutine, a
    /// plain thread, a select case or an async receive.
    pub(crate) fn receiver_waits(&self) -> bool {
        // SAFETY: the state lives as long as the channel.
        !unsafe { WaitQueue::peek_empty(std::ptr::addr_of!((*self.st.get()).recvq)) }
    }

    /// Go's `empty`: a receive would block (racy read). A sender waits on an empty buffer only
    /// while its free slots are promised to a dynamic `Select`, so the send queue is looked at
    /// only when the buffer is empty.
    fn empty(&self) -> bool {
        if self.stashed.load(Relaxed) != 0 {
            return false;
        }
        if self.cap != 0 && self.qcount.load(Relaxed) != 0 {
            return false;
        }
        // SAFETY: as in `full`.
        unsafe { WaitQueue::peek_empty(std::ptr::addr_of!((*self.st.get()).sendq)) }
    }

    /// One poll of an async send (`send`, the value at `elem`) or receive (into `elem`): the
    /// operation completes now, or the future's waiter `w` waits in the channel's queue with the
    /// task's waker. A send waits as a blocking one does, with its value, until a receiver takes
    /// it or the channel closes; a receive waits readiness-only, to try again when it is woken.
    /// While `w` is queued, a poll only refreshes the waker.
    ///
    /// # Safety
    /// `w` belongs to a pinned future that calls `cancel_async` before it goes away, and is not
    /// queued on any other channel; `elem` as for `send` or `recv`.
    pub(crate) unsafe fn poll_async(
        &self,
        aw: *mut AsyncWaiter,
        elem: *mut u8,
        send: bool,
        cx: &Context<'_>,
    ) -> Poll<Status> {
        if !send {
            self.run_due_timer();
        }
        // A waker's clone and drop are the task's code: neither runs under the lock, and a
        // drop that panics is contained (`drop_waker`), since by then the operation's outcome
        // stands and the caller must see it.
        let mut waker = Some(cx.waker().clone());
        self.lock.lock();
        // SAFETY: lock held, which orders every access to the waiter with its dequeuer's;
        // `w` stays valid while queued (the caller's contract).
        let r = unsafe {
            let w: *mut Waiter = &raw mut (*aw).w;
            if let Some(st) = Self::async_send_outcome(w) {
                self.lock.unlock();
                drop_waker(waker);
                return Poll::Ready(st);
            }
            if (*w).is_queued() {
                if !(*aw)
                    .waker
                    .as_ref()
                    .is_some_and(|k| k.will_wake(cx.waker()))
                {
                    std::mem::swap(&mut (*aw).waker, &mut waker);
                }
                self.lock.unlock();
                drop_waker(waker);
                return Poll::Pending;
            }
            let mut wake = WakeList::new();
            let r = if send {
                // A sender that can wait: on meeting an async receiver first in line, it wakes
                // it and waits for it, so that the send completes only once the value is taken.
                self.try_send_locked(elem, &mut wake, true)
            } else {
                self.try_recv_locked(elem, &mut wake)
            };
            if r.is_none() {
                let old = (*aw).waker.take();
                // A sender waits with its value, which a receiver takes out of the future.
                *aw = AsyncWaiter::new();
                if send {
                    (*aw).w.elem = elem;
                }
                (*aw).waker = waker;
                waker = old;
                let st = self.state();
                let q = if send { &mut st.sendq } else { &mut st.recvq };
                q.enqueue(w);
            }
            self.lock.unlock();
            wake.wake_all();
            r
        };
        drop_waker(waker);
        if !send && r.is_some() {
            self.run_due_timer();
        }
        r.map_or(Poll::Pending, Poll::Ready)
    }

    /// The outcome of an async send whose waiter left the send queue since the future's last
    /// poll: a receiver took the value (`Done`) or the channel closed with the value still in
    /// the future (`Closed`). None while the waiter is queued, or if it never was (its `elem`
    /// is set only while it waits).
    ///
    /// # Safety
    /// Lock held, if `w` was queued on this channel; `w` is the waiter of a live future.
    unsafe fn async_send_outcome(w: *mut Waiter) -> Option<Status> {
        // SAFETY: the caller's contract; the dequeuer wrote `success` under the lock.
        unsafe {
            if (*w).is_queued() || (*w).is_readiness() {
                return None;
            }
            Some(if (*w).success {
                Status::Done
            } else {
                Status::Closed
            })
        }
    }

    /// The future of a pending async operation is going away: its waiter leaves the queue, or,
    /// if a receiver's was already woken for a value it will now never take, the wake-up goes
    /// to the next receiver (`pass_on_locked`), so no value waits while a receiver sleeps.
    /// Returns whether a sender's value was taken by a receiver since the last poll (the send
    /// happened, and the future no longer owns the value).
    ///
    /// # Safety
    /// `w` was queued by `poll_async` on this channel with the same `send`.
    pub(crate) unsafe fn cancel_async(&self, aw: *mut AsyncWaiter, send: bool) -> bool {
        self.lock.lock();
        let mut wake = WakeList::new();
        // SAFETY: lock held; `aw` is valid (the caller's future is still alive).
        let taken = unsafe {
            let w: *mut Waiter = &raw mut (*aw).w;
            let st = self.state();
            if (*w).is_queued() {
                let q = if send { &mut st.sendq } else { &mut st.recvq };
                q.remove(w);
                false
            } else if send {
                Self::async_send_outcome(w) == Some(Status::Done)
            } else {
                self.pass_on_locked(&mut wake);
                false
            }
        };
        self.lock.unlock();
        wake.wake_all();
        taken
    }

    /// Wakes the first waiting receiver if a value waits in the channel or in a blocked
    /// sender: an async one to try again, a parked one with the value itself. (A receive only
    /// waits while no value does, except after an async receiver was woken for a value it did
    /// not take.)
    ///
    /// # Safety
    /// Lock held.
    unsafe fn pass_on_locked(&self, wake: &mut WakeList) {
        if self.stashed.load(Relaxed) == 0 && self.qcount.load(Relaxed) == 0 {
            // Only a blocked sender may hold a value (it waited for an async receiver that
            // went away): the next async receiver comes for it. A goroutine's receiver never
            // waits behind such a sender (the sender took it instead).
            // SAFETY: lock held; queued waiters are valid.
            unsafe {
                let st = self.state();
                let front = st.recvq.front();
                if st.sendq.front().is_null() || front.is_null() || !(*front).is_readiness() {
                    return;
                }
            }
        }
        // SAFETY: lock held; a dequeued waiter is valid and parked until woken.
        unsafe {
            let Some(w) = self.state().recvq.dequeue() else {
                return;
            };
            (*w).success = true;
            if !(*w).is_readiness() && self.try_recv_locked((*w).elem, wake) != Some(Status::Done) {
                crate::util::fatal!("a channel holding a value could not deliver it");
            }
            wake.push(w);
        }
    }

    /// Go's closechan, except that closing twice is harmless: marks the channel closed and wakes
    /// every blocked receiver (they get "closed") and sender (their value comes back).
    pub(crate) fn close(&self) {
        let mut wake = WakeList::new();
        self.lock.lock();
        // SAFETY: lock held.
        unsafe { self.close_locked(&mut wake) };
        self.lock.unlock();
        wake.wake_all();
    }

    /// `close` under the lock, leaving the wake-ups in `wake`.
    ///
    /// # Safety
    /// The caller holds `lock`.
    unsafe fn close_locked(&self, wake: &mut WakeList) {
        if self.closed.load(Relaxed) {
            return;
        }
        self.closed.store(true, Release);
        // SAFETY: lock held (the caller's contract); dequeued waiters are valid and parked.
        unsafe {
            let st = self.state();
            while let Some(w) = st.recvq.dequeue() {
                (*w).success = (*w).is_readiness();
                wake.push(w);
            }
            while let Some(w) = st.sendq.dequeue() {
                (*w).success = (*w).is_readiness();
                wake.push(w);
            }
        }
    }
}

// SAFETY: `lock` guards `st` (both queues) and every write the `*_locked` methods make; those
// never block and leave wake-ups in `wake` (see the module invariants).
unsafe impl Selectable for RawChan {
    fn lock(&self) {
        self.lock.lock();
    }

    fn unlock(&self) {
        self.lock.unlock();
    }

    fn unlock_final(&self) {
        self.lock.unlock_final();
    }

    unsafe fn waiters(&self, send: bool) -> &mut WaitQueue {
        // SAFETY: the caller holds the lock.
        let st = unsafe { self.state() };
        if send { &mut st.sendq } else { &mut st.recvq }
    }

    unsafe fn try_send_locked(
        &self,
        elem: *mut u8,
        wake: &mut WakeList,
        blocking: bool,
    ) -> Option<Status> {
        // SAFETY: forwarded.
        unsafe { RawChan::try_send_locked(self, elem, wake, blocking) }
    }

    unsafe fn try_recv_locked(&self, elem: *mut u8, wake: &mut WakeList) -> Option<Status> {
        // SAFETY: forwarded.
        unsafe { RawChan::try_recv_locked(self, elem, wake) }
    }

    unsafe fn reserve_send_locked(&self) -> Option<Reservation> {
        RawChan::reserve_send_locked(self)
    }

    fn run_due_timer(&self) {
        RawChan::run_due_timer(self);
    }
}
