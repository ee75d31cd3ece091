//! Wakers that misbehave: a task's `Waker` is code the runtime does not control, and channels
//! and timers call it. A waker that panics, blocks on a gort channel, or touches the channel
//! that holds it (from its `wake`, `clone` or `drop`) must leave every channel consistent: no
//! value dropped twice or lost, no goroutine woken for the wrong wait, no deadlock on a
//! runtime lock. Each case runs from a plain thread and from goroutines, at procs 1 and 2.

use std::alloc::{GlobalAlloc, Layout, System};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use gort::{Receiver, Sender};
use gort_test_support::{Tracked, bounded, with_procs};

/// Counts allocations of zero bytes, which `GlobalAlloc` forbids.
struct NoZeroSize;

static ZERO_SIZED: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, with the caller's layouts.
unsafe impl GlobalAlloc for NoZeroSize {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == 0 {
            ZERO_SIZED.fetch_add(1, SeqCst);
        }
        // SAFETY: the caller's contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: NoZeroSize = NoZeroSize;

fn poll_with<F: Future + ?Sized>(f: Pin<&mut F>, w: &Waker) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(w))
}

/// A waker whose wake panics.
struct Boom;

impl Wake for Boom {
    fn wake(self: Arc<Self>) {
        panic!("this waker panics");
    }
}

/// A waker whose wake blocks: it sends on an unbuffered gort channel.
struct Blocks(Sender<u8>);

impl Wake for Blocks {
    fn wake(self: Arc<Self>) {
        let _ = self.0.send(1);
    }
}

/// Runs `f` at procs 1 and 2, from a goroutine and from a plain thread.
fn everywhere(secs: u64, f: impl Fn() + Copy + Send + 'static) {
    for procs in [1, 2] {
        with_procs(procs, secs, move || {
            f();
            gort::blocking(|| std::thread::spawn(f).join().unwrap());
        });
    }
}

/// An async receiver with a waker that panics, and a send that completes to it: `send` must
/// say it completed (the waker's panic does not unwind through it), and the value must reach
/// the receiver and be dropped once.
fn a_panicking_waker_meets(send: fn(&Sender<Tracked>, Tracked) -> bool) {
    everywhere(30, move || {
        for id in 0..10 {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = gort::chan::<Tracked>(0);
            let boom = Waker::from(Arc::new(Boom));
            let mut r = Box::pin(rx.recv_async());
            assert!(poll_with(r.as_mut(), &boom).is_pending());
            let v = Tracked::new(id, &drops);
            let sent = catch_unwind(AssertUnwindSafe(|| send(&tx, v)));
            assert!(
                matches!(sent, Ok(true)),
                "the send completed and reported it"
            );
            assert_eq!(
                drops.load(SeqCst),
                0,
                "the sent value is the receiver's now"
            );
            let got = gort::block_on(r.as_mut()).expect("the value waits for the receiver");
            assert_eq!(got.id, id);
            drop(got);
            assert_eq!(drops.load(SeqCst), 1);
        }
    });
}

#[test]
fn a_panicking_waker_leaves_a_selected_send_delivered_once() {
    // With `default`, the send leaves its value for the async receiver.
    a_panicking_waker_meets(|tx, v| {
        gort::select! { send(tx, v) -> res => res.is_ok(), default => false }
    });
}

/// The same for `send_async`, which wakes the receiver and waits for it to take the value.
#[test]
fn a_panicking_waker_leaves_an_async_send_delivered_once() {
    everywhere(30, || {
        for id in 0..10 {
            let drops = Arc::new(AtomicUsize::new(0));
            let (tx, rx) = gort::chan::<Tracked>(0);
            let boom = Waker::from(Arc::new(Boom));
            let mut r = Box::pin(rx.recv_async());
            assert!(poll_with(r.as_mut(), &boom).is_pending());
            let mut s = Box::pin(tx.send_async(Tracked::new(id, &drops)));
            let first = catch_unwind(AssertUnwindSafe(|| poll_with(s.as_mut(), Waker::noop())));
            assert!(
                matches!(first, Ok(Poll::Pending)),
                "the send waits for the receiver it woke"
            );
            let got = gort::block_on(r.as_mut()).expect("the value waits for the receiver");
            assert_eq!(got.id, id);
            assert!(matches!(
                poll_with(s.as_mut(), Waker::noop()),
                Poll::Ready(Ok(()))
            ));
            drop(s);
            assert_eq!(drops.load(SeqCst), 0, "the sent value is the receiver's");
            drop(got);
            assert_eq!(drops.load(SeqCst), 1);
        }
    });
}

/// A waker whose drop panics (its wake does nothing).
fn waker_whose_drop_panics() -> Waker {
    use std::task::{RawWaker, RawWakerVTable};
    unsafe fn clone(p: *const ()) -> RawWaker {
        RawWaker::new(p, &VTABLE)
    }
    unsafe fn wake(_: *const ()) {}
    unsafe fn drop_panics(_: *const ()) {
        panic!("this waker's drop panics");
    }
    static VTABLE: RawWakerVTable = RawWakerVTable::new(clone, wake, wake, drop_panics);
    // SAFETY: the vtable's functions keep RawWaker's contract (they touch no data).
    unsafe { Waker::from_raw(RawWaker::new(std::ptr::null(), &VTABLE)) }
}

/// An async send and an async receive that complete at their first poll, whose task's waker
/// panics when dropped (the channel clones it before it knows it will not wait): the outcome
/// stands, so the sent value is neither dropped by the future too nor lost by the receive.
#[test]
fn a_waker_whose_drop_panics_leaves_async_operations_whole() {
    everywhere(30, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = gort::chan::<Tracked>(1);
        let waker = waker_whose_drop_panics();
        {
            let mut send = Box::pin(tx.send_async(Tracked::new(1, &drops)));
            let r = catch_unwind(AssertUnwindSafe(|| poll_with(send.as_mut(), &waker)));
            assert!(matches!(r, Ok(Poll::Ready(Ok(())))), "the send completed");
        }
        assert_eq!(
            drops.load(SeqCst),
            0,
            "the sent value belongs to the channel"
        );
        {
            let mut recv = Box::pin(rx.recv_async());
            let r = catch_unwind(AssertUnwindSafe(|| poll_with(recv.as_mut(), &waker)));
            let Ok(Poll::Ready(Some(v))) = r else {
                panic!("the receive completed with the value");
            };
            assert_eq!(v.id, 1);
        }
        assert_eq!(drops.load(SeqCst), 1);
        std::mem::forget(waker);
    });
}

/// A `JoinHandle` awaited by a task whose waker panics: the goroutine's exit wakes it, and the
/// panic stays in the waker; the result is still delivered and the program goes on.
#[test]
fn a_panicking_waker_on_a_join_handle_leaves_the_exit_whole() {
    everywhere(30, || {
        let (tx, rx) = gort::chan::<()>(0);
        let h = gort::spawn(move || {
            rx.recv();
            5
        });
        let mut join = Box::pin(h.into_future());
        let waker = Waker::from(Arc::new(Boom));
        assert!(poll_with(join.as_mut(), &waker).is_pending());
        tx.send(()).unwrap();
        let r = loop {
            if let Poll::Ready(r) = poll_with(join.as_mut(), Waker::noop()) {
                break r;
            }
            gort::sleep(Duration::from_millis(1));
        };
        assert_eq!(r.unwrap(), 5);
    });
}

/// An async receiver on an unbuffered channel whose waker blocks (sending on a second
/// channel), and a goroutine that takes that send and then polls the async receiver again:
/// `send` on the first channel must complete. The send, finding the async receiver first in
/// line, wakes its task and parks until the task comes for the value: a waker that blocks must
/// not run inside that park, where the send's own wait is already published.
fn a_blocking_waker_meets(send: fn(&Sender<u8>, u8) -> bool) {
    everywhere(30, move || {
        for _ in 0..50 {
            let (a_tx, a_rx) = gort::chan::<u8>(0);
            let (b_tx, b_rx) = gort::chan::<u8>(0);
            let blocks = Waker::from(Arc::new(Blocks(b_tx)));
            let recv = Arc::new(Mutex::new(Box::pin(async move { a_rx.recv_async().await })));
            assert!(poll_with(recv.lock().unwrap().as_mut(), &blocks).is_pending());
            let poller = recv.clone();
            let g = gort::spawn(move || {
                assert_eq!(b_rx.recv(), Some(1), "the waker ran");
                let mut f = poller.lock().unwrap();
                assert!(matches!(
                    poll_with(f.as_mut(), Waker::noop()),
                    Poll::Ready(Some(7))
                ));
            });
            assert!(send(&a_tx, 7));
            g.join().unwrap();
        }
    });
}

#[test]
fn a_waker_that_blocks_does_not_run_inside_a_park() {
    a_blocking_waker_meets(|a, v| a.send(v).is_ok());
}

/// The same from `select!`, whose park publishes a wait on every arm.
#[test]
fn a_waker_that_blocks_does_not_run_inside_a_select_park() {
    a_blocking_waker_meets(|a, v| {
        let (_c_tx, c_rx) = gort::chan::<u8>(0);
        gort::select! {
            send(a, v) -> r => r.is_ok(),
            recv(c_rx) -> _ => false,
        }
    });
}

/// A timer fires on a scheduler, where nothing may block: a waker that blocks runs elsewhere.
#[test]
fn a_waker_that_blocks_does_not_run_inside_a_timer() {
    everywhere(30, || {
        for _ in 0..20 {
            let (b_tx, b_rx) = gort::chan::<u8>(0);
            let blocks = Waker::from(Arc::new(Blocks(b_tx)));
            let t = gort::after(Duration::from_millis(1));
            let mut r = Box::pin(t.recv_async());
            assert!(poll_with(r.as_mut(), &blocks).is_pending());
            assert_eq!(b_rx.recv(), Some(1), "the waker ran");
            assert!(matches!(
                poll_with(r.as_mut(), Waker::noop()),
                Poll::Ready(Some(_))
            ));
        }
    });
}

/// A waker whose `drop` (and `clone`) sends on the channel that holds it.
struct Touches(Sender<u8>);

impl Wake for Touches {
    fn wake(self: Arc<Self>) {}
}

impl Drop for Touches {
    fn drop(&mut self) {
        let _ = self.0.try_send(1);
    }
}

#[test]
fn a_waker_dropped_by_a_channel_may_use_that_channel() {
    everywhere(30, || {
        let (tx, rx): (Sender<u8>, Receiver<u8>) = gort::chan(1);
        let mut r = Box::pin(rx.recv_async());
        let first = Waker::from(Arc::new(Touches(tx.clone())));
        assert!(poll_with(r.as_mut(), &first).is_pending());
        drop(first);
        // A second poll with another waker replaces (drops) the first one.
        let second = Waker::from(Arc::new(Touches(tx.clone())));
        let got = poll_with(r.as_mut(), &second);
        drop(second);
        let got = match got {
            Poll::Ready(v) => v,
            Poll::Pending => gort::block_on(r.as_mut()),
        };
        assert_eq!(got, Some(1), "the dropped waker's value arrived");
    });
}

#[repr(align(64))]
#[derive(Debug, PartialEq)]
struct AlignedZst;

#[test]
fn the_dynamic_select_moves_an_over_aligned_zero_sized_value() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<AlignedZst>(1);
        tx.send(AlignedZst).unwrap();
        let mut sel = gort::Select::new();
        let i = sel.recv(&rx);
        let op = sel.select();
        assert_eq!(op.index(), i);
        assert_eq!(op.recv(&rx), Some(AlignedZst));
        assert_eq!(ZERO_SIZED.load(SeqCst), 0, "no allocation of zero bytes");
    });
}
