//! gort::sync with a single processor (GOMAXPROCS = 1): a goroutine blocked on a lock parks and
//! does not hold up its thread, for every primitive. Tests here share one runtime at
//! procs=1, so they run one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::Duration;

use gort::sync::{Cond, Mutex, Once, RwLock, Semaphore, WaitGroup};
use gort_test_support::{with_procs, yielders};

/// While `blocked` is parked in some sync call, four other goroutines complete 1000 yields each
/// on the one processor; then `release` lets it through.
///
/// Sysmon lends a processor past a thread that blocks in the kernel, so progress alone would not
/// show that the wait parked the goroutine: no processor may have been lent meanwhile.
fn others_keep_running(blocked: impl FnOnce() + Send + 'static, release: impl FnOnce()) {
    let lends = gort::runtime::stats().handoffs;
    let done = Arc::new(AtomicBool::new(false));
    let h = {
        let done = done.clone();
        gort::spawn(move || {
            blocked();
            done.store(true, SeqCst);
        })
    };
    // Let it run until it parks.
    for _ in 0..10 {
        gort::yield_now();
    }
    yielders(4);
    assert_eq!(
        gort::runtime::stats().handoffs,
        lends,
        "the wait blocked its thread: sysmon had to lend a processor past it"
    );
    assert!(
        !done.load(SeqCst),
        "the blocked goroutine got through too early"
    );
    release();
    h.join().unwrap();
    assert!(done.load(SeqCst));
}

/// a goroutine blocked on Mutex::lock does not block its M.
#[test]
fn blocked_mutex_lock_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let m = Arc::new(Mutex::new(0));
        let g = m.lock();
        let m2 = m.clone();
        others_keep_running(move || *m2.lock() += 1, move || drop(g));
        assert_eq!(*m.lock(), 1);
    });
}

#[test]
fn blocked_rwlock_write_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let l = Arc::new(RwLock::new(0));
        let r = l.read();
        let l2 = l.clone();
        others_keep_running(move || *l2.write() += 1, move || drop(r));
        assert_eq!(*l.read(), 1);
    });
}

#[test]
fn blocked_rwlock_read_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let l = Arc::new(RwLock::new(0));
        let w = l.write();
        let l2 = l.clone();
        others_keep_running(move || assert_eq!(*l2.read(), 0), move || drop(w));
    });
}

#[test]
fn blocked_cond_wait_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let pair = Arc::new((Mutex::new(false), Cond::new()));
        let p = pair.clone();
        let p2 = pair.clone();
        others_keep_running(
            move || drop(p.1.wait_while(p.0.lock(), |ready| !*ready)),
            move || {
                *p2.0.lock() = true;
                p2.1.notify_one();
            },
        );
    });
}

#[test]
fn blocked_semaphore_acquire_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let sem = Arc::new(Semaphore::new(2));
        sem.acquire(2);
        let s2 = sem.clone();
        let s3 = sem.clone();
        others_keep_running(move || s2.acquire(1), move || s3.release(2));
        assert_eq!(sem.available(), 1);
    });
}

#[test]
fn blocked_once_waiter_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let once = Arc::new(Once::new());
        let go_on = Arc::new(AtomicBool::new(false));
        let runner = {
            let (once, go_on) = (once.clone(), go_on.clone());
            gort::spawn(move || {
                once.call_once(|| {
                    while !go_on.load(SeqCst) {
                        gort::sleep(Duration::from_millis(1));
                    }
                })
            })
        };
        gort::yield_now();
        let o2 = once.clone();
        others_keep_running(
            move || o2.call_once(|| unreachable!()),
            move || go_on.store(true, SeqCst),
        );
        runner.join().unwrap();
    });
}

#[test]
fn blocked_waitgroup_wait_does_not_block_the_thread() {
    with_procs(1, 30, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let (w2, w3) = (wg.clone(), wg.clone());
        others_keep_running(move || w2.wait(), move || w3.done());
    });
}

/// W9's shape at procs=1: exact count, and it finishes (no hand-off livelock on one processor).
#[test]
fn eight_goroutines_exact_count_one_processor() {
    with_procs(1, 60, || {
        let m = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        for _ in 0..8 {
            wg.add(1);
            let (m, wg) = (m.clone(), wg.clone());
            gort::go(move || {
                for i in 0..20_000u64 {
                    let mut g = m.lock();
                    *g += 1;
                    if i % 100 == 0 {
                        // Park while holding it, so others queue and starvation mode engages.
                        gort::sleep(Duration::from_micros(10));
                    }
                }
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(*m.lock(), 160_000);
    });
}

/// Starvation mode on one processor: a goroutine that sleeps between attempts still gets a
/// lock that another holds almost all the time (Go's TestMutexFairness at procs=1).
#[test]
fn fairness_one_processor() {
    with_procs(1, 30, || {
        let mu = Arc::new(Mutex::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let hog = {
            let (mu, stop) = (mu.clone(), stop.clone());
            gort::spawn(move || {
                while !stop.load(Relaxed) {
                    let g = mu.lock();
                    gort::sleep(Duration::from_micros(100));
                    drop(g);
                }
            })
        };
        for _ in 0..10 {
            gort::sleep(Duration::from_micros(100));
            drop(mu.lock());
        }
        stop.store(true, Relaxed);
        hog.join().unwrap();
    });
}
