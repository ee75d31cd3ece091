//! `block_on`: futures run by goroutines and plain threads. The goroutine parks between polls and
//! its waker readies it from any thread, any number of times, including before it has parked;
//! its processor runs other goroutines meanwhile; a locked goroutine keeps its thread; and the
//! waker allocates nothing after the first poll (counted by this binary's global allocator).
//! Join handles are futures too.

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use gort_test_support::{bounded, gettid, with_procs};

/// Counts each thread's allocations, so that a test can check that waking allocates nothing
/// (the other tests, running beside it, allocate on threads of their own).
struct Counting;

std::thread_local! {
    static ALLOCS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Allocations made by this thread so far.
fn allocs() -> usize {
    ALLOCS.with(std::cell::Cell::get)
}

// SAFETY: forwards to the system allocator; only counts (a const thread-local of a `Copy` type
// needs no allocation, and none once the thread is exiting).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(l) }
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// A future completed by someone else: `complete` sets the value and wakes the stored waker.
#[derive(Default)]
struct Slot {
    value: Mutex<(Option<u64>, Option<Waker>)>,
}

impl Slot {
    fn complete(&self, v: u64) {
        let w = {
            let mut g = self.value.lock().unwrap();
            g.0 = Some(v);
            g.1.take()
        };
        if let Some(w) = w {
            w.wake();
        }
    }
}

struct Wait(Arc<Slot>);

impl Future for Wait {
    type Output = u64;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let mut g = self.0.value.lock().unwrap();
        match g.0 {
            Some(v) => Poll::Ready(v),
            None => {
                g.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[test]
fn ready_futures_on_goroutines_and_plain_threads() {
    bounded(30, || {
        assert_eq!(gort::block_on(async { 7 }), 7);
        let v = gort::run(|| {
            let h = gort::spawn(|| gort::block_on(async { 1 + 1 }));
            gort::block_on(async { 40 }) + h.join().unwrap()
        });
        assert_eq!(v, 42);
    });
}

/// A plain thread completes each future at once: its wake races the goroutine's park (before
/// it, during it, after it). Every future completes, at procs 1 and 2, many goroutines at once.
fn woken_from_threads(procs: usize) {
    with_procs(procs, 120, || {
        let hs: Vec<_> = (0..8u64)
            .map(|k| {
                gort::spawn(move || {
                    let mut sum = 0;
                    for i in 0..2000u64 {
                        let slot = Arc::new(Slot::default());
                        let s2 = slot.clone();
                        let t = std::thread::spawn(move || s2.complete(k * 10_000 + i));
                        sum += gort::block_on(Wait(slot));
                        t.join().unwrap();
                    }
                    sum
                })
            })
            .collect();
        for (k, h) in hs.into_iter().enumerate() {
            let k = k as u64;
            assert_eq!(h.join().unwrap(), 2000 * k * 10_000 + 1999 * 2000 / 2);
        }
    });
}

#[test]
fn woken_from_threads_procs1() {
    woken_from_threads(1);
}

#[test]
fn woken_from_threads_procs2() {
    woken_from_threads(2);
}

/// A future whose waker is woken many times, by itself and by other goroutines, while the
/// goroutine parks and runs: no wake is lost, none readies it twice (a double ready would run
/// one goroutine on two threads and corrupt the counts or crash).
#[test]
fn many_wakes_ready_once() {
    with_procs(2, 120, || {
        struct Noisy {
            polls: u32,
            wakers: Arc<Mutex<Vec<Waker>>>,
        }
        impl Future for Noisy {
            type Output = u32;
            fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
                self.polls += 1;
                if self.polls == 500 {
                    return Poll::Ready(self.polls);
                }
                cx.waker().wake_by_ref();
                cx.waker().wake_by_ref();
                self.wakers.lock().unwrap().push(cx.waker().clone());
                Poll::Pending
            }
        }
        let wakers: Arc<Mutex<Vec<Waker>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let wakers_of_others: Vec<_> = (0..3)
            .map(|_| {
                let (wakers, stop) = (wakers.clone(), stop.clone());
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        let ws: Vec<Waker> = wakers.lock().unwrap().drain(..).collect();
                        for w in ws {
                            w.wake();
                        }
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let hs: Vec<_> = (0..4)
            .map(|_| {
                let wakers = wakers.clone();
                gort::spawn(move || gort::block_on(Noisy { polls: 0, wakers }))
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 500);
        }
        stop.store(true, Relaxed);
        for h in wakers_of_others {
            h.join().unwrap();
        }
    });
}

/// While a goroutine waits in `block_on`, its processor runs the others (procs 1).
#[test]
fn the_processor_runs_others_while_a_goroutine_waits() {
    with_procs(1, 60, || {
        let slot = Arc::new(Slot::default());
        let s2 = slot.clone();
        let waiter = gort::spawn(move || gort::block_on(Wait(s2)));
        // This goroutine runs, on the only processor, while the other is parked in block_on.
        gort_test_support::wait_for_state("block_on", 1);
        slot.complete(5);
        assert_eq!(waiter.join().unwrap(), 5);
    });
}

/// A future that wakes itself while it waits for another goroutine (a poll loop; an async
/// `yield_now`) lets that goroutine run: at procs 1 it is the only way the flag is ever set.
fn a_self_waking_future_lets_others_run(procs: usize) {
    with_procs(procs, 30, || {
        for _ in 0..100 {
            let flag = Arc::new(AtomicBool::new(false));
            let f2 = flag.clone();
            gort::go(move || f2.store(true, SeqCst));
            gort::block_on(std::future::poll_fn(|cx| {
                if flag.load(SeqCst) {
                    Poll::Ready(())
                } else {
                    cx.waker().wake_by_ref();
                    Poll::Pending
                }
            }));
        }
    });
}

#[test]
fn a_self_waking_future_lets_others_run_procs1() {
    a_self_waking_future_lets_others_run(1);
}

#[test]
fn a_self_waking_future_lets_others_run_procs2() {
    a_self_waking_future_lets_others_run(2);
}

/// A goroutine locked to its thread stays on it across `block_on`'s parks.
#[test]
fn locked_goroutine_keeps_its_thread() {
    bounded(60, || {
        gort::run(|| {
            gort::lock_os_thread();
            let tid = gettid();
            for i in 0..200 {
                let slot = Arc::new(Slot::default());
                let s2 = slot.clone();
                let t = std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_micros(50));
                    s2.complete(i);
                });
                assert_eq!(gort::block_on(Wait(slot)), i);
                assert_eq!(gettid(), tid);
                t.join().unwrap();
            }
            gort::unlock_os_thread();
        });
    });
}

/// After the first poll, cloning, waking and dropping the waker allocate nothing.
#[test]
fn waking_allocates_nothing_after_the_first_poll() {
    bounded(30, || {
        gort::run(|| {
            struct CloneWakeDrop {
                first: bool,
                allocs: usize,
            }
            impl Future for CloneWakeDrop {
                type Output = usize;
                fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
                    if self.first {
                        self.first = false;
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    let before = allocs();
                    for _ in 0..1000 {
                        let w = cx.waker().clone();
                        w.wake_by_ref();
                        drop(w.clone());
                        w.wake();
                    }
                    self.allocs = allocs() - before;
                    Poll::Ready(self.allocs)
                }
            }
            let n = gort::block_on(CloneWakeDrop {
                first: true,
                allocs: 0,
            });
            assert_eq!(n, 0, "waker operations allocated {n} times");
        });
    });
}

/// A waker that counts its wakes (for polling by hand, as an executor would).
struct CountingWaker(AtomicUsize);

impl std::task::Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// Awaiting a `JoinHandle`: Pending while the goroutine runs, one wake when it finishes, then
/// its value; from a goroutine through `block_on`, and a panic as `Err`, as `join` gives.
#[test]
fn join_handles_are_futures() {
    with_procs(2, 60, || {
        assert_eq!(
            gort::block_on(gort::spawn(|| 6 * 7).into_future()).unwrap(),
            42
        );
        let err =
            gort::block_on(gort::spawn(|| -> u8 { panic!("boom") }).into_future()).unwrap_err();
        assert_eq!(gort_test_support::panic_message(&*err), "boom");

        let (tx, rx) = gort::chan::<u32>(0);
        let h = gort::spawn(move || rx.recv().unwrap() + 1);
        let counter = Arc::new(CountingWaker(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut fut = std::pin::pin!(h.into_future());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert!(
            fut.as_mut().poll(&mut cx).is_pending(),
            "a second poll replaces the waker"
        );
        tx.send(9).unwrap();
        gort_test_support::eventually("the join future's waker to be woken", || {
            counter.0.load(SeqCst) == 1
        });
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert_eq!(r.unwrap(), 10),
            Poll::Pending => panic!("woken but still pending"),
        }
    });
}

/// Many goroutines awaited at once from plain threads while they finish: each future completes
/// with its own value (a lost wake would hang a thread).
#[test]
fn join_futures_racing_completion() {
    bounded(120, || {
        let threads: Vec<_> = (0..4u64)
            .map(|t| {
                std::thread::spawn(move || {
                    let mut sum = 0;
                    for i in 0..500u64 {
                        let h = gort::spawn(move || t * 1000 + i);
                        sum += gort::block_on(h.into_future()).unwrap();
                    }
                    sum
                })
            })
            .collect();
        for (t, th) in threads.into_iter().enumerate() {
            let t = t as u64;
            assert_eq!(th.join().unwrap(), 500 * t * 1000 + 499 * 500 / 2);
        }
    });
}
