//! The tests of Go's `src/time/tick_test.go`, translated to gort's `Ticker`, `Timer`, `tick` and
//! `after`.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each test names the Go test it comes from.
//!
//! Differences from Go: gort's timer channels have Go 1.23's synchronous semantics (no stale
//! value after stop or reset), so TestChan runs its `asynctimerchan=0` variant only, the one
//! that needs no draining. Its `len(C)` checks belong to the asynchronous variants. Durations
//! cannot be negative in Rust: Go's `-1` becomes zero. TestTickerStopWithDirectInitialization
//! and TestManualTicker build a Ticker from a bare channel, which gort's API does not allow.

use gort_test_support::bounded;

use std::time::{Duration, Instant};

use gort::Receiver;
use gort::time::{Ticker, Timer};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const HOUR: Duration = Duration::from_secs(3600);
const NS: Duration = Duration::from_nanos(1);

/// TestTicker: `count/2` ticks at `delta`, a reset to `2*delta`, `count/2` more: about
/// `3*delta*count/2` in all, within 30%; then no tick after stop. Retried once with longer
/// ticks, as Go does, for a loaded machine.
#[test]
fn ticker() {
    bounded(60, || {
        gort::run(|| {
            let mut errs = Vec::new();
            for (count, delta) in [(10u32, 20 * MS), (8, SECOND)] {
                let ticker = Ticker::new(delta);
                let t0 = Instant::now();
                for _ in 0..count / 2 {
                    ticker.receiver().recv().unwrap();
                }
                ticker.reset(delta * 2);
                for _ in count / 2..count {
                    ticker.receiver().recv().unwrap();
                }
                ticker.stop();
                let dt = t0.elapsed();
                let target = 3 * delta * (count / 2);
                let slop = target * 3 / 10;
                if dt < target - slop || dt > target + slop {
                    errs.push(format!("{count} ticks of {delta:?} took {dt:?}"));
                    continue;
                }
                gort::sleep(2 * delta);
                assert!(
                    ticker.receiver().try_recv().is_err(),
                    "Ticker did not shut down"
                );
                return;
            }
            panic!("saw {} errors: {errs:?}", errs.len());
        })
    });
}

/// TestTeardown: a ticker torn down after one tick, three times, does not deadlock.
#[test]
fn teardown() {
    bounded(30, || {
        gort::run(|| {
            for _ in 0..3 {
                let ticker = Ticker::new(20 * MS);
                ticker.receiver().recv().unwrap();
                ticker.stop();
            }
        })
    });
}

/// TestTick: a non-positive interval gives a channel that never fires (Go: nil).
#[test]
fn tick_of_zero_never_fires() {
    bounded(30, || {
        let c = gort::tick(Duration::ZERO);
        assert_eq!(
            c.recv_timeout(20 * MS),
            Err(gort::RecvTimeoutError::Timeout)
        );
    });
}

/// TestNewTickerLtZeroDuration.
#[test]
fn new_ticker_of_zero_panics() {
    assert!(std::panic::catch_unwind(|| Ticker::new(Duration::ZERO)).is_err());
}

/// TestTickerResetLtZeroDuration.
#[test]
fn ticker_reset_to_zero_panics() {
    let tk = Ticker::new(SECOND);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| tk.reset(Duration::ZERO)));
    assert!(r.is_err(), "Ticker::reset(0) should have panicked");
}

/// Go's `timer` interface over both kinds: Stop and Reset that say whether the timer was
/// pending. For a ticker that is whether it was running (Go's `tickerTimer`).
trait AnyTimer {
    fn stop(&mut self) -> bool;
    fn reset(&mut self, d: Duration) -> bool;
    fn receiver(&self) -> Receiver<Instant>;
    fn is_ticker(&self) -> bool;
}

impl AnyTimer for Timer {
    fn stop(&mut self) -> bool {
        Timer::stop(self)
    }
    fn reset(&mut self, d: Duration) -> bool {
        Timer::reset(self, d)
    }
    fn receiver(&self) -> Receiver<Instant> {
        Timer::receiver(self).clone()
    }
    fn is_ticker(&self) -> bool {
        false
    }
}

struct TickerTimer {
    ticker: Ticker,
    stopped: bool,
}

impl AnyTimer for TickerTimer {
    fn stop(&mut self) -> bool {
        let pending = !self.stopped;
        self.stopped = true;
        self.ticker.stop();
        pending
    }
    fn reset(&mut self, d: Duration) -> bool {
        let pending = !self.stopped;
        self.stopped = false;
        self.ticker.reset(d);
        pending
    }
    fn receiver(&self) -> Receiver<Instant> {
        self.ticker.receiver().clone()
    }
    fn is_ticker(&self) -> bool {
        true
    }
}

/// Go's testTimerChan with synchronous timer channels (`asynctimerchan=0`).
fn timer_chan(tim: &mut dyn AnyTimer) {
    const SCHED: Duration = Duration::from_millis(10);
    const TRIES: usize = 100;
    let c = tim.receiver();
    let is_ticker = tim.is_ticker();
    let no_tick = |what: &str| {
        assert!(c.try_recv().is_err(), "extra tick: {what}");
    };
    let assert_tick = |what: &str| {
        for _ in 0..=TRIES {
            if c.try_recv().is_ok() {
                return;
            }
            gort::sleep(SCHED);
        }
        panic!("missing tick: {what}");
    };
    let not_done = |done: &Receiver<()>, what: &str| {
        assert_eq!(
            done.try_recv(),
            Err(gort::TryRecvError::Empty),
            "early done: {what}"
        );
    };
    let wait_done = |done: &Receiver<()>, what: &str| {
        for _ in 0..TRIES {
            gort::sleep(SCHED);
            if done.try_recv() != Err(gort::TryRecvError::Empty) {
                return;
            }
        }
        panic!("never got done: {what}");
    };

    // Simple stop; the timer was never in the heap.
    tim.stop();
    no_tick("stop");
    // Modify a timer not in the heap.
    tim.reset(10_000 * SECOND);
    no_tick("reset far");
    // Modify a timer in the heap.
    tim.reset(NS);
    gort::sleep(SCHED);
    assert_tick("reset 1ns");

    // Long enough that a second tick must happen if this is a ticker: reset does not lose
    // the tick that should have happened, and no stale one remains after it.
    gort::sleep(SCHED);
    tim.reset(10_000 * SECOND);
    no_tick("reset after a missed tick");

    // Stop while the timer is in the heap because a goroutine is blocked on it.
    tim.reset(10_000 * SECOND);
    let (done_tx, done) = gort::chan::<()>(0);
    not_done(&done, "before the receiver");
    let c2 = c.clone();
    gort::go(move || {
        c2.recv();
        drop(done_tx);
    });
    gort::sleep(SCHED);
    not_done(&done, "receiver blocked");
    // Reset far away while in the heap.
    tim.reset(20_000 * SECOND);
    gort::sleep(SCHED);
    not_done(&done, "reset far while blocked");
    // Imminent reset while in the heap.
    tim.reset(NS);
    wait_done(&done, "imminent reset");
    // A ticker (1 ns period) has ticked again already; a timer has stopped.
    if is_ticker {
        assert_tick("ticker after the blocked receive");
    } else {
        no_tick("timer after the blocked receive");
    }
    tim.stop();
    no_tick("stop after the blocked receive");

    // Again with select, and two goroutines waiting: exactly one of them receives.
    tim.reset(10_000 * SECOND);
    let (done_tx, done) = gort::chan::<()>(2);
    let (stop_tx, stop) = gort::chan::<()>(0);
    let mut finished = Vec::new();
    for _ in 0..2 {
        let (c, done_tx, stop) = (c.clone(), done_tx.clone(), stop.clone());
        finished.push(gort::spawn(move || {
            gort::select! {
                recv(c) -> _ => done_tx.send(()).unwrap(),
                recv(stop) -> _ => {}
            }
        }));
    }
    gort::sleep(SCHED);
    not_done(&done, "two waiting");
    tim.reset(SCHED / 2);
    gort::sleep(SCHED);
    wait_done(&done, "two waiting, reset");
    tim.stop();
    drop(stop_tx);
    for h in finished {
        h.join().unwrap();
    }
    if is_ticker {
        // An extra tick may have reached the second goroutine, or filled the channel.
        let _ = done.try_recv();
        let _ = c.try_recv();
    }
    not_done(&done, "after the two");

    // A stopped timer delivers nothing to goroutines waiting on it.
    let (stop_tx, stop) = gort::chan::<()>(0);
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let (c, stop) = (c.clone(), stop.clone());
            gort::spawn(move || {
                gort::select! {
                    recv(c) -> _ => panic!("unexpected data"),
                    recv(stop) -> _ => {}
                }
            })
        })
        .collect();
    gort::sleep(SCHED);
    drop(stop_tx);
    for h in waiters {
        h.join().unwrap();
    }

    // Stop and Reset keep old values from being received (Go proposal 37196).
    tim.reset(NS);
    gort::sleep(10 * MS);
    assert!(tim.stop(), "stop of a fired, unreceived timer is pending");
    no_tick("stop of a fired timer");
    tim.reset(HOUR);
    no_tick("reset to an hour");
    assert!(tim.reset(NS), "reset from an hour is pending");
    assert_tick("reset from an hour");
    gort::sleep(10 * MS);
    if is_ticker {
        assert_tick("ticker keeps ticking");
        gort::sleep(10 * MS);
    } else {
        no_tick("timer fires once");
    }
    assert_eq!(tim.reset(HOUR), is_ticker, "reset after the receive");
    no_tick("last reset");
}

/// TestChan, Timer.
#[test]
fn chan_timer() {
    bounded(60, || {
        gort::run(|| {
            let mut tim = Timer::new(10_000 * SECOND);
            timer_chan(&mut tim);
        })
    });
}

/// TestChan, Ticker.
#[test]
fn chan_ticker() {
    bounded(60, || {
        gort::run(|| {
            let mut tim = TickerTimer {
                ticker: Ticker::new(10_000 * SECOND),
                stopped: false,
            };
            timer_chan(&mut tim);
        })
    });
}

/// TestAfterTimes and TestTickTimes: a channel made by `make(10ms)` and read 500 ms later
/// carries the time it fired, not the time it was read. Ten tries before failing, for very long
/// scheduling delays.
fn carries_the_time_it_fired(make: fn(Duration) -> Receiver<Instant>, what: &str) {
    for _ in 0..10 {
        let start = Instant::now();
        let c = make(10 * MS);
        gort::sleep(500 * MS);
        if c.recv().unwrap() - start < 400 * MS {
            return;
        }
    }
    panic!("{what}(10ms) carried the time it was read");
}

/// TestAfterTimes.
#[test]
fn after_times() {
    bounded(60, || {
        gort::run(|| carries_the_time_it_fired(gort::after, "after"))
    });
}

/// TestTickTimes.
#[test]
fn tick_times() {
    bounded(60, || {
        gort::run(|| carries_the_time_it_fired(gort::tick, "tick"))
    });
}
