//! `gort::sync::WaitGroup`: Go's src/sync/waitgroup_test.go where it maps onto the API, and
//! the below-zero panic. The tests that run as a goroutine do so at procs=2, one at a time.
//!
//! The ported tests are adapted from the Go sources (Copyright The Go Authors; BSD license).

use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering::*};

use gort::sync::WaitGroup;
use gort_test_support::{Chan, bounded, with_procs};

/// Go: src/sync/waitgroup_test.go, testWaitGroup.
fn test_wait_group(wg1: &WaitGroup, wg2: &WaitGroup) {
    let n = 16;
    wg1.add(n);
    wg2.add(n);
    let exited = Arc::new(Chan::new());
    for _ in 0..n {
        let (wg1, wg2, exited) = (wg1.clone(), wg2.clone(), exited.clone());
        gort::go(move || {
            wg1.done();
            wg2.wait();
            exited.send(true);
        });
    }
    wg1.wait();
    for _ in 0..n {
        assert!(
            exited.try_recv().is_none(),
            "WaitGroup released group too soon"
        );
        wg2.done();
    }
    for _ in 0..n {
        exited.recv(); // Will block if barrier fails to unlock someone.
    }
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroup: the same pair reused 8 times.
#[test]
fn go_test_wait_group() {
    with_procs(2, 60, || {
        let wg1 = WaitGroup::new();
        let wg2 = WaitGroup::new();
        for _ in 0..8 {
            test_wait_group(&wg1, &wg2);
        }
    });
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroupMisuse: done() below zero panics with
/// a message saying what was wrong.
#[test]
fn go_test_wait_group_misuse() {
    let wg = WaitGroup::new();
    wg.add(1);
    wg.done();
    let err = std::panic::catch_unwind(|| wg.done()).expect_err("Should panic");
    let msg = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or_default();
    assert!(
        msg.contains("WaitGroup") && msg.contains("below zero"),
        "unexpected panic message: {msg:?}"
    );
    // The counter is unchanged by the failed done(): the group is still usable.
    wg.add(1);
    wg.done();
    wg.wait();
}

/// The same misuse inside a goroutine reaches join() as a panic.
#[test]
fn wait_group_misuse_in_goroutine() {
    with_procs(2, 30, || {
        let wg = WaitGroup::new();
        let h = {
            let wg = wg.clone();
            gort::spawn(move || wg.done())
        };
        assert!(h.join().is_err());
    });
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroupMisuse3, made deterministic: a waiter is woken
/// by the round's last `done`, and before it runs (one processor) the next round's `add`
/// reuses the group. The waiter panics, naming the misuse, instead of returning into a round
/// that has not finished.
#[test]
fn reuse_before_wait_returned_panics() {
    with_procs(1, 30, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let waiter = {
            let wg = wg.clone();
            gort::spawn(move || wg.wait())
        };
        // One processor: the waiter runs when we yield, until it parks.
        gort::yield_now();
        gort_test_support::wait_for_state("sync.WaitGroup.Wait", 1);
        wg.done();
        wg.add(1);
        let e = waiter
            .join()
            .expect_err("the waiter returned into an unfinished round");
        assert!(
            gort_test_support::panic_message(&*e).contains("reused"),
            "{}",
            gort_test_support::panic_message(&*e)
        );
        wg.done();
    });
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroupRace: no spurious wakeup from wait.
#[test]
fn go_test_wait_group_race() {
    with_procs(2, 60, || {
        for _ in 0..1000 {
            let wg = WaitGroup::new();
            let n = Arc::new(AtomicI32::new(0));
            for _ in 0..2 {
                wg.add(1);
                let (wg, n) = (wg.clone(), n.clone());
                gort::go(move || {
                    n.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(n.load(SeqCst), 2, "Spurious wakeup from Wait");
        }
    });
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroupAlign (a WaitGroup inside another struct).
#[test]
fn go_test_wait_group_align() {
    struct X {
        _x: u8,
        wg: WaitGroup,
    }
    with_procs(2, 30, || {
        let x = Arc::new(X {
            _x: 0,
            wg: WaitGroup::new(),
        });
        x.wg.add(1);
        let x2 = x.clone();
        gort::go(move || x2.wg.done());
        x.wg.wait();
    });
}

/// A plain thread waits for goroutines.
#[test]
fn plain_thread_waits_for_goroutines() {
    let wg = WaitGroup::new();
    for _ in 0..50 {
        wg.add(1);
        let wg = wg.clone();
        gort::go(move || {
            gort::sleep(std::time::Duration::from_millis(1));
            wg.done();
        });
    }
    bounded(30, move || wg.wait());
}

/// Go: src/sync/waitgroup_test.go, TestWaitGroupGo; and many goroutines started by `go` at
/// once, each counted until it returns.
#[test]
fn go_test_wait_group_go() {
    with_procs(2, 30, || {
        let wg = WaitGroup::new();
        let i = Arc::new(AtomicI32::new(0));
        let i2 = i.clone();
        wg.go(move || {
            i2.fetch_add(1, SeqCst);
        });
        wg.wait();
        assert_eq!(i.load(SeqCst), 1);

        let (gate_tx, gate_rx) = gort::chan::<()>(0);
        for _ in 0..1_000 {
            let (i, gate_rx) = (i.clone(), gate_rx.clone());
            wg.go(move || {
                gate_rx.recv();
                i.fetch_add(1, SeqCst);
            });
        }
        assert_eq!(format!("{wg:?}"), "WaitGroup { count: 1000 }");
        drop(gate_tx);
        wg.wait();
        assert_eq!(i.load(SeqCst), 1_001);
    });
}

/// A goroutine started by `WaitGroup::go` that panics still counts itself out: `wait` returns.
#[test]
fn a_panicking_go_still_counts_out() {
    with_procs(2, 30, || {
        let wg = WaitGroup::new();
        for _ in 0..10 {
            wg.go(|| panic!("a goroutine of the group panics"));
        }
        wg.wait();
        assert_eq!(format!("{wg:?}"), "WaitGroup { count: 0 }");
    });
}

/// Once `wait` returns, every goroutine started by `WaitGroup::go` is gone: its goroutine-locals
/// are dropped, as `join` and `scope` promise for theirs.
#[test]
fn wait_returns_after_the_goroutines_locals_are_dropped() {
    struct Drops(Arc<AtomicI32>);
    impl Drop for Drops {
        fn drop(&mut self) {
            gort::sleep(std::time::Duration::from_millis(1));
            self.0.fetch_add(1, SeqCst);
        }
    }
    gort::goroutine_local! {
        static LOCAL: std::cell::RefCell<Option<Drops>> = std::cell::RefCell::new(None);
    }
    with_procs(2, 30, || {
        let dropped = Arc::new(AtomicI32::new(0));
        let wg = WaitGroup::new();
        for _ in 0..50 {
            let d = dropped.clone();
            wg.go(move || LOCAL.with(|l| *l.borrow_mut() = Some(Drops(d))));
        }
        wg.wait();
        assert_eq!(dropped.load(SeqCst), 50);
    });
}
