//! Tests for gort::context, many adapted from Go's src/context/context_test.go
//! (Copyright The Go Authors; BSD license): TestBackground, TestWithCancel, TestParentFinishesChild,
//! TestChildFinishesFirst, TestDeadline, TestTimeout, TestCanceledTimeout. TestCancelRemoves is
//! a unit test in src/context.rs: it reads the child set.

use std::time::{Duration, Instant};

use gort::context::{Context, Error};
use gort_test_support::bounded;

fn is_done(ctx: &Context) -> bool {
    gort::select! {
        recv(ctx.done()) -> _ => true,
        default => false,
    }
}

#[test]
fn background_is_never_done() {
    let c = Context::background();
    assert!(c.deadline().is_none());
    assert!(c.err().is_none());
    assert!(!is_done(&c));
    assert_eq!(
        c.done().recv_timeout(Duration::from_millis(20)),
        Err(gort::RecvTimeoutError::Timeout)
    );
}

#[test]
fn with_cancel_closes_done_and_sets_err() {
    bounded(30, || {
        gort::run(|| {
            let (c1, cancel) = Context::background().with_cancel();
            let (c2, _c2cancel) = c1.with_cancel();
            let (c3, _c3cancel) = c2.with_cancel();
            for c in [&c1, &c2, &c3] {
                assert!(c.err().is_none());
                assert!(!is_done(c));
            }
            cancel.cancel();
            for c in [&c1, &c2, &c3] {
                assert_eq!(c.done().recv(), None, "done must be closed");
                assert_eq!(c.err(), Some(Error::Canceled));
            }
            cancel.cancel();
            assert_eq!(c1.err(), Some(Error::Canceled));
        });
    });
}

#[test]
fn child_cancel_does_not_affect_parent() {
    let (parent, pcancel) = Context::background().with_cancel();
    let (child, ccancel) = parent.with_cancel();
    ccancel.cancel();
    assert_eq!(child.err(), Some(Error::Canceled));
    assert!(parent.err().is_none());
    assert!(!is_done(&parent));
    pcancel.cancel();
    assert_eq!(parent.err(), Some(Error::Canceled));
}

#[test]
fn child_of_cancelled_parent_starts_cancelled() {
    let (parent, pcancel) = Context::background().with_cancel();
    pcancel.cancel();
    let (child, _c) = parent.with_cancel();
    assert_eq!(child.err(), Some(Error::Canceled));
    assert!(is_done(&child));
    let (dl, _c) = Context::background().with_timeout(Duration::from_millis(1));
    assert_eq!(dl.done().recv(), None);
    let (grand, _c) = dl.with_cancel();
    assert_eq!(grand.err(), Some(Error::DeadlineExceeded));
}

/// with_timeout fires within 10 ms of its deadline. One measurement is at the mercy of
/// the OS (a thread descheduled for 10 ms on a loaded machine), so the best of five must be.
#[test]
fn timeout_fires_within_10ms_of_deadline() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    bounded(30, || {
        gort::run(|| {
            let mut best = Duration::MAX;
            for _ in 0..5 {
                let d = Duration::from_millis(50);
                let start = Instant::now();
                let (c, _cancel) = Context::background().with_timeout(d);
                let deadline = c.deadline().unwrap();
                assert!(deadline >= start + d && deadline <= Instant::now() + d);
                assert_eq!(c.done().recv(), None);
                assert!(start.elapsed() >= d, "fired early");
                assert_eq!(c.err(), Some(Error::DeadlineExceeded));
                best = best.min(start.elapsed() - d);
                if best < Duration::from_millis(10) {
                    return;
                }
            }
            panic!("fired at best {best:?} late");
        });
    });
}

#[test]
fn child_deadline_never_later_than_parent() {
    let (p, _pc) = Context::background().with_timeout(Duration::from_millis(100));
    let (c, _cc) = p.with_timeout(Duration::from_secs(10));
    assert_eq!(c.deadline(), p.deadline());
    let (c2, _cc2) = p.with_timeout(Duration::from_millis(10));
    assert!(c2.deadline().unwrap() < p.deadline().unwrap());
    let (c3, _cc3) = p.with_deadline(Instant::now() - Duration::from_secs(1));
    assert_eq!(c3.err(), Some(Error::DeadlineExceeded));
}

#[test]
fn early_cancel_beats_deadline() {
    bounded(30, || {
        let (c, cancel) = Context::background().with_timeout(Duration::from_millis(30));
        cancel.cancel();
        assert_eq!(c.err(), Some(Error::Canceled));
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(
            c.err(),
            Some(Error::Canceled),
            "the deadline must not overwrite"
        );
    });
}

#[test]
fn cancelling_root_cancels_a_thousand_descendants() {
    bounded(60, || {
        gort::run(|| {
            let (root, cancel) = Context::background().with_cancel();
            let mut all = Vec::new();
            let mut frontier = vec![root.clone()];
            while all.len() < 1000 {
                let mut next = Vec::new();
                for p in &frontier {
                    for _ in 0..4 {
                        let (c, cf) = p.with_cancel();
                        all.push((c.clone(), cf));
                        next.push(c);
                    }
                }
                frontier = next;
            }
            let wg = gort::sync::WaitGroup::new();
            for (c, _) in all.iter().take(200) {
                wg.add(1);
                let (c, wg) = (c.clone(), wg.clone());
                gort::go(move || {
                    c.done().recv();
                    wg.done();
                });
            }
            cancel.cancel();
            wg.wait();
            assert!(all.iter().all(|(c, _)| c.err() == Some(Error::Canceled)));
        });
    });
}

#[test]
fn workers_stop_on_cancel_via_select() {
    bounded(30, || {
        gort::run(|| {
            let (ctx, cancel) = Context::background().with_cancel();
            let (tx, rx) = gort::chan::<u32>(0);
            let hs: Vec<_> = (0..8)
                .map(|_| {
                    let (ctx, tx) = (ctx.clone(), tx.clone());
                    gort::spawn(move || {
                        let mut sent = 0;
                        loop {
                            gort::select! {
                                recv(ctx.done()) -> _ => return sent,
                                send(tx, 1) -> r => { r.unwrap(); sent += 1; }
                            }
                        }
                    })
                })
                .collect();
            for _ in 0..100 {
                rx.recv();
            }
            cancel.cancel();
            let total: u32 = hs.into_iter().map(|h| h.join().unwrap()).sum();
            assert!(total >= 100);
            assert_eq!(Error::Canceled.to_string(), "context canceled");
            assert_eq!(
                Error::DeadlineExceeded.to_string(),
                "context deadline exceeded"
            );
        });
    });
}
