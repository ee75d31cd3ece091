//! `gort::sync::Once`: runs once, waiters park until the run finished, and Go's panic rule.
//! The tests that run as a goroutine do so at procs=2, one at a time.
//!
//! The ported tests are adapted from the Go sources (Copyright The Go Authors; BSD license).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::Duration;

use gort::sync::{Once, WaitGroup};
use gort_test_support::{wait_for_state, with_procs};

/// Go: src/sync/once_test.go, TestOnce: many callers, one run, and nobody returns before it
/// finished.
#[test]
fn runs_once_and_callers_wait_for_it() {
    with_procs(2, 30, || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicUsize::new(0));
        let wg = WaitGroup::new();
        for _ in 0..100 {
            wg.add(1);
            let (once, runs, wg) = (once.clone(), runs.clone(), wg.clone());
            gort::go(move || {
                once.call_once(|| {
                    // Run until the other 99 goroutines wait for this run to finish.
                    wait_for_state("sync.Mutex.Lock", 99);
                    runs.fetch_add(1, SeqCst);
                });
                assert_eq!(runs.load(SeqCst), 1, "returned before the run finished");
                wg.done();
            });
        }
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                std::thread::spawn(move || {
                    once.call_once(|| {
                        runs.fetch_add(1, SeqCst);
                    });
                    assert_eq!(runs.load(SeqCst), 1);
                })
            })
            .collect();
        wg.wait();
        for t in threads {
            gort::blocking(|| t.join().unwrap());
        }
        assert_eq!(runs.load(SeqCst), 1);
        assert!(once.is_completed());
    });
}

/// Go's rule (documented): a panicking initialiser counts as done; later calls do nothing.
#[test]
fn panic_in_initialiser_counts_as_done() {
    with_procs(2, 30, || {
        let once = Arc::new(Once::new());
        let h = {
            let once = once.clone();
            gort::spawn(move || once.call_once(|| panic!("init failed")))
        };
        assert!(h.join().is_err());
        assert!(once.is_completed());
        let mut ran = false;
        once.call_once(|| ran = true);
        assert!(!ran);
        assert_eq!(format!("{once:?}"), "Once { completed: true }");
    });
}

/// Waiters that were parked while the initialiser panicked are released too.
#[test]
fn waiters_released_when_initialiser_panics() {
    with_procs(2, 30, || {
        let once = Arc::new(Once::new());
        let started = Arc::new(AtomicBool::new(false));
        let first = {
            let (once, started) = (once.clone(), started.clone());
            gort::spawn(move || {
                once.call_once(|| {
                    started.store(true, SeqCst);
                    // Panic once the 10 waiters have parked.
                    wait_for_state("sync.Mutex.Lock", 10);
                    panic!("init failed");
                })
            })
        };
        while !started.load(SeqCst) {
            gort::sleep(Duration::from_millis(1));
        }
        let waiters: Vec<_> = (0..10)
            .map(|_| {
                let once = once.clone();
                gort::spawn(move || once.call_once(|| unreachable!("must not run again")))
            })
            .collect();
        assert!(first.join().is_err());
        for w in waiters {
            w.join().unwrap();
        }
    });
}

#[test]
fn static_once() {
    static ONCE: Once = Once::new();
    let mut n = 0;
    ONCE.call_once(|| n += 1);
    ONCE.call_once(|| n += 1);
    assert_eq!(n, 1);
}
