//! Tests for gort::context, many adapted from Go's src/context/context_test.go
//! (Copyright The Go Authors; BSD license): TestBackground, TestWithCancel, TestParentFinishesChild,
//! TestChildFinishesFirst, TestDeadline, TestTimeout, TestCanceledTimeout,
//! TestSimultaneousCancels, TestInterlockedCancels, TestLayersCancel, TestLayersTimeout.
//! TestCancelRemoves is a unit test in src/context.rs: it reads the child set. The tests of
//! what keeps a context alive (a `done()` outlives its `Context`) and of deep and wide trees are
//! gort's own.

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

/// A context dropped while its `CancelFn` or its deadline could still cancel it: the `done()`
/// a goroutine kept stays open until then, and closes then (Go: `Done` closes on cancellation
/// only).
#[test]
fn done_closes_only_on_cancellation_even_when_the_context_is_dropped() {
    bounded(30, || {
        gort::run(|| {
            let (ctx, cancel) = Context::background().with_cancel();
            let done = ctx.done().clone();
            drop(ctx);
            assert_eq!(done.try_recv(), Err(gort::TryRecvError::Empty));
            cancel.cancel();
            assert_eq!(
                done.recv_timeout(Duration::from_secs(5)),
                Err(gort::RecvTimeoutError::Closed)
            );

            let start = Instant::now();
            let done = {
                let (ctx, _cancel) = Context::background().with_timeout(Duration::from_millis(50));
                ctx.done().clone()
            };
            assert_eq!(done.recv(), None);
            assert!(
                start.elapsed() >= Duration::from_millis(50),
                "{:?}",
                start.elapsed()
            );

            // A child nobody holds but its parent: the parent's cancellation still reaches it.
            let (parent, cancel_parent) = Context::background().with_cancel();
            let done = parent.with_cancel().0.done().clone();
            assert_eq!(done.try_recv(), Err(gort::TryRecvError::Empty));
            cancel_parent.cancel();
            assert_eq!(
                done.recv_timeout(Duration::from_secs(5)),
                Err(gort::RecvTimeoutError::Closed)
            );
        });
    });
}

/// A context that nothing can cancel any more is freed, and its `done()` stays open (it is not
/// closed as if cancelled).
#[test]
fn a_context_nothing_can_cancel_leaves_done_open() {
    bounded(30, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let done = ctx.done().clone();
        drop((ctx, cancel));
        assert_eq!(
            done.recv_timeout(Duration::from_millis(50)),
            Err(gort::RecvTimeoutError::Timeout)
        );
    });
}

/// Chains far deeper than a goroutine's stack has room for frames: cancelling the root reaches
/// the leaf, and dropping an uncancelled chain frees it, without overflowing (Go's stacks grow).
#[test]
fn a_chain_of_a_hundred_thousand_contexts() {
    bounded(120, || {
        gort::spawn(|| {
            const DEPTH: usize = 100_000;
            for cancel_it in [true, false] {
                let (root, cancel) = Context::background().with_cancel();
                let mut leaf = root.clone();
                for _ in 0..DEPTH {
                    leaf = leaf.with_cancel().0;
                }
                if cancel_it {
                    cancel.cancel();
                    assert_eq!(leaf.err(), Some(Error::Canceled));
                } else {
                    assert_eq!(leaf.err(), None);
                }
                drop((root, cancel, leaf));
            }
        })
        .join()
        .unwrap();
    });
}

/// Creating a child costs the same however many live children its parent has (Go's
/// propagateCancel is a map insert): 200,000 children of one parent, then all cancelled.
#[test]
fn a_parent_with_two_hundred_thousand_children() {
    bounded(60, || {
        gort::run(|| {
            let (parent, cancel) = Context::background().with_cancel();
            let start = Instant::now();
            let children: Vec<_> = (0..200_000).map(|_| parent.with_cancel()).collect();
            let made = start.elapsed();
            assert!(made < Duration::from_secs(20), "{made:?}");
            cancel.cancel();
            assert!(
                children
                    .iter()
                    .all(|(c, _)| c.err() == Some(Error::Canceled))
            );
        });
    });
}

/// TestSimultaneousCancels: a tree of 100 contexts whose cancel functions all run at once, in
/// goroutines, in random order; every context is done and every cancel returns.
#[test]
fn simultaneous_cancels() {
    bounded(30, || {
        gort::run(|| {
            let (root, cancel) = Context::background().with_cancel();
            let mut all = vec![(root.clone(), cancel)];
            let mut queue = std::collections::VecDeque::from([root]);
            while all.len() < 100 {
                let parent = queue.pop_front().unwrap();
                for _ in 0..4 {
                    let (c, cf) = parent.with_cancel();
                    all.push((c.clone(), cf));
                    queue.push_back(c);
                }
            }
            let wg = gort::sync::WaitGroup::new();
            for (_, cancel) in &all {
                wg.add(1);
                let (cancel, wg) = (cancel.clone(), wg.clone());
                gort::go(move || {
                    cancel.cancel();
                    wg.done();
                });
            }
            for (ctx, _) in &all {
                gort::select! {
                    recv(ctx.done()) -> _ => {}
                    recv(gort::after(Duration::from_secs(5))) -> _ => panic!("a context was not done"),
                }
            }
            let (tx, rx) = gort::chan::<()>(0);
            gort::go(move || {
                wg.wait();
                drop(tx);
            });
            assert_eq!(
                rx.recv_timeout(Duration::from_secs(5)),
                Err(gort::RecvTimeoutError::Closed)
            );
        });
    });
}

/// TestInterlockedCancels: a goroutine cancels the child when it sees the parent done, racing
/// the parent's own cancellation of the child.
#[test]
fn interlocked_cancels() {
    bounded(30, || {
        gort::run(|| {
            for _ in 0..1000 {
                let (parent, cancel_parent) = Context::background().with_cancel();
                let (child, cancel_child) = parent.with_cancel();
                gort::go(move || {
                    parent.done().recv();
                    cancel_child.cancel();
                });
                cancel_parent.cancel();
                assert!(child.done().recv_timeout(Duration::from_secs(5)).is_err());
                assert_eq!(child.err(), Some(Error::Canceled));
            }
        });
    });
}

/// Go's testLayers: at least 30 layers, each a `with_cancel` or a `with_timeout`, in random
/// order. The leaf is not done at first; then cancelling a random layer makes it done at once,
/// or (`timeout`) it is done within the timeout plus a margin.
fn layers(seed: u64, timeout: bool) {
    let mut x = seed | 1;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let short = Duration::from_millis(if timeout { 50 } else { 60_000 });
    let mut ctx = Context::background();
    let mut cancels = Vec::new();
    let mut i = 0;
    while i < 30 || rand(10) != 0 {
        let (c, cancel) = match rand(2) {
            0 => ctx.with_cancel(),
            _ => ctx.with_timeout(short),
        };
        ctx = c;
        cancels.push(cancel);
        i += 1;
    }
    assert!(ctx.err().is_none(), "seed {seed}: done too early");
    if timeout {
        let start = Instant::now();
        assert!(
            ctx.done()
                .recv_timeout(short + Duration::from_secs(5))
                .is_err(),
            "seed {seed}"
        );
        assert!(start.elapsed() < short + Duration::from_secs(5));
        assert!(ctx.err().is_some(), "seed {seed}");
    } else {
        let k = rand(cancels.len() as u64) as usize;
        cancels[k].cancel();
        assert_eq!(
            ctx.done().try_recv(),
            Err(gort::TryRecvError::Closed),
            "seed {seed}"
        );
        assert_eq!(ctx.err(), Some(Error::Canceled), "seed {seed}");
    }
}

/// TestLayersCancel.
#[test]
fn layers_cancel() {
    bounded(30, || {
        gort::run(|| (1..=50).for_each(|seed| layers(seed, false)))
    });
}

/// TestLayersTimeout.
#[test]
fn layers_timeout() {
    bounded(30, || {
        gort::run(|| (1..=5).for_each(|seed| layers(seed, true)))
    });
}
