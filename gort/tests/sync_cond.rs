//! `gort::sync::Cond`: Go's src/sync/cond_test.go where it maps onto the API (Wait takes and
//! returns the guard; Signal/Broadcast are notify_one/notify_all). The tests run at procs=2,
//! one at a time.
//!
//! The ported tests are adapted from the Go sources (Copyright The Go Authors; BSD license).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::Duration;

use gort::sync::{Cond, Mutex};
use gort_test_support::{Chan, wait_for_state, with_procs};

/// Go: src/sync/cond_test.go, TestCondSignal.
#[test]
fn go_test_cond_signal() {
    with_procs(2, 60, || {
        let m = Arc::new(Mutex::new(()));
        let c = Arc::new(Cond::new());
        let mut n = 2;
        let running = Arc::new(Chan::new());
        let awake = Arc::new(Chan::new());
        for _ in 0..n {
            let (m, c, running, awake) = (m.clone(), c.clone(), running.clone(), awake.clone());
            gort::go(move || {
                let g = m.lock();
                running.send(true);
                let g = c.wait(g);
                awake.send(true);
                drop(g);
            });
        }
        for _ in 0..n {
            running.recv(); // Wait for everyone to run.
        }
        while n > 0 {
            assert!(awake.try_recv().is_none(), "goroutine not asleep");
            let g = m.lock();
            c.notify_one();
            drop(g);
            awake.recv(); // Will deadlock if no goroutine wakes up
            assert!(awake.try_recv().is_none(), "too many goroutines awake");
            n -= 1;
        }
        c.notify_one();
    });
}

/// Go: src/sync/cond_test.go, TestCondSignalGenerations: notify_one wakes the longest waiter.
#[test]
fn go_test_cond_signal_generations() {
    with_procs(2, 60, || {
        let m = Arc::new(Mutex::new(()));
        let c = Arc::new(Cond::new());
        let n = 100;
        let running = Arc::new(Chan::new());
        let awake = Arc::new(Chan::new());
        for i in 0..n {
            {
                let (m, c, running, awake) = (m.clone(), c.clone(), running.clone(), awake.clone());
                gort::go(move || {
                    let g = m.lock();
                    running.send(true);
                    let g = c.wait(g);
                    awake.send(i);
                    drop(g);
                });
            }
            if i > 0 {
                let a = awake.recv();
                assert_eq!(a, i - 1, "wrong goroutine woke up");
            }
            running.recv();
            let g = m.lock();
            c.notify_one();
            drop(g);
        }
    });
}

/// Go: src/sync/cond_test.go, TestCondBroadcast.
#[test]
fn go_test_cond_broadcast() {
    with_procs(2, 60, || {
        let n = 200;
        let m = Arc::new(Mutex::new(false)); // the `exit` flag
        let c = Arc::new(Cond::new());
        let running = Arc::new(Chan::new());
        let awake = Arc::new(Chan::new());
        for g in 0..n {
            let (m, c, running, awake) = (m.clone(), c.clone(), running.clone(), awake.clone());
            gort::go(move || {
                let mut exit = m.lock();
                while !*exit {
                    running.send(g);
                    exit = c.wait(exit);
                    awake.send(g);
                }
            });
        }
        for i in 0..n {
            for _ in 0..n {
                running.recv(); // Will deadlock unless n are running.
            }
            if i == n - 1 {
                *m.lock() = true;
            }
            assert!(awake.try_recv().is_none(), "goroutine not asleep");
            let g = m.lock();
            c.notify_all();
            drop(g);
            let mut seen = vec![false; n];
            for _ in 0..n {
                let g = awake.recv();
                assert!(!seen[g], "goroutine woke up twice");
                seen[g] = true;
            }
        }
        gort::sleep(Duration::from_millis(1));
        assert!(running.try_recv().is_none(), "goroutine did not exit");
        c.notify_all();
    });
}

/// Go: src/sync/cond_test.go, TestRace.
#[test]
fn go_test_race() {
    with_procs(2, 60, || {
        let x = Arc::new(Mutex::new(0));
        let c = Arc::new(Cond::new());
        let done = Arc::new(Chan::new());
        {
            let (x, c, done) = (x.clone(), c.clone(), done.clone());
            gort::go(move || {
                let mut g = x.lock();
                *g = 1;
                g = c.wait(g);
                assert_eq!(*g, 2, "want 2");
                *g = 3;
                c.notify_one();
                drop(g);
                done.send(true);
            });
        }
        {
            let (x, c, done) = (x.clone(), c.clone(), done.clone());
            gort::go(move || {
                let mut g = x.lock();
                loop {
                    if *g == 1 {
                        *g = 2;
                        c.notify_one();
                        break;
                    }
                    drop(g);
                    gort::yield_now();
                    g = x.lock();
                }
                drop(g);
                done.send(true);
            });
        }
        {
            let (x, c, done) = (x.clone(), c.clone(), done.clone());
            gort::go(move || {
                let mut g = x.lock();
                loop {
                    if *g == 2 {
                        g = c.wait(g);
                        assert_eq!(*g, 3, "want 3");
                        break;
                    }
                    if *g == 3 {
                        break;
                    }
                    drop(g);
                    gort::yield_now();
                    g = x.lock();
                }
                drop(g);
                done.send(true);
            });
        }
        for _ in 0..3 {
            done.recv();
        }
    });
}

/// Go: src/sync/cond_test.go, TestCondSignalStealing: a broadcast racing with a new waiter
/// still wakes the waiter that was already waiting.
#[test]
fn go_test_cond_signal_stealing() {
    with_procs(2, 120, || {
        for _ in 0..1000 {
            let m = Arc::new(Mutex::new(false)); // `done`
            let cond = Arc::new(Cond::new());
            // Start a waiter.
            let ch = Arc::new(Chan::new());
            {
                let (m, cond, ch) = (m.clone(), cond.clone(), ch.clone());
                gort::go(move || {
                    let g = m.lock();
                    ch.send(());
                    let g = cond.wait(g);
                    drop(g);
                    ch.send(());
                });
            }
            ch.recv();
            drop(m.lock());
            // The waiter is in wait(): we synchronised with it, then took and released the
            // mutex it held. Race a broadcast against a new waiter.
            {
                let cond = cond.clone();
                gort::go(move || cond.notify_all());
            }
            {
                let (m, cond) = (m.clone(), cond.clone());
                gort::go(move || {
                    let mut done = m.lock();
                    while !*done {
                        done = cond.wait(done);
                    }
                });
            }
            // The first waiter must be notified.
            assert!(
                ch.recv_timeout(Duration::from_secs(2)).is_some(),
                "First waiter didn't get broadcast."
            );
            // Release the second waiter in case it didn't get the broadcast.
            *m.lock() = true;
            cond.notify_all();
        }
    });
}

#[test]
fn wait_while_and_notify_without_waiters() {
    with_procs(2, 30, || {
        let c = Cond::new();
        c.notify_one();
        c.notify_all();
        let pair = Arc::new((Mutex::new(0), Cond::new()));
        let p = pair.clone();
        gort::go(move || {
            for _ in 0..5 {
                // Each notification finds the main goroutine waiting in wait_while.
                wait_for_state("sync.Cond.Wait", 1);
                *p.0.lock() += 1;
                p.1.notify_all();
            }
        });
        let g = pair.1.wait_while(pair.0.lock(), |n| *n < 5);
        assert_eq!(*g, 5);
        assert_eq!(format!("{:?}", pair.1), "Cond { .. }");
    });
}

/// A plain thread waits on a Cond notified by a goroutine, and a goroutine waits on one notified
/// by a plain thread.
#[test]
fn cond_between_threads_and_goroutines() {
    let pair = Arc::new((Mutex::new(0u32), Cond::new()));
    let p = pair.clone();
    let t = std::thread::spawn(move || {
        let mut g = p.0.lock();
        while *g != 1 {
            g = p.1.wait(g);
        }
        *g = 2;
        p.1.notify_all();
    });
    let p = pair.clone();
    with_procs(2, 30, move || {
        gort::sleep(Duration::from_millis(10));
        *p.0.lock() = 1;
        p.1.notify_all();
        let g = p.1.wait_while(p.0.lock(), |v| *v != 2);
        assert_eq!(*g, 2);
    });
    t.join().unwrap();
}

/// Many waiters, notify_one from several goroutines: every waiter wakes exactly once.
#[test]
fn notify_one_wakes_each_waiter_once() {
    with_procs(2, 60, || {
        let n = 300;
        let state = Arc::new((Mutex::new(0usize), Cond::new()));
        let woke = Arc::new(AtomicUsize::new(0));
        let parked = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..n)
            .map(|_| {
                let (state, woke, parked) = (state.clone(), woke.clone(), parked.clone());
                gort::spawn(move || {
                    let mut g = state.0.lock();
                    parked.fetch_add(1, SeqCst);
                    while *g == 0 {
                        g = state.1.wait(g);
                    }
                    *g -= 1;
                    woke.fetch_add(1, SeqCst);
                })
            })
            .collect();
        while parked.load(SeqCst) < n {
            gort::yield_now();
        }
        let notifiers: Vec<_> = (0..3)
            .map(|k| {
                let state = state.clone();
                gort::spawn(move || {
                    for _ in 0..n / 3 {
                        *state.0.lock() += 1;
                        state.1.notify_one();
                        if k == 0 {
                            gort::yield_now();
                        }
                    }
                })
            })
            .collect();
        for h in notifiers {
            h.join().unwrap();
        }
        for h in hs {
            h.join().unwrap();
        }
        assert_eq!(woke.load(SeqCst), n);
        assert_eq!(*state.0.lock(), 0);
    });
}
