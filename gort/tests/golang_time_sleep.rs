//! The tests of Go's `src/time/sleep_test.go`, translated to gort's timers (`gort::sleep`,
//! `gort::after`, `gort::time::{Timer, Ticker, after_func}`) where gort has the counterpart.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each test names the Go test it comes from.
//!
//! Differences from Go: gort's `Timer` has Go 1.23 semantics (no stale value after stop or
//! reset), as the channel timers of the Go tests do. Go's `newTimerFunc` (an AfterFunc that
//! sends on a one-slot channel, to test the func path) becomes `after_func` with a gort channel;
//! gort's `AfterFunc` has no `reset`, so the tests that reset it use `Timer` only. Durations
//! cannot be negative in Rust: Go's negative durations become zero. `runtime.GC()` calls become
//! yields; `time.Interrupt()` (a signal to the process) becomes a no-op signal handler hit on
//! every thread. There is no nil or zero-value Timer in Rust, so TestZeroTimerResetPanics,
//! TestZeroTimerStopPanics and the nil-timer part of TestIssue5745 have no counterpart; what
//! TestIssue5745 checks (a panic does not leave the timer lock held) is tested with panics
//! while timers are dropped and inside an `after_func` callback. The tests fix the number of
//! processors (two, unless a test needs another count), so they run one at a time.

use gort_test_support::{bounded, progress, scaled, with_procs};

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::Receiver;
use gort::time::{AfterFunc, Ticker, Timer, after_func};

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);

/// A timer of either kind the Go tests use: a channel timer (`NewTimer`) or `newTimerFunc`
/// (an AfterFunc sending the time on a one-slot channel).
enum AnyTimer {
    Chan(Timer),
    /// The callback's handle, its channel, and a sender kept so that the channel does not
    /// close when a stopped callback is dropped (Go's channels never close by themselves).
    Func {
        f: AfterFunc,
        rx: Receiver<Instant>,
        _open: gort::Sender<Instant>,
    },
}

impl AnyTimer {
    fn new_chan(d: Duration) -> AnyTimer {
        AnyTimer::Chan(Timer::new(d))
    }

    /// Go's newTimerFunc.
    fn new_func(d: Duration) -> AnyTimer {
        let (tx, rx) = gort::chan::<Instant>(1);
        let keep = tx.clone();
        let f = after_func(d, move || {
            let _ = tx.try_send(Instant::now());
        });
        AnyTimer::Func { f, rx, _open: keep }
    }

    fn receiver(&self) -> &Receiver<Instant> {
        match self {
            AnyTimer::Chan(t) => t.receiver(),
            AnyTimer::Func { rx, .. } => rx,
        }
    }

    fn stop(&self) -> bool {
        match self {
            AnyTimer::Chan(t) => t.stop(),
            AnyTimer::Func { f, .. } => f.stop(),
        }
    }
}

/// Go's time.Interrupt: a signal that interrupts whatever system call each thread is in. A
/// no-op SIGURG handler (SIGURG is ignored by default) installed without SA_RESTART, hit on
/// every thread of the process, so futex, epoll and nanosleep waits return EINTR.
fn interrupt() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    extern "C" fn noop(_: libc::c_int) {}
    INSTALL.call_once(|| {
        // SAFETY: installs an async-signal-safe handler that does nothing.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = noop as extern "C" fn(libc::c_int) as usize;
            libc::sigemptyset(&mut sa.sa_mask);
            sa.sa_flags = 0;
            libc::sigaction(libc::SIGURG, &sa, std::ptr::null_mut());
        }
    });
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Some(tid) = t.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) {
                // SAFETY: a signal with a no-op handler to a thread of this process.
                unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, libc::SIGURG) };
            }
        }
    }
}

/// TestSleep: a sleep interrupted by a signal halfway still lasts its full duration; in a
/// goroutine and on a plain thread.
#[test]
fn sleep() {
    with_procs(2, 30, || {
        const DELAY: Duration = Duration::from_millis(100);
        gort::go(|| {
            gort::sleep(DELAY / 2);
            interrupt();
        });
        let start = Instant::now();
        gort::sleep(DELAY);
        let duration = start.elapsed();
        assert!(
            duration >= DELAY,
            "Sleep({DELAY:?}) slept for only {duration:?}"
        );
    });
    bounded(30, || {
        const DELAY: Duration = Duration::from_millis(100);
        std::thread::spawn(|| {
            std::thread::sleep(DELAY / 2);
            interrupt();
        });
        let start = Instant::now();
        gort::sleep(DELAY);
        let duration = start.elapsed();
        assert!(
            duration >= DELAY,
            "Sleep({DELAY:?}) on a plain thread slept for only {duration:?}"
        );
    });
}

/// TestAfterFunc: the basic function calling behaviour. Each callback schedules the next with
/// a zero delay and then sleeps 1 s: callbacks run in their own goroutines, so the ten of them
/// take well under the 10 s they would take one after another.
#[test]
fn after_func_chain() {
    with_procs(2, 30, || {
        fn f(i: Arc<AtomicI32>, c: gort::Sender<bool>) {
            let left = i.fetch_sub(1, SeqCst) - 1;
            if left >= 0 {
                let (i, c2) = (i.clone(), c.clone());
                after_func(Duration::ZERO, move || f(i, c2));
                gort::sleep(SECOND);
            } else {
                c.send(true).unwrap();
            }
        }
        let i = Arc::new(AtomicI32::new(10));
        let (c_tx, c) = gort::chan::<bool>(0);
        let start = Instant::now();
        after_func(Duration::ZERO, move || f(i, c_tx));
        c.recv().unwrap();
        let took = start.elapsed();
        assert!(
            took < 5 * SECOND,
            "10 chained after_func(0) callbacks that each sleep 1 s took {took:?}"
        );
    });
}

/// Go's GC loop beside the ticker tests: yield and sleep 1 ns until `stop`.
fn busy_until(stop: Arc<AtomicBool>) {
    gort::go(move || {
        while !stop.load(SeqCst) {
            gort::yield_now();
            // Yield so that the OS can wake up the timer thread, so that it can generate
            // channel sends for the main goroutine, which will eventually set stop for us.
            gort::sleep(Duration::from_nanos(1));
        }
    });
}

/// TestTickerStress (TestAfterStress in older Go): a 1 ns ticker delivers 100 ticks while
/// another goroutine yields and sleeps 1 ns in a loop.
#[test]
fn ticker_stress() {
    with_procs(2, 30, || {
        let stop = Arc::new(AtomicBool::new(false));
        busy_until(stop.clone());
        let ticker = Ticker::new(Duration::from_nanos(1));
        for i in 0..100 {
            progress(format!("tick {i}"));
            ticker.receiver().recv().unwrap();
        }
        ticker.stop();
        stop.store(true, SeqCst);
    });
}

/// TestTickerConcurrentStress: 10 goroutines receive 100 ticks each from one 1 ns ticker.
#[test]
fn ticker_concurrent_stress() {
    with_procs(2, 30, || {
        let stop = Arc::new(AtomicBool::new(false));
        busy_until(stop.clone());
        let ticker = Arc::new(Ticker::new(Duration::from_nanos(1)));
        let wg = gort::sync::WaitGroup::new();
        let ticks = Arc::new(AtomicUsize::new(0));
        for _ in 0..10 {
            wg.add(1);
            let (ticker, wg, ticks) = (ticker.clone(), wg.clone(), ticks.clone());
            gort::go(move || {
                for _ in 0..100 {
                    ticker.receiver().recv().unwrap();
                    let n = ticks.fetch_add(1, SeqCst) + 1;
                    if n % 50 == 0 {
                        progress(format!("{n} ticks of 1000"));
                    }
                }
                wg.done();
            });
        }
        wg.wait();
        ticker.stop();
        stop.store(true, SeqCst);
    });
}

/// TestAfterFuncStarvation: at procs=1, two goroutines ping-pong on a one-slot channel (one of
/// them is always runnable); the after_func callback that stops them must still run.
#[test]
fn after_func_starvation() {
    with_procs(1, 30, || {
        let wg = gort::sync::WaitGroup::new();
        let stop = Arc::new(AtomicBool::new(false));
        let (c_tx, c) = gort::chan::<bool>(1);
        wg.add(2);
        let sent = Arc::new(AtomicUsize::new(0));
        {
            let (wg, stop, sent) = (wg.clone(), stop.clone(), sent.clone());
            gort::go(move || {
                while !stop.load(SeqCst) {
                    c_tx.send(true).unwrap();
                    let n = sent.fetch_add(1, Relaxed);
                    if n % 100_000 == 0 {
                        progress(format!("{n} values sent, callback not run yet"));
                    }
                }
                c_tx.close();
                wg.done();
            });
        }
        {
            let wg = wg.clone();
            gort::go(move || {
                for _ in &c {}
                wg.done();
            });
        }
        let s = stop.clone();
        after_func(Duration::from_micros(1), move || s.store(true, SeqCst));
        wg.wait();
    });
}

/// TestAfter
#[test]
fn after() {
    with_procs(2, 30, || {
        const DELAY: Duration = Duration::from_millis(100);
        let start = Instant::now();
        let end = gort::after(DELAY).recv().unwrap();
        let duration = start.elapsed();
        assert!(
            duration >= DELAY,
            "After({DELAY:?}) slept for only {duration:?}"
        );
        let min = start + DELAY;
        assert!(
            end >= min,
            "After({DELAY:?}) expect >= {min:?}, got {end:?}"
        );
    });
}

/// TestAfterTick: 10 successive `after(Delta)` take between 0.9 and 3 times 10 Delta
/// (Go's bounds; Delta = 100 ms, 10 ms in debug builds, where only the lower bound holds).
#[test]
fn after_tick() {
    with_procs(2, 60, || {
        const COUNT: u32 = 10;
        let delta = if cfg!(debug_assertions) {
            10 * MS
        } else {
            100 * MS
        };
        let t0 = Instant::now();
        for _ in 0..COUNT {
            gort::after(delta).recv().unwrap();
        }
        let d = t0.elapsed();
        let target = delta * COUNT;
        assert!(
            d >= target * 9 / 10,
            "{COUNT} ticks of {delta:?} too fast: took {d:?}, expected {target:?}"
        );
        assert!(
            cfg!(debug_assertions) || d <= target * 30 / 10,
            "{COUNT} ticks of {delta:?} too slow: took {d:?}, expected {target:?}"
        );
    });
}

/// testAfterStop: a timer stopped before it runs never runs, even after a longer timer; only
/// an error five times in a row fails (Go's allowance for a slow machine).
fn after_stop(new_timer: fn(Duration) -> AnyTimer) {
    let mut errs = Vec::new();
    for _ in 0..5 {
        after_func(100 * MS, || {});
        let t0 = new_timer(50 * MS);
        let (c1_tx, c1) = gort::chan::<bool>(1);
        let _c1_open = c1_tx.clone(); // c1 must not close when the stopped callback is dropped
        let t1 = after_func(150 * MS, move || {
            let _ = c1_tx.send(true);
        });
        let c2 = gort::after(200 * MS);
        if !t0.stop() {
            errs.push("failed to stop event 0");
            continue;
        }
        if !t1.stop() {
            errs.push("failed to stop event 1");
            continue;
        }
        c2.recv().unwrap();
        let fired = gort::select! {
            recv(t0.receiver()) -> _ => Some("event 0 was not stopped"),
            recv(c1) -> _ => Some("event 1 was not stopped"),
            default => None,
        };
        if let Some(e) = fired {
            errs.push(e);
            continue;
        }
        if t1.stop() {
            errs.push("Stop returned true twice");
            continue;
        }
        // Test passed, so all done.
        return;
    }
    panic!("saw {} errors: {errs:?}", errs.len());
}

/// TestAfterStop, impl=chan and impl=func.
#[test]
fn after_stop_chan_and_func() {
    with_procs(2, 30, || after_stop(AnyTimer::new_chan));
    with_procs(2, 30, || after_stop(AnyTimer::new_func));
}

const SLOTS: [u32; 13] = [5, 3, 6, 6, 6, 1, 1, 2, 7, 9, 4, 8, 0];

/// testAfterQueuing1: goroutines waiting on timers of SLOTS deltas are woken in order, each
/// within [target - delta/2, target + 10 delta].
fn after_queuing1(delta: Duration, after: fn(Duration) -> Receiver<Instant>) -> Result<(), String> {
    // make the result channel buffered because we don't want to depend on channel queuing
    // semantics that might possibly change in the future.
    let (result_tx, result) = gort::chan::<(u32, Instant)>(SLOTS.len());
    let t0 = Instant::now();
    for slot in SLOTS {
        let ac = after(delta * slot);
        let result_tx = result_tx.clone();
        gort::go(move || {
            let t = ac.recv().unwrap();
            result_tx.send((slot, t)).unwrap();
        });
    }
    let mut order = Vec::new();
    let mut times = Vec::new();
    for _ in SLOTS {
        let (slot, t) = result.recv().unwrap();
        order.push(slot);
        times.push(t);
    }
    for i in 1..order.len() {
        if order[i] < order[i - 1] {
            return Err(format!("After calls returned out of order: {order:?}"));
        }
    }
    for (i, t) in times.iter().enumerate() {
        let dt = t.duration_since(t0);
        let target = delta * order[i];
        if dt + delta / 2 < target || dt > target + delta * 10 {
            return Err(format!(
                "After({target:?}) arrived at {dt:?}, expected [{:?},{:?}]",
                target.saturating_sub(delta / 2),
                target + delta * 10
            ));
        }
    }
    Ok(())
}

fn after_queuing(after: fn(Duration) -> Receiver<Instant>) {
    // This test flakes out on some systems, so we'll try it a few times before declaring it a
    // failure.
    const ATTEMPTS: u32 = 5;
    let mut errs = Vec::new();
    for i in 0..ATTEMPTS {
        let delta = (20 + i * 50) * MS;
        match after_queuing1(delta, after) {
            Ok(()) => return,
            Err(e) => errs.push(format!("attempt {i} failed: {e}")),
        }
    }
    panic!("{}", errs.join("\n"));
}

/// TestAfterQueuing, impl=chan and impl=func.
#[test]
fn after_queuing_chan_and_func() {
    with_procs(2, 60, || after_queuing(gort::after));
    with_procs(2, 60, || {
        after_queuing(|d| match AnyTimer::new_func(d) {
            AnyTimer::Func { rx, .. } => rx,
            AnyTimer::Chan(_) => unreachable!(),
        })
    });
}

/// TestTimerStopStress: 100 goroutines each start a 2 s after_func, sleep 1 s and stop it;
/// none of the callbacks runs.
#[test]
fn timer_stop_stress() {
    with_procs(2, 60, || {
        let ran = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicUsize::new(0));
        for i in 0..100 {
            let (ran, stopped) = (ran.clone(), stopped.clone());
            gort::go(move || {
                let timer = after_func(2 * SECOND, move || ran.lock().unwrap().push(i));
                gort::sleep(SECOND);
                if timer.stop() {
                    stopped.fetch_add(1, SeqCst);
                }
            });
        }
        gort::sleep(3 * SECOND);
        let ran = ran.lock().unwrap();
        assert!(ran.is_empty(), "timers {ran:?} were not stopped");
        assert_eq!(stopped.load(SeqCst), 100, "stop returned false");
    });
}

/// TestSleepZeroDeadlock: sleep(0) in a loop with channel operations, at procs=4, beside a
/// goroutine that keeps the scheduler busy (Go: runtime.GC in a loop).
#[test]
fn sleep_zero_deadlock() {
    with_procs(4, 30, || {
        let (c_tx, c) = gort::chan::<bool>(0);
        gort::go(move || {
            for _ in 0..100 {
                gort::yield_now();
                std::hint::black_box(gort::runtime::stats());
                gort::spawn(|| ()).join().unwrap();
            }
            c_tx.send(true).unwrap();
        });
        for _ in 0..100 {
            gort::sleep(Duration::ZERO);
            let (tmp_tx, tmp) = gort::chan::<bool>(1);
            tmp_tx.send(true).unwrap();
            tmp.recv().unwrap();
        }
        c.recv().unwrap();
    });
}

fn test_reset(d: Duration) -> Result<(), &'static str> {
    let t0 = Timer::new(2 * d);
    gort::sleep(d);
    if !t0.reset(3 * d) {
        return Err("resetting unfired timer returned false");
    }
    gort::sleep(2 * d);
    if t0.receiver().try_recv().is_ok() {
        return Err("timer fired early");
    }
    gort::sleep(2 * d);
    if t0.receiver().try_recv().is_err() {
        return Err("reset timer did not fire");
    }
    if t0.reset(50 * MS) {
        return Err("resetting expired timer returned true");
    }
    Ok(())
}

/// TestReset: tried with durations doubling from 1 ms until one works (up to 10 s), so a slow,
/// loaded machine is not flaky.
#[test]
fn reset() {
    with_procs(2, 120, || {
        let mut d = MS;
        const MAX_DURATION: Duration = Duration::from_secs(10);
        let mut errs = Vec::new();
        loop {
            progress(format!("trying duration {d:?}"));
            match test_reset(d) {
                Ok(()) => break,
                Err(e) => errs.push(format!("{e} (duration {d:?})")),
            }
            d *= 2;
            assert!(d <= MAX_DURATION, "{}", errs.join("; "));
        }
    });
}

/// TestOverflowSleep: sleeping (with sleep or a timer) for an interval so large it would
/// overflow does not result in a short sleep, nor does it interfere with other timers. Go's
/// negative duration is zero here: it fires at once.
#[test]
fn overflow_sleep() {
    with_procs(2, 30, || {
        let big = Duration::from_nanos(i64::MAX as u64);
        let returned = Arc::new(AtomicUsize::new(0));
        for d in [big, Duration::MAX] {
            let returned = returned.clone();
            gort::go(move || {
                gort::sleep(d);
                returned.fetch_add(1, SeqCst);
            });
        }
        for d in [big, Duration::MAX] {
            gort::select! {
                recv(gort::after(d)) -> _ => panic!("big timeout {d:?} fired"),
                recv(gort::after(25 * MS)) -> _ => {},
            }
        }
        gort::sleep(Duration::ZERO); // Returns immediately.
        gort::select! {
            recv(gort::after(Duration::ZERO)) -> _ => {},
            recv(gort::after(SECOND)) -> _ => panic!("zero timeout didn't fire"),
        }
        // Other timers still fire on time.
        let start = Instant::now();
        gort::sleep(10 * MS);
        assert!(start.elapsed() < SECOND);
        assert_eq!(returned.load(SeqCst), 0, "big sleep returned");
    });
}

/// TestIssue5745: a panic while timers are being stopped does not leave the timer lock held,
/// deadlocking a Ticker's stop afterwards. Here the panic unwinds through the drops of a Timer
/// and a Ticker (whose `Drop` stops them), and an `after_func` callback panics; the ticker is
/// stopped afterwards and timers keep working.
#[test]
fn issue5745() {
    with_procs(2, 30, || {
        let ticker = Ticker::new(Duration::from_secs(3600));
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            struct StopOnDrop<'a>(&'a Ticker);
            impl Drop for StopOnDrop<'_> {
                fn drop(&mut self) {
                    // would deadlock here if the panic left the timer lock held.
                    self.0.stop();
                }
            }
            let _stop = StopOnDrop(&ticker);
            let _timer = Timer::new(Duration::from_secs(3600));
            let _ticker2 = Ticker::new(MS);
            panic!("expected panic");
        }));
        assert!(r.is_err(), "Expected panic, but none happened.");
        ticker.stop();

        // A callback that panics (reported on stderr, as a go! goroutine's panic is).
        let (c_tx, c) = gort::chan::<bool>(1);
        after_func(Duration::ZERO, || {
            panic!("after_func callback panics (expected)")
        });
        after_func(MS, move || c_tx.send(true).unwrap());
        assert_eq!(c.recv(), Some(true));
        ticker.reset(MS);
        assert!(ticker.receiver().recv_timeout(10 * SECOND).is_ok());
        ticker.stop();
        let t = Timer::new(MS);
        assert!(t.receiver().recv_timeout(10 * SECOND).is_ok());
    });
}

/// testZeroTimer: zero-duration timers are not missed by the scheduler (Go issue 44868); each
/// delivers within 2 s. `new_timer` returns the timer (kept alive until its value arrives) and
/// its channel.
fn zero_timer<T>(mut new_timer: impl FnMut(Duration) -> (T, Receiver<Instant>), what: &str) {
    let n = scaled(1_000_000, 50_000);
    for i in 0..n {
        if i % 100_000 == 0 {
            progress(format!("{what}: {i} of {n}"));
        }
        let s = Instant::now();
        let (timer, rx) = new_timer(Duration::ZERO);
        rx.recv().unwrap();
        drop(timer);
        let diff = s.elapsed();
        assert!(
            diff <= 2 * SECOND,
            "{what}: Expected time to get value from Timer channel in less than 2 sec, took \
             {diff:?}"
        );
    }
}

/// TestZeroTimer, impl=chan, impl=func and impl=cache (one timer reset to zero each time).
#[test]
fn zero_timer_chan_func_and_cache() {
    with_procs(2, 300, || {
        zero_timer(
            |d| {
                let t = Timer::new(d);
                let rx = t.receiver().clone();
                (t, rx)
            },
            "impl=chan",
        );
    });
    with_procs(2, 300, || {
        zero_timer(
            |d| {
                let t = AnyTimer::new_func(d);
                let rx = t.receiver().clone();
                (t, rx)
            },
            "impl=func",
        );
    });
    with_procs(2, 300, || {
        let timer = Timer::new(Duration::from_secs(3600));
        zero_timer(
            move |d| {
                timer.reset(d);
                ((), timer.receiver().clone())
            },
            "impl=cache",
        );
    });
}

/// TestTimerModifiedEarlier: rapidly moving a timer earlier doesn't cause it to get dropped
/// (Go issue 47329).
#[test]
fn timer_modified_earlier() {
    with_procs(2, 120, || {
        let past = Duration::ZERO;
        let count = 1000;
        let mut fail = 0;
        for i in 0..count {
            if i % 100 == 0 {
                progress(format!("timer {i} of {count}"));
            }
            let timer = Timer::new(Duration::from_secs(3600));
            for _ in 0..10 {
                if !timer.stop() {
                    // Go: <-timer.C. With Go 1.23 timers Stop returns false only once the value
                    // was received, which this loop never does: the receive would block for ever.
                    assert!(
                        timer.receiver().recv_timeout(10 * SECOND).is_ok(),
                        "timer {i}: stop() returned false for a timer whose value was never \
                         received, and no value arrived"
                    );
                }
                timer.reset(past);
            }
            let deadline = Timer::new(10 * SECOND);
            let now = Instant::now();
            gort::select! {
                recv(timer.receiver()) -> _ => {
                    let since = now.elapsed();
                    if since > 8 * SECOND {
                        eprintln!("timer took too long ({since:?})");
                        fail += 1;
                    }
                },
                recv(deadline.receiver()) -> _ => panic!("deadline expired"),
            }
        }
        assert_eq!(fail, 0, "{fail} failures");
    });
}

/// TestAdjustTimers: rapidly moving timers earlier and later doesn't cause some of the sleep
/// times to be lost (Go issue 47762). 100 timers, each walked through its states in a random
/// interleaving.
#[test]
fn adjust_timers() {
    with_procs(2, 60, || {
        let mut seed = Instant::now().elapsed().as_nanos() as u64 | 1;
        let mut rnd = move |n: usize| {
            // xorshift64
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let n = 100;
        let mut timers: Vec<Option<Timer>> = (0..n).map(|_| None).collect();
        let mut states = vec![0; n];
        let mut indices: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            indices.swap(i, rnd(i + 1));
        }
        while !indices.is_empty() {
            let ii = rnd(indices.len());
            let i = indices[ii];
            let state = states[i];
            states[i] += 1;
            match state {
                0 => timers[i] = Some(Timer::new(Duration::ZERO)),
                1 => {
                    // Timer is now idle.
                    timers[i].as_ref().unwrap().receiver().recv().unwrap();
                }
                // Reset to various long durations, which we'll cancel.
                2 | 4 | 6 => {
                    let d = [60, 180, 120][(state - 2) / 2];
                    assert!(
                        !timers[i].as_ref().unwrap().reset(Duration::from_secs(d)),
                        "shouldn't be active ({})",
                        d / 60
                    );
                }
                // Stop and drain a long-duration timer.
                3 | 5 | 7 => {
                    let t = timers[i].as_ref().unwrap();
                    if !t.stop() {
                        eprintln!("timer {i} state {state} Stop returned false");
                        t.receiver().recv().unwrap();
                    }
                }
                // Start a short-duration timer we expect to select without blocking.
                8 => assert!(
                    !timers[i].as_ref().unwrap().reset(Duration::ZERO),
                    "timer.Reset returned true"
                ),
                9 => {
                    let now = Instant::now();
                    timers[i].as_ref().unwrap().receiver().recv().unwrap();
                    let dur = now.elapsed();
                    assert!(dur <= 750 * MS, "timer {i} took {dur:?} to complete");
                }
                // Timer is done. Swap with tail and remove.
                _ => {
                    indices.swap_remove(ii);
                }
            }
        }
        assert!(timers.iter().all(|t| t.is_some()));
    });
}
