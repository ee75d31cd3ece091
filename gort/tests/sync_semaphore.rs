//! `gort::sync::Semaphore`: golang.org/x/sync/semaphore's tests where they map onto the API (no
//! context: acquire cannot be cancelled), FIFO order, and the misuse panics. The tests that
//! run as a goroutine do so at procs=2, one at a time.
//!
//! The ported tests are adapted from the Go sources (Copyright The Go Authors; BSD license).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use gort::sync::{Semaphore, WaitGroup};
use gort_test_support::{eventually, panic_message, scaled, with_procs};

/// x/sync: semaphore_test.go, HammerWeighted / TestWeighted (loops scaled down: each iteration
/// sleeps up to 1 ms).
#[test]
fn xsync_test_weighted() {
    with_procs(2, 60, || {
        let n = gort::procs().max(2);
        let loops = scaled(2000, 200) / n;
        let sem = Arc::new(Semaphore::new(n));
        let wg = WaitGroup::new();
        for i in 0..n {
            wg.add(1);
            let (sem, wg) = (sem.clone(), wg.clone());
            gort::go(move || {
                for k in 0..loops {
                    sem.acquire(i);
                    gort::sleep(Duration::from_micros(((k * 7919 + i * 31) % 1000) as u64));
                    sem.release(i);
                }
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(sem.available(), n);
    });
}

/// x/sync: TestWeightedPanic: releasing more than held panics with a clear message.
#[test]
fn xsync_test_weighted_panic() {
    let w = Semaphore::new(1);
    let err = std::panic::catch_unwind(|| w.release(1)).expect_err("release did not panic");
    let msg = panic_message(&*err);
    assert!(
        msg.contains("released 1 permits but only 0 are held"),
        "{msg}"
    );
    // The semaphore still works afterwards.
    w.acquire(1);
    let err = std::panic::catch_unwind(|| w.release(2)).expect_err("over-release did not panic");
    assert!(panic_message(&*err).contains("size 1"));
    w.release(1);
    assert_eq!(w.available(), 1);
}

/// x/sync: TestWeightedTryAcquire.
#[test]
fn xsync_test_weighted_try_acquire() {
    let sem = Semaphore::new(2);
    let mut tries = vec![];
    sem.acquire(1);
    tries.push(sem.try_acquire(1));
    tries.push(sem.try_acquire(1));
    sem.release(2);
    tries.push(sem.try_acquire(1));
    sem.acquire(1);
    tries.push(sem.try_acquire(1));
    assert_eq!(tries, [true, false, true, false]);
}

/// x/sync: TestWeightedDoesntBlockIfTooBig, adapted: without a context, a request larger than
/// the semaphore panics at once (instead of blocking forever) and leaves others unaffected.
#[test]
fn acquire_larger_than_size_panics_without_blocking_others() {
    with_procs(2, 30, || {
        let n = 2;
        let sem = Arc::new(Semaphore::new(n));
        let h = {
            let sem = sem.clone();
            gort::spawn(move || sem.acquire(n + 1))
        };
        let err = h.join().expect_err("too large an acquire must panic");
        let msg = panic_message(&*err);
        assert!(
            msg.contains("requested 3 permits") && msg.contains("size 2"),
            "{msg}"
        );
        let wg = WaitGroup::new();
        for _ in 0..n * 3 {
            wg.add(1);
            let (sem, wg) = (sem.clone(), wg.clone());
            gort::go(move || {
                sem.acquire(1);
                gort::sleep(Duration::from_millis(1));
                sem.release(1);
                wg.done();
            });
        }
        wg.wait();
    });
}

/// x/sync: TestLargeAcquireDoesntStarve: a request for every permit gets them even while
/// holders keep releasing and re-acquiring one each.
#[test]
fn xsync_test_large_acquire_doesnt_starve() {
    with_procs(2, 60, || {
        let n = gort::procs().max(2);
        let sem = Arc::new(Semaphore::new(n));
        let running = Arc::new(AtomicBool::new(true));
        let wg = WaitGroup::new();
        for _ in 0..n {
            sem.acquire(1);
            wg.add(1);
            let (sem, running, wg) = (sem.clone(), running.clone(), wg.clone());
            gort::go(move || {
                while running.load(SeqCst) {
                    gort::sleep(Duration::from_millis(1));
                    sem.release(1);
                    sem.acquire(1);
                }
                sem.release(1);
                wg.done();
            });
        }
        sem.acquire(n);
        running.store(false, SeqCst);
        sem.release(n);
        wg.wait();
    });
}

/// Waiters are served in arrival order, and a request that does not fit blocks smaller ones
/// behind it (no barging).
#[test]
fn fifo_order_and_no_barging() {
    with_procs(2, 30, || {
        let sem = Arc::new(Semaphore::new(10));
        sem.acquire(10);
        let order = Arc::new(StdMutex::new(Vec::new()));
        let mut hs = Vec::new();
        for (i, n) in [(0, 3), (1, 10), (2, 1), (3, 10)] {
            let (s, order) = (sem.clone(), order.clone());
            hs.push(gort::spawn(move || {
                s.acquire(n);
                order.lock().unwrap().push(i);
                gort::sleep(Duration::from_millis(2));
                s.release(n);
            }));
            // Let it queue before the next one arrives.
            let queued = format!("waiters: {}", i + 1);
            eventually("the waiter to queue", || {
                format!("{sem:?}").contains(&queued)
            });
            assert!(
                !sem.try_acquire(0),
                "a waiter is queued, so even 0 must queue"
            );
        }
        // One free permit would satisfy waiter 2, but waiter 0 (3) is ahead of it.
        sem.release(1);
        gort::sleep(Duration::from_millis(10));
        assert!(
            order.lock().unwrap().is_empty(),
            "nobody fits before 0's 3 permits"
        );
        sem.release(9);
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), [0, 1, 2, 3]);
        assert_eq!(sem.available(), 10);
    });
}

/// Goroutines and plain threads share one semaphore; at most `size` permits are ever held.
#[test]
fn bound_holds_across_threads_and_goroutines() {
    let per = scaled(2000, 200);
    let sem = Arc::new(Semaphore::new(3));
    let inside = Arc::new(AtomicUsize::new(0));
    let worker = {
        let (sem, inside) = (sem.clone(), inside.clone());
        move |w: usize| {
            for k in 0..per {
                let n = 1 + (k + w) % 3;
                sem.acquire(n);
                let now = inside.fetch_add(n, SeqCst) + n;
                assert!(now <= 3, "{now} permits held");
                if k % 50 == 0 {
                    gort::yield_now();
                }
                inside.fetch_sub(n, SeqCst);
                sem.release(n);
            }
        }
    };
    let threads: Vec<_> = (0..2)
        .map(|w| {
            let worker = worker.clone();
            std::thread::spawn(move || worker(w))
        })
        .collect();
    with_procs(2, 60, move || {
        let hs: Vec<_> = (0..4)
            .map(|w| {
                let worker = worker.clone();
                gort::spawn(move || worker(w + 2))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(sem.available(), 3);
    assert_eq!(sem.size(), 3);
    assert_eq!(
        format!("{sem:?}"),
        "Semaphore { size: 3, available: 3, waiters: 0 }"
    );
}
