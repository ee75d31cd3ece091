//! Receivers sharing one ticker's channel. A ticker whose last tick still waits in its channel
//! leaves the timer heap until a receive takes that tick; a receiver that blocks just after
//! another took it must still get the next tick. The tests run one at a time: one sets the
//! processor count and holds a thousand long timers.

use std::sync::Arc;
use std::time::Duration;

use gort_test_support::{serial_go_test, with_procs};

/// Two goroutines take turns with one 20 us ticker, each through a dynamic select over the
/// ticker and 500 hour-long timers (which widen the gap between a receive's look at the timer
/// and its take). Each round both must receive within 2 s.
#[test]
fn two_receivers_of_one_ticker_never_wait_for_ever() {
    with_procs(2, 120, || {
        let ticker = gort::time::Ticker::new(Duration::from_micros(20));
        let (done_tx, done_rx) = gort::chan::<()>(4);
        let (starts, gates): (Vec<_>, Vec<_>) = (0..2).map(|_| gort::chan::<()>(1)).unzip();
        for gate in gates {
            let rx = ticker.receiver().clone();
            let done = done_tx.clone();
            gort::go(move || {
                let afters: Vec<_> = (0..500)
                    .map(|_| gort::after(Duration::from_secs(3600)))
                    .collect();
                while gate.recv().is_some() {
                    let mut sel = gort::Select::new();
                    let tick = sel.recv(&rx);
                    for a in &afters {
                        sel.recv(a);
                    }
                    let op = sel.select();
                    assert_eq!(op.index(), tick);
                    op.recv(&rx).unwrap();
                    if done.send(()).is_err() {
                        return;
                    }
                }
            });
        }
        let receivers = Arc::new(starts);
        for round in 0..4_000 {
            for s in receivers.iter() {
                s.send(()).unwrap();
            }
            for _ in 0..2 {
                let r = done_rx.recv_timeout(Duration::from_secs(2));
                assert!(r.is_ok(), "round {round}: a receiver got no tick for 2 s");
            }
        }
    });
}

/// A tick left in the channel for an async receive that is then dropped passes to the next
/// receiver in line, here a `recv_timeout` (a select); the ticker, idle meanwhile (its next
/// tick found the channel full), must be armed again for the receiver behind that one.
#[test]
fn a_tick_passed_on_by_a_dropped_async_receive_rearms_the_ticker() {
    use std::future::Future;
    use std::task::{Context, Waker};
    serial_go_test(60, || {
        let period = Duration::from_millis(20);
        let ticker = gort::time::Ticker::new(period);
        let rx = ticker.receiver().clone();
        rx.recv().unwrap();
        let mut cx = Context::from_waker(Waker::noop());
        let mut first = Box::pin(rx.recv_async());
        assert!(first.as_mut().poll(&mut cx).is_pending());
        let (second_tx, second) = gort::chan::<bool>(1);
        let r = rx.clone();
        gort::go(move || {
            let got = r.recv_timeout(Duration::from_secs(30)).is_ok();
            second_tx.send(got).unwrap();
        });
        gort::sleep(Duration::from_millis(3));
        let (third_tx, third) = gort::chan::<()>(1024);
        let r = rx.clone();
        gort::go(move || {
            while r.recv().is_some() {
                if third_tx.send(()).is_err() {
                    return;
                }
            }
        });
        // The first tick is left for the async receive; the second finds the channel full.
        gort::sleep(period * 2 + period / 2);
        drop(first);
        assert_eq!(second.recv_timeout(Duration::from_secs(5)), Ok(true));
        assert!(
            third.recv_timeout(Duration::from_secs(5)).is_ok(),
            "the third receiver got no tick"
        );
    });
}
