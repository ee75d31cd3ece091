//! Timers nobody can observe leave the timer heaps at once, as Go 1.23 collects unreferenced
//! timers: the select-timeout idiom in a loop must not pile up an `after` per iteration until
//! each would have fired; and a timer whose receiver is still alive keeps firing. The tests run
//! one at a time, since each counts every timer of the process.

use std::time::Duration;

use gort::time::{Ticker, Timer};

use gort_test_support::serial_go_test;

/// 10,000 selects whose `after(1 h)` loses, and 1,000 dropped `tick(1 h)`: the count of
/// pending timers is back where it started.
#[test]
fn a_dropped_after_or_tick_leaves_the_timer_heap() {
    serial_go_test(60, || {
        let before = gort::runtime::stats().timers;
        let (tx, rx) = gort::chan::<i32>(1);
        for i in 0..10_000 {
            tx.send(i).unwrap();
            gort::select! {
                recv(rx) -> v => assert_eq!(v, Some(i)),
                recv(gort::after(Duration::from_secs(3600))) -> _ => unreachable!(),
            }
        }
        for _ in 0..1_000 {
            drop(gort::tick(Duration::from_secs(3600)));
        }
        let timers = gort::runtime::stats().timers;
        assert!(timers <= before + 10, "timers {before} -> {timers}");
    });
}

/// A clone of the channel keeps the timer: it still fires.
#[test]
fn a_receiver_left_keeps_the_timer() {
    serial_go_test(60, || {
        let rx = gort::after(Duration::from_millis(5));
        let kept = rx.clone();
        drop(rx);
        assert!(kept.recv_timeout(Duration::from_secs(5)).is_ok());
    });
}

/// A `Timer` or `Ticker` whose receiver was cloned keeps firing after it is dropped (Go 1.23:
/// `time.NewTimer(d).C` works); dropped with no clone, each leaves the heap.
#[test]
fn a_timer_lives_as_long_as_a_receiver() {
    serial_go_test(60, || {
        let rx = Timer::new(Duration::from_millis(5)).receiver().clone();
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        let ticks = Ticker::new(Duration::from_millis(2)).receiver().clone();
        for _ in 0..3 {
            assert!(ticks.recv_timeout(Duration::from_secs(5)).is_ok());
        }
        drop(ticks);
        let before = gort::runtime::stats().timers;
        for _ in 0..1_000 {
            drop(Timer::new(Duration::from_secs(3600)));
            drop(Ticker::new(Duration::from_secs(3600)));
        }
        let timers = gort::runtime::stats().timers;
        assert!(timers <= before + 10, "timers {before} -> {timers}");
    });
}

/// A ticker nobody reads leaves the heap once a tick waits in its channel (Go 1.23 keeps a
/// channel timer in a heap only while someone waits on it), so it costs nothing; the next
/// receive gets that waiting tick and arms the ticker again, and ticks come as before.
#[test]
fn an_unread_ticker_leaves_the_heap_until_someone_receives() {
    serial_go_test(60, || {
        let before = gort::runtime::stats().timers;
        let tickers: Vec<_> = (0..100)
            .map(|_| Ticker::new(Duration::from_millis(1)))
            .collect();
        let ticks = gort::tick(Duration::from_millis(1));
        gort::sleep(Duration::from_millis(50));
        let timers = gort::runtime::stats().timers;
        assert!(
            timers <= before + 10,
            "101 unread tickers: timers {before} -> {timers}"
        );
        for t in &tickers {
            let waiting = t.receiver().recv().expect("the tick that waited");
            assert!(
                waiting.elapsed() >= Duration::from_millis(40),
                "not the first tick"
            );
            let next = t.receiver().recv_timeout(Duration::from_secs(5));
            assert!(next.expect("a fresh tick").elapsed() < Duration::from_millis(40));
        }
        assert!(ticks.recv().is_some());
        assert!(ticks.recv_timeout(Duration::from_secs(5)).is_ok());
    });
}
