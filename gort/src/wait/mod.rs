//! Waiters and wait queues of channels (Go's `sudog` and `waitq` in runtime2.go / chan.go), the
//! `SelectSync` a blocked select's waiters share, and the select algorithm itself (`select`),
//! which works over the `Selectable` trait. Channels (`chan::raw`) implement the trait, queue and
//! wake waiters, and use the select for their timeouts; the public `select!` and `Select` (the
//! `select` module) sit above the channels.
//!
//! A `Waiter` stands for one goroutine (or plain thread) blocked in one channel operation. It lives
//! in the blocked goroutine's own stack frame: stacks never move (ARCHITECTURE.md, decision "Stacks
//! never move") and the goroutine cannot return while the waiter is linked, so no allocation or
//! per-P cache is needed — this replaces Go's sudog cache.
//!
//! A waiter that belongs to a `select` points to the select's `SelectSync`: whoever dequeues it
//! must first win `SelectSync::claim`, because the other cases of the same select may be firing
//! concurrently on other channels (Go's `g.selectDone`). A waiter that loses is simply dropped
//! from this queue; its select removes the rest later.
//!
//! An async waiter (`recv_async`, `send_async`) is an `AsyncWaiter`: a `Waiter` with no G and the
//! task's waker. Whoever dequeues it takes the waker out under the channel lock, into a node of
//! its own, and wakes it after the lock is released: nothing touches the waiter, which lives in a
//! future that may be dropped at once, after the lock is gone. An async receiver is
//! readiness-only (`elem` null): woken, it retries its receive when polled. An async sender
//! waits with its value (`elem` points into its pinned future), which a receiver moves out under
//! the lock; the future reads the outcome from the waiter when it is next polled. A waker is code the runtime does
//! not control: where it may not run (inside a park commit, in a timer callback) the wake goes to
//! the runtime's task-wake goroutine (`task_wake`), and a waker's panic never unwinds through a
//! channel operation.
//!
//! Invariants: a waiter is in at most one queue; `queued`, `next` and `prev` change only under
//! the lock of the channel whose queue holds it; `success` and `SelectSync::fired` are written by
//! the waker before it readies the waiter's G and read by the G after it resumes.

use std::cell::UnsafeCell;
use std::ptr::null_mut;
use std::sync::atomic::{AtomicPtr, Ordering::*};
use std::task::Waker;

use crate::util::loom::AtomicU32;

use crate::rt::G;

pub(crate) mod select;
pub(crate) mod task_wake;

/// What `select` needs of a channel (crossbeam-channel's `SelectHandle`, for channels with a
/// lock): one lock around its state, its two wait queues, and the non-blocking halves of its
/// operations, run under that lock.
///
/// # Safety
/// `lock` and `unlock` guard every queue `waiters` returns and the state the `*_locked`
/// methods read and write; the `*_locked` methods are called only with the lock held, never
/// block, and hand any goroutine they dequeue to `wake` instead of readying it under the lock.
pub(crate) unsafe trait Selectable {
    /// Takes the channel's lock (select takes several, in address order).
    fn lock(&self);
    /// Releases it.
    fn unlock(&self);
    /// Releases it without touching the channel afterwards, for a park commit, after which the
    /// channel may be freed at once (util::lock).
    fn unlock_final(&self);
    /// The queue of blocked senders (`send`) or receivers.
    ///
    /// # Safety
    /// The lock is held, and the queue is not used after it is released.
    #[allow(clippy::mut_from_ref)]
    unsafe fn waiters(&self, send: bool) -> &mut WaitQueue;
    /// Sends the value at `elem` if that can be done without blocking (moved out on `Done`).
    /// `blocking`: the sender will wait if this fails, so an async receiver is woken to come
    /// for the value rather than handed it (see `RawChan::try_send_locked`).
    ///
    /// # Safety
    /// The lock is held; `elem` points to an initialised value of the channel's element type.
    unsafe fn try_send_locked(
        &self,
        elem: *mut u8,
        wake: &mut WakeList,
        blocking: bool,
    ) -> Option<Status>;
    /// Receives into `elem` if that can be done without blocking.
    ///
    /// # Safety
    /// The lock is held; `elem` has room for one element.
    unsafe fn try_recv_locked(&self, elem: *mut u8, wake: &mut WakeList) -> Option<Status>;
    /// Reserves a send for a dynamic `Select`, so that completing it never blocks. None if a
    /// send would block.
    ///
    /// # Safety
    /// The lock is held.
    unsafe fn reserve_send_locked(&self) -> Option<Reservation>;
    /// Before the cases are polled, without the lock: a timer's channel fires its timer if it
    /// is due (`RawChan::run_due_timer`).
    fn run_due_timer(&self);
}

/// Outcome of a channel operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// The value moved.
    Done,
    /// Non-blocking and not ready.
    WouldBlock,
    /// The channel is closed (for a receive: and drained). A send's value was not taken.
    Closed,
}

/// A send reserved by a dynamic `Select` (see chan::raw).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reservation {
    /// No reservation (the case did not fire).
    None,
    /// The channel is closed: the send fails.
    Closed,
    /// This receiver, dequeued and still parked, takes the value.
    Receiver(*mut Waiter),
    /// A free buffer slot is kept for the value.
    Slot,
    /// An async receiver is first in line: the value will wait for it in the channel (beyond
    /// the capacity if need be, see chan::stash), so completing the send cannot fail.
    Stash,
}

/// Shared by the waiters of one blocked `select` (and its timeout timer).
pub(crate) struct SelectSync {
    done: AtomicU32,
    /// The case that fired (`TIMEOUT` for the timer). Written once by the claimer.
    fired: UnsafeCell<usize>,
}

/// `SelectSync::fired` value when the deadline passed.
pub(crate) const TIMEOUT: usize = usize::MAX;

// SAFETY: `fired` is written only by the single thread that won `claim`, before it readies the
// selecting G, which reads it after resuming (ordered by park/ready).
unsafe impl Sync for SelectSync {}

impl SelectSync {
    pub(crate) fn new() -> SelectSync {
        SelectSync {
            done: AtomicU32::new(0),
            fired: UnsafeCell::new(0),
        }
    }

    /// Claims the select for `case`. Exactly one claim succeeds.
    pub(crate) fn claim(&self, case: usize) -> bool {
        if self.done.compare_exchange(0, 1, AcqRel, Relaxed).is_ok() {
            // SAFETY: only the winner of the CAS writes `fired`, once.
            unsafe { *self.fired.get() = case };
            true
        } else {
            false
        }
    }

    /// The fired case; valid once the selecting G has been readied.
    pub(crate) fn fired(&self) -> usize {
        // SAFETY: written before the G was readied (see the type's invariant).
        unsafe { *self.fired.get() }
    }
}

pub(crate) struct Waiter {
    /// The blocked G. Set in the park commit, before the waiter is enqueued. Null for the
    /// `Waiter` inside an `AsyncWaiter`.
    pub(crate) g: *mut G,
    /// For a sender: the value to move out. For a receiver: where to move the value in. Null for a
    /// readiness-only waiter, a send of the dynamic `Select` or an async receive: it is woken,
    /// but no value moves through it.
    pub(crate) elem: *mut u8,
    pub(crate) next: *mut Waiter,
    prev: *mut Waiter,
    queued: bool,
    /// The select this waiter belongs to, or null.
    pub(crate) sel: *const SelectSync,
    /// Case index within its select.
    pub(crate) case: usize,
    /// Set by the waker: a value moved (or, for readiness waiters, the case became ready);
    /// false if the channel was closed.
    pub(crate) success: bool,
    /// Set by a dynamic `Select` that had reserved this waiter and let it go: nothing moved,
    /// and the operation starts again.
    pub(crate) retry: bool,
}

impl Waiter {
    pub(crate) const fn new(elem: *mut u8) -> Waiter {
        Waiter {
            g: null_mut(),
            elem,
            next: null_mut(),
            prev: null_mut(),
            queued: false,
            sel: std::ptr::null(),
            case: 0,
            success: false,
            retry: false,
        }
    }

    pub(crate) fn is_readiness(&self) -> bool {
        self.elem.is_null()
    }

    /// Whether the waiter is still in its queue (read under the queue's channel lock).
    pub(crate) fn is_queued(&self) -> bool {
        self.queued
    }
}

/// A waiter for an async task instead of a goroutine (see the module doc).
#[repr(C)]
pub(crate) struct AsyncWaiter {
    /// First, so that a `*mut Waiter` with a null `g` is a `*mut AsyncWaiter`.
    pub(crate) w: Waiter,
    /// The task to wake, taken out by whoever dequeues the waiter.
    pub(crate) waker: Option<Waker>,
}

impl AsyncWaiter {
    pub(crate) const fn new() -> AsyncWaiter {
        AsyncWaiter {
            w: Waiter::new(null_mut()),
            waker: None,
        }
    }
}

/// FIFO of waiters (Go's waitq), intrusive and doubly linked for O(1) removal.
pub(crate) struct WaitQueue {
    /// Atomic so that the full()/empty() fast paths may peek at it without the lock (a plain
    /// racy read would be a data race); written only under the channel lock.
    first: AtomicPtr<Waiter>,
    last: *mut Waiter,
}

impl WaitQueue {
    pub(crate) const fn new() -> WaitQueue {
        WaitQueue {
            first: AtomicPtr::new(null_mut()),
            last: null_mut(),
        }
    }

    /// Emptiness peek without the channel lock (Go's full()/empty() fast paths): reads only the
    /// atomic `first` field through a raw pointer, so it neither races nor borrows the queue.
    ///
    /// # Safety
    /// `q` points to a live queue.
    pub(crate) unsafe fn peek_empty(q: *const WaitQueue) -> bool {
        // SAFETY: the caller guarantees `q` is live; `first` is atomic.
        unsafe { (*std::ptr::addr_of!((*q).first)).load(Relaxed).is_null() }
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.first.load(Relaxed).is_null()
    }

    /// Appends `w`.
    ///
    /// # Safety
    /// `w` is valid, in no queue, and stays valid until dequeued or removed.
    pub(crate) unsafe fn enqueue(&mut self, w: *mut Waiter) {
        // SAFETY: the caller guarantees `w` is valid; `last` is a valid queued waiter.
        unsafe {
            (*w).next = null_mut();
            (*w).prev = self.last;
            (*w).queued = true;
            if self.last.is_null() {
                self.first.store(w, Relaxed);
            } else {
                (*self.last).next = w;
            }
        }
        self.last = w;
    }

    /// Removes `w` if it is still queued here.
    ///
    /// # Safety
    /// `w` is valid and, if queued, queued in this queue.
    pub(crate) unsafe fn remove(&mut self, w: *mut Waiter) {
        // SAFETY: `w` and its neighbours are valid queued waiters (caller's guarantee).
        unsafe {
            if !(*w).queued {
                return;
            }
            let (p, n) = ((*w).prev, (*w).next);
            if p.is_null() {
                self.first.store(n, Relaxed);
            } else {
                (*p).next = n;
            }
            if n.is_null() {
                self.last = p;
            } else {
                (*n).prev = p;
            }
            (*w).queued = false;
            (*w).next = null_mut();
            (*w).prev = null_mut();
        }
    }

    /// The first waiter, or null; it stays queued.
    pub(crate) fn front(&self) -> *mut Waiter {
        self.first.load(Relaxed)
    }

    /// Removes the waiter `w` (usually the first) and claims its select if it has one: true if
    /// it can be woken, false if its select had already fired (it is simply dropped).
    ///
    /// # Safety
    /// `w` is queued here.
    pub(crate) unsafe fn pop_front(&mut self, w: *mut Waiter) -> bool {
        // SAFETY: queued waiters are valid (enqueue's contract).
        unsafe {
            self.remove(w);
            let sel = (*w).sel;
            sel.is_null() || (*sel).claim((*w).case)
        }
    }

    /// Dequeues the first waiter with a value or a destination (claimed, if a select's; losing
    /// select waiters are dropped on the way), passing over readiness-only ones (async
    /// receivers, in a receive queue), which stay queued.
    pub(crate) fn dequeue_goroutine(&mut self) -> Option<*mut Waiter> {
        let mut w = self.front();
        while !w.is_null() {
            // SAFETY: queued waiters are valid (enqueue's contract); `next` is read before `w`
            // may leave the queue.
            unsafe {
                let next = (*w).next;
                if !(*w).is_readiness() && self.pop_front(w) {
                    return Some(w);
                }
                w = next;
            }
        }
        None
    }

    /// Go's `dequeue`: pops the first waiter that can be woken — a plain waiter, or a select
    /// waiter whose select this call claims. Select waiters that lost are dropped on the way.
    pub(crate) fn dequeue(&mut self) -> Option<*mut Waiter> {
        loop {
            let w = self.front();
            if w.is_null() {
                return None;
            }
            // SAFETY: `w` is the non-null front.
            if unsafe { self.pop_front(w) } {
                return Some(w);
            }
        }
    }
}

/// Dequeued waiters to wake once the channel lock is released, in a singly linked list through
/// `Waiter::next` (free once a waiter left its queue). A dequeued async waiter's waker moves to a
/// node of its own, an `AsyncWaiter` allocated here, since the waiter itself may be gone once
/// the lock is released; the goroutine path pays one null test for it.
pub(crate) struct WakeList {
    head: *mut Waiter,
}

impl WakeList {
    pub(crate) const fn new() -> WakeList {
        WakeList { head: null_mut() }
    }

    /// # Safety
    /// `w` was just dequeued (in no queue) under the channel lock, which is still held, and its
    /// G (if it has one) is parked.
    pub(crate) unsafe fn push(&mut self, mut w: *mut Waiter) {
        // SAFETY: the caller guarantees `w` is a valid dequeued waiter.
        unsafe {
            if (*w).g.is_null() {
                match Self::task_node(w) {
                    Some(node) => w = node,
                    None => return,
                }
            }
            (*w).next = self.head;
        }
        self.head = w;
    }

    /// Moves the waker of the async waiter `w` to a new node.
    ///
    /// # Safety
    /// `w` is the `Waiter` of a live `AsyncWaiter`, and the lock of its channel is held.
    #[cold]
    unsafe fn task_node(w: *mut Waiter) -> Option<*mut Waiter> {
        // SAFETY: a waiter without a G is the first field of an AsyncWaiter (repr(C)), whose
        // future cannot go away while the channel lock is held.
        let waker = unsafe { (*w.cast::<AsyncWaiter>()).waker.take()? };
        let node = Box::new(AsyncWaiter {
            w: Waiter::new(null_mut()),
            waker: Some(waker),
        });
        Some(Box::into_raw(node).cast())
    }

    /// Readies every G on the list and wakes every task. Call with no channel lock held.
    pub(crate) fn wake_all(self) {
        let mut w = self.head;
        while !w.is_null() {
            // SAFETY: listed waiters are valid until their G runs; read `next` and `g` before
            // readying it, since the G may return (ending the waiter's frame) right after.
            let (next, g) = unsafe { ((*w).next, (*w).g) };
            if g.is_null() {
                // SAFETY: a listed waiter without a G is a node made by `task_node`.
                unsafe { Self::wake_task(w) };
            } else {
                // SAFETY: the waiter was dequeued (claimed, for a select's) by the lock holder
                // that built this list: we are its G's one waker.
                unsafe { crate::rt::ready(g) };
            }
            w = next;
        }
    }

    /// Wakes the task of node `w`: here, if its waker may run here (rt::waker), else through
    /// the goroutine that runs task wakes (`task_wake`).
    ///
    /// # Safety
    /// `w` was made by `task_node` and is woken once.
    #[cold]
    unsafe fn wake_task(w: *mut Waiter) {
        // SAFETY: a node made by `task_node` is an AsyncWaiter, whose waker is set.
        let here = unsafe { (*w.cast::<AsyncWaiter>()).waker.as_ref() }
            .is_none_or(crate::rt::waker_may_run_here);
        if here {
            // SAFETY: the caller's contract.
            unsafe { Self::wake_task_here(w) };
        } else {
            // SAFETY: the caller's contract; the node is in no list now.
            unsafe { task_wake::defer(w) };
        }
    }

    /// Wakes the task of node `w` on the caller's stack. A panic in the waker stops here: the
    /// panic hook has reported it, and the channel operation that found the task is complete
    /// and must stay so (its value already moved, other waiters still to wake).
    ///
    /// # Safety
    /// `w` was made by `task_node` and is woken once.
    pub(crate) unsafe fn wake_task_here(w: *mut Waiter) {
        // SAFETY: allocated by `task_node` with Box::into_raw.
        let mut node = unsafe { Box::from_raw(w.cast::<AsyncWaiter>()) };
        if let Some(k) = node.waker.take() {
            crate::util::fatal::contain_panic(|| k.wake());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_remove_and_claims() {
        let mut ws: Vec<Waiter> = (0..5).map(|_| Waiter::new(8 as *mut u8)).collect();
        let p: Vec<*mut Waiter> = ws.iter_mut().map(|w| w as *mut Waiter).collect();
        let mut q = WaitQueue::new();
        // SAFETY: `ws` outlives the queue's use of the waiters.
        unsafe {
            for &w in &p {
                q.enqueue(w);
            }
            q.remove(p[2]);
            q.remove(p[2]);
        }
        let sync = SelectSync::new();
        // Waiters 0 and 3 belong to one select: only the first dequeued wins.
        ws[0].sel = &sync;
        ws[3].sel = &sync;
        ws[3].case = 3;
        assert_eq!(q.dequeue(), Some(p[0]));
        assert_eq!(sync.fired(), 0);
        assert_eq!(q.dequeue(), Some(p[1]));
        assert_eq!(q.dequeue(), Some(p[4]), "waiter 3 lost its select's claim");
        assert_eq!(q.dequeue(), None);
        assert!(q.is_empty());
    }
}

/// Model check (run with `--cfg loom`, see util::loom).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::{Arc, Mutex};

    struct Queue(Mutex<WaitQueue>);
    // SAFETY: the queue's raw pointers refer to waiters that outlive the model's threads.
    unsafe impl Send for Queue {}
    // SAFETY: as above; the queue is only touched under its mutex.
    unsafe impl Sync for Queue {}

    /// One select waits on two channels (a waiter in each queue, one `SelectSync`) behind and
    /// ahead of plain waiters; two wakers dequeue from the two queues at once: the select is
    /// claimed exactly once, for the case whose waiter was dequeued, and plain waiters are
    /// never skipped.
    #[test]
    fn loom_two_wakers_claim_a_select_once() {
        loom::model(|| {
            let sync = Box::leak(Box::new(SelectSync::new()));
            let ws: &'static mut [Waiter] =
                Box::leak((0..3).map(|_| Waiter::new(8 as *mut u8)).collect());
            ws[0].sel = sync;
            ws[0].case = 0;
            ws[1].sel = sync;
            ws[1].case = 1;
            let p: Vec<usize> = ws.iter_mut().map(|w| w as *mut Waiter as usize).collect();
            let (qa, qb) = (
                Arc::new(Queue(Mutex::new(WaitQueue::new()))),
                Arc::new(Queue(Mutex::new(WaitQueue::new()))),
            );
            // SAFETY: the waiters are leaked, so they outlive the queues.
            unsafe {
                qa.0.lock().unwrap().enqueue(p[0] as *mut Waiter);
                let mut b = qb.0.lock().unwrap();
                b.enqueue(p[1] as *mut Waiter);
                b.enqueue(p[2] as *mut Waiter);
            }
            let qb2 = qb.clone();
            let t =
                loom::thread::spawn(move || qb2.0.lock().unwrap().dequeue().map(|w| w as usize));
            let a = qa.0.lock().unwrap().dequeue().map(|w| w as usize);
            let b = t.join().unwrap();
            match (a, b) {
                (Some(w0), Some(w2)) => {
                    assert_eq!((w0, w2), (p[0], p[2]), "b skipped its lost select waiter");
                    assert_eq!(sync.fired(), 0);
                }
                (None, Some(w1)) => {
                    assert_eq!(w1, p[1]);
                    assert_eq!(sync.fired(), 1);
                }
                other => panic!("unexpected dequeues {other:?}"),
            }
        });
    }
}
