//! Time (the `gort::time` docs): `after`, `tick`, `Timer`, `Ticker` and `sleep`, with Go's semantics
//! (Go 1.23 timers: after `stop` or `reset` no stale value is ever received).
//!
//! Lower bounds are exact (a timer never fires early); upper bounds are generous, since the
//! machine may be busy with other tests.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort::time::{Ticker, Timer};
use gort::{RecvTimeoutError, TryRecvError};
use gort_test_support::{bounded, go_test};

const MS: Duration = Duration::from_millis(1);
const SLACK: Duration = Duration::from_secs(2);

fn assert_between(took: Duration, min: Duration, max: Duration, what: &str) {
    assert!(took >= min, "{what}: took {took:?}, less than {min:?}");
    assert!(took <= max, "{what}: took {took:?}, more than {max:?}");
}

#[test]
fn after_fires_once_and_never_closes() {
    go_test(30, || {
        let d = 30 * MS;
        let start = Instant::now();
        let rx = gort::after(d);
        let t = rx.recv().expect("the channel of after() closed");
        assert_between(start.elapsed(), d, d + SLACK, "after");
        assert!(t >= start + d, "the time sent is before the deadline");
        assert!(t <= Instant::now());
        // Once only, and the channel stays open.
        assert_eq!(rx.recv_timeout(100 * MS), Err(RecvTimeoutError::Timeout));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert!(!rx.is_closed());

        // A zero duration fires at once.
        let start = Instant::now();
        assert!(gort::after(Duration::ZERO).recv().is_some());
        assert!(start.elapsed() < SLACK);
    });
}

#[test]
fn after_with_a_huge_duration_never_fires() {
    go_test(30, || {
        let huge = [
            Duration::MAX,
            Duration::from_secs(u64::MAX),
            Duration::from_nanos(u64::MAX),
            Duration::from_nanos(i64::MAX as u64),
            Duration::from_nanos(i64::MAX as u64 + 1),
            Duration::from_secs(300 * 365 * 24 * 3600),
        ];
        let rxs: Vec<_> = huge.iter().map(|&d| gort::after(d)).collect();
        for (rx, d) in rxs.iter().zip(huge) {
            assert_eq!(
                rx.recv_timeout(20 * MS),
                Err(RecvTimeoutError::Timeout),
                "after({d:?}) fired"
            );
        }
        let timer = Timer::new(Duration::MAX);
        assert_eq!(
            timer.receiver().recv_timeout(20 * MS),
            Err(RecvTimeoutError::Timeout)
        );
        assert!(timer.stop(), "a timer for Duration::MAX is pending");
        let ticker = Ticker::new(Duration::MAX);
        assert_eq!(
            ticker.receiver().recv_timeout(20 * MS),
            Err(RecvTimeoutError::Timeout)
        );
        ticker.stop();
        let start = Instant::now();
        gort::select! {
            recv(gort::after(Duration::MAX)) -> _ => panic!("after(Duration::MAX) fired"),
            recv(gort::after(20 * MS)) -> _ => {},
        }
        assert!(start.elapsed() >= 20 * MS);
    });
}

#[test]
fn tick_delivers_at_the_period() {
    go_test(30, || {
        let d = 10 * MS;
        let start = Instant::now();
        let rx = gort::tick(d);
        let mut last = start;
        for _ in 0..5 {
            let t = rx.recv().expect("the tick channel closed");
            assert!(t > last, "ticks go forward");
            last = t;
        }
        assert_between(start.elapsed(), 5 * d, 5 * d + SLACK, "5 ticks");
    });
}

#[test]
fn tick_drops_ticks_for_a_slow_reader() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    go_test(30, || {
        let d = 10 * MS;
        let rx = gort::tick(d);
        gort::sleep(200 * MS); // ~20 periods
        let mut queued = 0;
        while rx.try_recv().is_ok() {
            queued += 1;
        }
        assert!(queued <= 1, "{queued} ticks were queued for a slow reader");
        // And ticking goes on.
        let start = Instant::now();
        rx.recv().unwrap();
        assert!(start.elapsed() < SLACK);

        let ticker = Ticker::new(d);
        gort::sleep(100 * MS);
        let mut queued = 0;
        while ticker.receiver().try_recv().is_ok() {
            queued += 1;
        }
        assert!(queued <= 1, "{queued} ticks were queued for a slow reader");
        assert!(ticker.receiver().recv_timeout(SLACK).is_ok());
    });
}

#[test]
fn timer_stopped_before_firing_never_delivers() {
    go_test(30, || {
        let d = 50 * MS;
        let timer = Timer::new(d);
        assert!(timer.stop(), "stop of a pending timer returns true");
        gort::sleep(2 * d);
        assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
        assert!(!timer.stop(), "a second stop returns false");
        assert_eq!(
            timer.receiver().recv_timeout(d),
            Err(RecvTimeoutError::Timeout)
        );
    });
}

#[test]
fn timer_stop_and_reset_return_values() {
    go_test(30, || {
        // Fired and received: not pending.
        let timer = Timer::new(10 * MS);
        timer.receiver().recv().unwrap();
        assert!(!timer.stop(), "stop after the value was received");
        let start = Instant::now();
        assert!(!timer.reset(20 * MS), "reset of a stopped timer");
        timer.receiver().recv().unwrap();
        assert_between(
            start.elapsed(),
            20 * MS,
            20 * MS + SLACK,
            "timer after reset",
        );
        assert!(!timer.reset(10 * MS), "reset of a fired and received timer");
        timer.receiver().recv().unwrap();

        // Pending: reset returns true and moves the deadline.
        let timer = Timer::new(Duration::from_secs(3600));
        let start = Instant::now();
        assert!(timer.reset(20 * MS), "reset of a pending timer");
        timer.receiver().recv().unwrap();
        assert_between(start.elapsed(), 20 * MS, 20 * MS + SLACK, "reset timer");

        // Reset to later: the old deadline delivers nothing.
        let timer = Timer::new(100 * MS);
        let start = Instant::now();
        assert!(timer.reset(300 * MS));
        assert_eq!(
            timer.receiver().recv_timeout(200 * MS),
            Err(RecvTimeoutError::Timeout),
            "the old deadline fired"
        );
        timer.receiver().recv().unwrap();
        assert_between(start.elapsed(), 300 * MS, 300 * MS + SLACK, "later reset");
        // Exactly one value.
        assert_eq!(
            timer.receiver().recv_timeout(50 * MS),
            Err(RecvTimeoutError::Timeout)
        );

        // Stopped: reset returns false and the timer fires again.
        let timer = Timer::new(Duration::from_secs(3600));
        assert!(timer.stop());
        assert!(!timer.reset(10 * MS));
        assert!(timer.receiver().recv_timeout(SLACK).is_ok());
    });
}

#[test]
fn timer_never_delivers_a_stale_value_after_stop_or_reset() {
    go_test(30, || {
        // Fired but not received, then stopped.
        let timer = Timer::new(10 * MS);
        gort::sleep(50 * MS);
        timer.stop();
        assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
        gort::sleep(30 * MS);
        assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));

        // Fired but not received, then reset: only the new deadline delivers.
        let timer = Timer::new(10 * MS);
        gort::sleep(50 * MS);
        let start = Instant::now();
        timer.reset(100 * MS);
        assert_eq!(timer.receiver().try_recv(), Err(TryRecvError::Empty));
        let t = timer.receiver().recv().unwrap();
        assert!(t >= start + 100 * MS, "a stale value was delivered");
    });
}

/// Timer channels look unbuffered, as Go 1.23's (`len` and `cap` of `t.C` are 0), also while
/// a fired value waits to be received; other channels report what they hold.
#[test]
fn timer_channels_report_no_length_or_capacity() {
    go_test(30, || {
        let timer = Timer::new(MS);
        let ticker = Ticker::new(MS);
        let after = gort::after(MS);
        gort::sleep(20 * MS);
        for rx in [timer.receiver(), ticker.receiver(), &after] {
            assert_eq!((rx.len(), rx.capacity(), rx.is_empty()), (0, 0, true));
            assert!(rx.try_recv().is_ok(), "the fired value waits all the same");
        }
        let (tx, rx) = gort::chan::<u8>(1);
        tx.send(1).unwrap();
        assert_eq!(
            (rx.len(), rx.capacity(), tx.len(), tx.capacity()),
            (1, 1, 1, 1)
        );
    });
}

/// `reset` racing with a firing that is already under way (taken off the heap, callback not yet
/// run): no value from before the reset is received after it (Go 1.23), and the timer heaps stay
/// intact, so the timers of other goroutines still fire.
#[test]
fn reset_racing_a_firing_delivers_nothing_stale() {
    go_test(60, || {
        const SLEEPERS: usize = 1000;
        let (done_tx, done) = gort::chan::<()>(0);
        for i in 0..SLEEPERS {
            let done_tx = done_tx.clone();
            gort::go(move || {
                gort::sleep(Duration::from_millis(100 + (i % 400) as u64));
                let _ = done_tx.send(());
            });
        }
        drop(done_tx);
        let (mut stale_timer, mut stale_ticker) = (0, 0);
        for i in 0..200u64 {
            // Reset just around the moment the 2 ms timer or tick fires.
            let jitter = Duration::from_micros(1900 + (i % 20) * 10);
            let timer = Timer::new(2 * MS);
            gort::sleep(jitter);
            timer.reset(Duration::from_secs(3600));
            if timer.receiver().recv_timeout(5 * MS).is_ok() {
                stale_timer += 1;
            }
            let ticker = Ticker::new(2 * MS);
            gort::sleep(jitter);
            ticker.reset(Duration::from_secs(3600));
            if ticker.receiver().recv_timeout(5 * MS).is_ok() {
                stale_ticker += 1;
            }
        }
        for woke in 0..SLEEPERS {
            assert!(
                done.recv_timeout(Duration::from_secs(10)).is_ok(),
                "{} of {SLEEPERS} sleeping goroutines never woke (timer heap damaged?)",
                SLEEPERS - woke
            );
        }
        assert_eq!(
            (stale_timer, stale_ticker),
            (0, 0),
            "values from before reset() received after it (timer, ticker)"
        );
    });
}

#[test]
fn timer_in_select() {
    go_test(30, || {
        let start = Instant::now();
        let timer = Timer::new(20 * MS);
        let (_keep, idle) = gort::chan::<i32>(0);
        let fired = gort::select! {
            recv(idle) -> _ => false,
            recv(timer.receiver()) -> t => t.is_some(),
        };
        assert!(fired);
        assert!(start.elapsed() >= 20 * MS);

        let start = Instant::now();
        let ticker = Ticker::new(5 * MS);
        let mut ticks = 0;
        let deadline = gort::after(100 * MS);
        loop {
            let done = gort::select! {
                recv(ticker.receiver()) -> t => { assert!(t.is_some()); ticks += 1; false },
                recv(deadline) -> _ => true,
            };
            if done {
                break;
            }
        }
        // A loaded machine may make the deadline and the ticks ready together: the ticker
        // still delivers.
        while ticks < 2 {
            assert!(
                ticker.receiver().recv_timeout(SLACK).is_ok(),
                "the ticker stopped"
            );
            ticks += 1;
        }
        let took = start.elapsed();
        // Never more ticks than periods elapsed (the deadline itself may be late under load).
        let periods = (took.as_micros() / 5_000) as usize;
        assert!(ticks <= periods, "{ticks} ticks of 5 ms in {took:?}");
    });
}

#[test]
fn ticker_stop_and_reset() {
    go_test(30, || {
        let ticker = Ticker::new(10 * MS);
        ticker.receiver().recv().unwrap();
        ticker.stop();
        assert_eq!(ticker.receiver().try_recv(), Err(TryRecvError::Empty));
        gort::sleep(50 * MS);
        assert_eq!(
            ticker.receiver().try_recv(),
            Err(TryRecvError::Empty),
            "a stopped ticker ticked"
        );

        // Reset restarts a stopped ticker with the new period.
        let start = Instant::now();
        ticker.reset(20 * MS);
        for _ in 0..3 {
            ticker.receiver().recv().unwrap();
        }
        assert_between(
            start.elapsed(),
            60 * MS,
            60 * MS + SLACK,
            "3 ticks after reset",
        );

        // Reset to a long period: no stale tick, no tick at the old period.
        let ticker = Ticker::new(5 * MS);
        gort::sleep(30 * MS);
        ticker.reset(Duration::from_secs(3600));
        assert_eq!(ticker.receiver().try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            ticker.receiver().recv_timeout(50 * MS),
            Err(RecvTimeoutError::Timeout)
        );

        // Reset to a short period from a long one.
        let ticker = Ticker::new(Duration::from_secs(3600));
        let start = Instant::now();
        ticker.reset(10 * MS);
        ticker.receiver().recv().unwrap();
        assert_between(
            start.elapsed(),
            10 * MS,
            10 * MS + SLACK,
            "tick after reset",
        );
    });
}

#[test]
fn sleep_zero_returns() {
    go_test(30, || {
        let start = Instant::now();
        for _ in 0..1000 {
            gort::sleep(Duration::ZERO);
        }
        gort::time::sleep(Duration::from_nanos(1));
        assert!(start.elapsed() < SLACK);
    });
    // On a plain thread too.
    bounded(30, || {
        gort::sleep(Duration::ZERO);
        let start = Instant::now();
        gort::sleep(10 * MS);
        assert!(start.elapsed() >= 10 * MS);
    });
}

#[test]
fn sleep_never_returns_early() {
    go_test(30, || {
        let handles: Vec<_> = (1..=20u64)
            .map(|i| {
                gort::spawn(move || {
                    let d = Duration::from_millis(i * 3);
                    let start = Instant::now();
                    gort::sleep(d);
                    start.elapsed() >= d
                })
            })
            .collect();
        for h in handles {
            assert!(h.join().unwrap(), "sleep returned early");
        }
    });
}

/// 100,000 goroutines sleep concurrently (200-500 ms each); each records how late it woke.
/// None wakes early, and the median lateness is under 50 ms. (25,000 in debug builds, where the
/// unoptimised runtime itself would dominate the lateness.) The other tests of this file run
/// beside it, and the machine may be loaded, so a second round is allowed.
#[test]
fn hundred_thousand_sleepers_wake_on_time() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    go_test(300, || {
        let n: usize = if cfg!(debug_assertions) {
            25_000
        } else {
            100_000
        };
        let mut report = String::new();
        for _ in 0..2 {
            let late = sleepers_lateness(n);
            let (median, p99, max) = (late[n / 2], late[n * 99 / 100], late[n - 1]);
            if median < 50_000 {
                return;
            }
            report += &format!("median lateness {median} µs (p99 {p99} µs, max {max} µs); ");
        }
        panic!("{report}");
    });
}

/// Runs `n` concurrent sleepers; returns how late each woke, in µs, sorted.
fn sleepers_lateness(n: usize) -> Vec<u64> {
    let lateness: Arc<Vec<AtomicU64>> = Arc::new((0..n).map(|_| AtomicU64::new(0)).collect());
    let early = Arc::new(AtomicUsize::new(0));
    let wg = gort::sync::WaitGroup::new();
    wg.add(n);
    for i in 0..n {
        let (lateness, early, wg) = (lateness.clone(), early.clone(), wg.clone());
        gort::go(move || {
            let d = Duration::from_millis(200 + (i % 100) as u64 * 3);
            let start = Instant::now();
            gort::sleep(d);
            let took = start.elapsed();
            match took.checked_sub(d) {
                Some(late) => lateness[i].store(late.as_micros() as u64, Relaxed),
                None => {
                    early.fetch_add(1, Relaxed);
                }
            }
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(early.load(Relaxed), 0, "sleepers woke early");
    let mut late: Vec<u64> = lateness.iter().map(|l| l.load(Relaxed)).collect();
    late.sort_unstable();
    late
}

/// A due timer is never missed by a non-blocking receive, even while another thread is halfway
/// through firing it (out of its heap, not yet sent): the receive delivers it itself, and the
/// firing thread then sends nothing (no second value). From a goroutine and from a plain thread.
#[test]
fn due_timer_is_never_missed_while_another_thread_fires_it() {
    fn polls(what: &str) {
        for i in 0..1000 {
            let t = Timer::new(Duration::from_micros(100));
            gort_test_support::spin_for(Duration::from_micros(300));
            let got = gort::select! { recv(t.receiver()) -> v => v.is_some(), default => false };
            assert!(got, "{what}: poll {i} missed an expired timer");
            assert_eq!(
                t.receiver().try_recv(),
                Err(TryRecvError::Empty),
                "{what}: second value"
            );
        }
    }
    go_test(60, || polls("goroutine"));
    bounded(60, || polls("plain thread"));
}

/// Stopping or resetting a timer that is due but not yet fired, or one stopped before its
/// deadline passed, returns (the timer drains its channel under its own lock, and a receive's
/// check for a due timer takes that lock: the drain must not make the check).
#[test]
fn stop_and_reset_of_a_due_timer_return() {
    go_test(30, || {
        let t = Timer::new(MS);
        assert!(t.stop());
        gort::sleep(5 * MS);
        assert!(!t.reset(MS), "a stopped timer has nothing pending");
        assert!(t.receiver().recv().is_some());
        for _ in 0..100 {
            let t = Timer::new(Duration::from_micros(100));
            gort_test_support::spin_for(Duration::from_micros(300));
            assert!(t.stop(), "due but not received: stop finds it pending");
            assert_eq!(t.receiver().try_recv(), Err(TryRecvError::Empty));
            let k = Ticker::new(Duration::from_micros(100));
            gort_test_support::spin_for(Duration::from_micros(300));
            k.reset(Duration::from_secs(3600));
            assert_eq!(k.receiver().try_recv(), Err(TryRecvError::Empty));
        }
    });
}

/// A timed channel wait on a plain thread (`recv_timeout`, whose deadline is a timer in the
/// waiting frame) wakes on time at one processor. The timer's callback readied the thread and
/// only then marked itself done; the woken thread, scheduled by the kernel onto the callback's
/// own CPU, spun waiting for that mark while the thread that would set it could not run: in
/// half of the waits it was 2-4 ms late (a kernel time slice). Three quarters of 200 waits of
/// 1 ms must end within 1 ms of their deadline (they take about 0.1 ms here).
#[test]
fn a_plain_threads_timed_receive_wakes_on_time() {
    let never = gort::never::<()>();
    let d = Duration::from_millis(1);
    gort_test_support::plain_thread_waits_on_time("1 ms timed receives", 200, d, move || {
        assert_eq!(never.recv_timeout(d), Err(RecvTimeoutError::Timeout));
    });
}
