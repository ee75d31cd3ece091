//! Go's later context additions: values, cancellation causes, WithoutCancel and AfterFunc.
//! Adapted from Go's src/context/context_test.go and x_test.go (Copyright The Go Authors; BSD
//! license): TestValues, TestCause, TestWithoutCancel, TestAfterFuncCalledAfterCancel,
//! TestAfterFuncCalledAfterTimeout, TestAfterFuncCalledImmediately,
//! TestAfterFuncNotCalledAfterStop, TestAfterFuncCalledAsynchronously. Go keys values by any
//! comparable key; gort keys them by type, so the keys here are types.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use gort::context::{Context, Error};
use gort_test_support::bounded;

/// Longer than the tests ever need; a test that waits this long has failed.
const LONG: Duration = Duration::from_secs(20);
/// Long enough to notice a function that runs when it should not.
const SHORT: Duration = Duration::from_millis(20);

#[derive(Debug, PartialEq)]
struct K1(&'static str);
#[derive(Debug, PartialEq)]
struct K2(&'static str);
#[derive(Debug, PartialEq)]
struct K3(&'static str);

fn values(c: &Context) -> [Option<&'static str>; 3] {
    [
        c.value::<K1>().map(|v| v.0),
        c.value::<K2>().map(|v| v.0),
        c.value::<K3>().map(|v| v.0),
    ]
}

#[test]
fn values_are_found_nearest_first() {
    let c0 = Context::background();
    assert_eq!(values(&c0), [None, None, None]);
    let c1 = c0.with_value(K1("c1k1"));
    assert_eq!(values(&c1), [Some("c1k1"), None, None]);
    let c2 = c1.with_value(K2("c2k2"));
    assert_eq!(values(&c2), [Some("c1k1"), Some("c2k2"), None]);
    let c3 = c2.with_value(K3("c3k3"));
    assert_eq!(values(&c3), [Some("c1k1"), Some("c2k2"), Some("c3k3")]);
    let c4 = c3.with_value(K1("c4k1"));
    assert_eq!(values(&c4), [Some("c4k1"), Some("c2k2"), Some("c3k3")]);
    // The parents are unchanged.
    assert_eq!(values(&c1), [Some("c1k1"), None, None]);

    // Values pass through cancellable children, and a value context is cancelled with its
    // parent.
    let (cc, cancel) = c4.with_cancel();
    let cv = cc.with_value(K2("cvk2"));
    let (ct, _ct) = cv.with_timeout(Duration::from_secs(3600));
    assert_eq!(values(&ct), [Some("c4k1"), Some("cvk2"), Some("c3k3")]);
    cancel.cancel();
    assert_eq!(cv.err(), Some(Error::Canceled));
    assert_eq!(ct.err(), Some(Error::Canceled));
    assert_eq!(
        cv.done().recv_timeout(LONG),
        Err(gort::RecvTimeoutError::Closed)
    );
}

#[test]
fn a_value_is_dropped_with_the_last_context_that_carries_it() {
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Relaxed);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let (parent, cancel) = Context::background().with_cancel();
    let c = parent.with_value(Counted(drops.clone()));
    let (child, _cc) = c.with_cancel();
    drop(c);
    assert_eq!(drops.load(Relaxed), 0);
    assert!(child.value::<Counted>().is_some());
    cancel.cancel();
    drop(child);
    assert_eq!(drops.load(Relaxed), 1);
}

#[test]
fn context_is_send_and_sync_with_values() {
    fn check<T: Send + Sync + Clone + 'static>(_: &T) {}
    let c = Context::background().with_value(String::from("v"));
    check(&c);
    let got = gort::run(move || c.value::<String>().cloned());
    assert_eq!(got.as_deref(), Some("v"));
}

#[derive(Debug)]
struct Why(&'static str);
impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}
impl std::error::Error for Why {}

fn cause_of(c: &Context) -> Option<String> {
    c.cause().map(|e| e.to_string())
}

#[test]
fn cause_follows_go() {
    // Background: neither.
    let bg = Context::background();
    assert_eq!((bg.err(), cause_of(&bg)), (None, None));

    // WithCancel: the cause is the error.
    let (c, cancel) = bg.with_cancel();
    assert_eq!(cause_of(&c), None);
    cancel.cancel();
    assert_eq!(c.err(), Some(Error::Canceled));
    assert_eq!(cause_of(&c).as_deref(), Some("context canceled"));

    // WithCancelCause: the cause given; a later one does not replace it.
    let (c, cancel) = bg.with_cancel_cause();
    cancel.cancel(Why("the cause"));
    cancel.cancel("another");
    assert_eq!(c.err(), Some(Error::Canceled));
    assert_eq!(cause_of(&c).as_deref(), Some("the cause"));
    let e = c.cause().unwrap();
    assert!(
        e.downcast_ref::<Why>().is_some(),
        "the cause keeps its type"
    );

    // Nested, parent cancelled first: the child has the parent's cause.
    let (p, pcancel) = bg.with_cancel_cause();
    let (ch, ccancel) = p.with_cancel_cause();
    pcancel.cancel("parent");
    ccancel.cancel("child");
    assert_eq!(cause_of(&ch).as_deref(), Some("parent"));

    // Nested, child cancelled first: its own.
    let (p, pcancel) = bg.with_cancel_cause();
    let (ch, ccancel) = p.with_cancel_cause();
    ccancel.cancel("child");
    pcancel.cancel("parent");
    assert_eq!(cause_of(&ch).as_deref(), Some("child"));
    assert_eq!(cause_of(&p).as_deref(), Some("parent"));

    // A child created after its parent was cancelled with a cause starts with it.
    let (late, _c) = p.with_cancel();
    assert_eq!(cause_of(&late).as_deref(), Some("parent"));

    // A deadline: DeadlineExceeded, also for a cause-cancellable child, which can no longer
    // be cancelled with a cause of its own.
    let (t, _tc) = bg.with_timeout(Duration::ZERO);
    assert_eq!(cause_of(&t).as_deref(), Some("context deadline exceeded"));
    let (inner, icancel) = t.with_cancel_cause();
    icancel.cancel("too late");
    assert_eq!(inner.err(), Some(Error::DeadlineExceeded));
    assert_eq!(
        cause_of(&inner).as_deref(),
        Some("context deadline exceeded")
    );
}

#[test]
fn without_cancel_keeps_values_and_drops_cancellation() {
    let (parent, cancel) = Context::background()
        .with_value(K1("kept"))
        .with_timeout(Duration::from_secs(3600));
    let c = parent.without_cancel();
    assert_eq!(values(&c), [Some("kept"), None, None]);
    assert_eq!(c.deadline(), None);
    cancel.cancel();
    assert_eq!(parent.err(), Some(Error::Canceled));
    assert_eq!((c.err(), cause_of(&c)), (None, None));
    assert_eq!(c.done().try_recv(), Err(gort::TryRecvError::Empty));
    // Its children are cancellable again, and keep the values.
    let (child, cc) = c.with_cancel();
    assert_eq!(values(&child), [Some("kept"), None, None]);
    cc.cancel();
    assert_eq!(child.err(), Some(Error::Canceled));
}

fn called(rx: &gort::Receiver<()>, within: Duration) -> bool {
    rx.recv_timeout(within).is_ok()
}

/// An `after_func` on `ctx` that sends on the returned channel when it runs.
fn signalling(ctx: &Context) -> (gort::context::AfterFunc, gort::Receiver<()>) {
    let (tx, rx) = gort::chan(1);
    (ctx.after_func(move || tx.send(()).unwrap()), rx)
}

#[test]
fn after_func_runs_after_cancel() {
    bounded(60, || {
        gort::run(|| {
            let (ctx, cancel) = Context::background().with_cancel();
            let (stop, rx) = signalling(&ctx);
            assert!(!called(&rx, SHORT), "called before the context was done");
            cancel.cancel();
            assert!(
                called(&rx, LONG),
                "not called after the context was cancelled"
            );
            assert!(!stop.stop(), "stop after the function started");
        });
    });
}

#[test]
fn after_func_runs_after_timeout() {
    bounded(60, || {
        gort::run(|| {
            let (ctx, _cancel) = Context::background().with_timeout(SHORT);
            let (tx, rx) = gort::chan(1);
            ctx.after_func(move || {
                tx.send(()).unwrap();
            });
            assert!(called(&rx, LONG), "not called after the deadline");
        });
    });
}

#[test]
fn after_func_on_a_cancelled_context_runs_at_once() {
    bounded(60, || {
        let (ctx, cancel) = Context::background().with_cancel();
        cancel.cancel();
        let (stop, rx) = signalling(&ctx);
        assert!(
            called(&rx, LONG),
            "not called for an already cancelled context"
        );
        assert!(!stop.stop());
    });
}

#[test]
fn after_func_stopped_is_never_called() {
    bounded(60, || {
        gort::run(|| {
            let (ctx, cancel) = Context::background().with_cancel();
            let (stop, rx) = signalling(&ctx);
            assert!(stop.stop(), "the first stop keeps it from running");
            assert!(!stop.stop(), "the second finds it stopped");
            cancel.cancel();
            assert!(!called(&rx, SHORT), "called after stop");
        });
    });
}

#[test]
fn after_func_runs_in_a_goroutine_of_its_own() {
    bounded(60, || {
        gort::run(|| {
            let (ctx, cancel) = Context::background().with_cancel();
            let (tx, rx) = gort::chan::<Option<gort::GoroutineId>>(0);
            let _stop = ctx.after_func(move || {
                // Unbuffered: blocks until the test receives, after cancel returned.
                tx.send(gort::current_id()).unwrap();
            });
            cancel.cancel();
            let id = rx.recv_timeout(LONG).expect("not called");
            assert!(id.is_some() && id != gort::current_id());
        });
    });
}

#[test]
fn after_func_never_runs_for_a_context_that_cannot_be_cancelled() {
    bounded(60, || {
        let (tx, rx) = gort::chan(2);
        let tx2 = tx.clone();
        let stop = Context::background().after_func(move || tx.send(()).unwrap());
        let (parent, cancel) = Context::background().with_cancel();
        let _s = parent
            .without_cancel()
            .after_func(move || tx2.send(()).unwrap());
        cancel.cancel();
        assert!(!called(&rx, SHORT));
        assert!(stop.stop(), "nothing ran, so stop kept it from running");
    });
}

/// Each registration is independent, and every one runs, from a plain thread's cancel too.
#[test]
fn many_after_funcs_all_run_once() {
    bounded(60, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let (child, _cc) = ctx.with_cancel();
        let ran = Arc::new(AtomicUsize::new(0));
        let wg = gort::sync::WaitGroup::new();
        let mut stops = Vec::new();
        for i in 0..1000 {
            let (ran, wg) = (ran.clone(), wg.clone());
            wg.add(1);
            let c = if i % 2 == 0 { &ctx } else { &child };
            stops.push(c.after_func(move || {
                ran.fetch_add(1, Relaxed);
                wg.done();
            }));
        }
        let stopped = stops.iter().step_by(10).filter(|s| s.stop()).count();
        assert_eq!(stopped, 100);
        for _ in 0..stopped {
            wg.done();
        }
        cancel.cancel();
        wg.wait();
        assert_eq!(ran.load(Relaxed), 900);
    });
}

/// `stop` racing `cancel`: exactly one wins; the function runs if and only if `stop` says it
/// was not kept from running.
#[test]
fn stop_racing_cancel_has_one_winner() {
    bounded(60, || {
        gort::run(|| {
            let (mut stopped, mut started) = (0, 0);
            for _ in 0..2000 {
                let (ctx, cancel) = Context::background().with_cancel();
                let (tx, rx) = gort::chan(1);
                let stop = ctx.after_func(move || tx.send(()).unwrap());
                let canceller = gort::spawn(move || cancel.cancel());
                if stop.stop() {
                    stopped += 1;
                    canceller.join().unwrap();
                    assert!(!called(&rx, Duration::ZERO), "ran although stopped");
                } else {
                    started += 1;
                    assert!(called(&rx, LONG), "neither stopped nor run");
                    canceller.join().unwrap();
                }
            }
            assert_eq!(stopped + started, 2000);
        });
    });
}

/// `stop` drops the function it kept from running with the context unlocked: what the
/// function captured may use the context when it drops (here, cancel it). It deadlocked.
#[test]
fn a_stopped_after_func_may_use_its_context_when_dropped() {
    struct CancelOnDrop(gort::context::CancelFn);
    impl Drop for CancelOnDrop {
        fn drop(&mut self) {
            self.0.cancel();
        }
    }
    bounded(30, || {
        let (ctx, cancel) = Context::background().with_cancel();
        let guard = CancelOnDrop(cancel);
        let stop = ctx.after_func(move || drop(guard));
        assert!(stop.stop());
        assert_eq!(ctx.err(), Some(Error::Canceled));
    });
}
