//! Fairness and blocking with a single processor (GOMAXPROCS = 1). Tests in this file share one
//! runtime, so they run one at a time.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{gettid, with_procs, yielders};

/// ARCHITECTURE.md, decision "No preemption in the middle of an instruction": a goroutine that
/// never calls the runtime must not stop another from running on the same (single) processor.
#[test]
fn spinning_goroutine_does_not_block_flag_setter() {
    with_procs(1, 30, || {
        let flag = Arc::new(AtomicBool::new(false));
        let spins = Arc::new(AtomicUsize::new(0));
        let spinner = {
            let (flag, spins) = (flag.clone(), spins.clone());
            gort::spawn(move || {
                while !flag.load(Acquire) {
                    spins.fetch_add(1, Relaxed);
                    std::hint::spin_loop();
                }
            })
        };
        // Make sure the spinner is running, then queue the setter behind it.
        while spins.load(Relaxed) == 0 {
            gort::yield_now();
        }
        let setter = {
            let flag = flag.clone();
            gort::spawn(move || flag.store(true, Release))
        };
        setter.join().unwrap();
        spinner.join().unwrap();
    });
}

/// A goroutine that blocks its thread in the kernel without `gort::blocking` (a common mistake)
/// holds up the work queued behind it only until sysmon lends a processor past it.
#[test]
fn thread_blocked_without_blocking_does_not_stop_others() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    with_procs(1, 30, || {
        let lends = gort::runtime::stats().handoffs;
        let started = Arc::new(AtomicBool::new(false));
        let sleeper = {
            let started = started.clone();
            gort::spawn(move || {
                started.store(true, SeqCst);
                std::thread::sleep(Duration::from_millis(1000));
            })
        };
        while !started.load(SeqCst) {
            gort::yield_now();
        }
        let took = yielders(1);
        assert!(took < Duration::from_millis(500), "worker took {took:?}");
        assert!(gort::runtime::stats().handoffs > lends);
        sleeper.join().unwrap();
    });
}

/// A goroutine in `blocking` gives its processor away: others complete 1000 yields meanwhile,
/// well under the 500 ms it blocks. A round can be spoiled by the OS descheduling the test's
/// threads on a loaded machine, so the best of three rounds must show it.
#[test]
fn blocking_call_hands_off_processor() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    with_procs(1, 30, || {
        let mut best = Duration::MAX;
        for _ in 0..3 {
            let lends = gort::runtime::stats().handoffs;
            let done = Arc::new(AtomicBool::new(false));
            let entered = Arc::new(AtomicBool::new(false));
            let blocker = {
                let (done, entered) = (done.clone(), entered.clone());
                gort::spawn(move || {
                    gort::blocking(|| {
                        entered.store(true, SeqCst);
                        std::thread::sleep(Duration::from_millis(500))
                    });
                    done.store(true, SeqCst);
                })
            };
            while !entered.load(SeqCst) {
                gort::yield_now();
            }
            let took = yielders(4);
            // The processor was handed off by `blocking`, not lent by sysmon past a blocked
            // thread (which would also let the workers run).
            assert_eq!(
                gort::runtime::stats().handoffs,
                lends,
                "blocking kept its processor"
            );
            if !done.load(SeqCst) {
                best = best.min(took);
            }
            blocker.join().unwrap();
            if best < Duration::from_millis(250) {
                return;
            }
        }
        panic!("workers took at best {best:?} beside a 500 ms blocking call");
    });
}

/// Sleeping goroutines wake on time on one processor, and a locked goroutine's sleep does not
/// hold up the others.
#[test]
fn sleep_and_locked_sleep_on_one_processor() {
    if gort_test_support::skip_if_emulated("it measures time") {
        return;
    }
    with_procs(1, 30, || {
        let locked_done = Arc::new(AtomicBool::new(false));
        let locked = {
            let locked_done = locked_done.clone();
            gort::spawn(move || {
                gort::lock_os_thread();
                gort::sleep(Duration::from_millis(1000));
                gort::unlock_os_thread();
                locked_done.store(true, SeqCst);
            })
        };
        let t = Instant::now();
        let hs: Vec<_> = (0..100)
            .map(|i| gort::spawn(move || gort::sleep(Duration::from_millis(10 + i % 10))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let took = t.elapsed();
        assert!(
            !locked_done.load(SeqCst),
            "the others waited for the locked goroutine"
        );
        assert!(took < Duration::from_millis(500), "{took:?}");
        locked.join().unwrap();
    });
}

/// A goroutine whose processor sysmon lent away (it blocked its thread without
/// `gort::blocking`) gives it up at its next runtime call even when that call is a spawn. It must
/// not go on running beside the processor's new owner, putting every goroutine it spawns on the
/// global queue and waking a thread for each: a burst of spawns that lost its processor once ran
/// at half speed to its end. With one processor, the spawner's count cannot move while the test
/// goroutine spins on it.
#[test]
fn a_goroutine_lent_past_gives_up_running_at_a_spawn() {
    with_procs(1, 30, || {
        let lends = gort::runtime::stats().handoffs;
        let spawns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let spawner = {
            let (spawns, stop) = (spawns.clone(), stop.clone());
            gort::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                while !stop.load(SeqCst) {
                    gort::spawn(|| {});
                    spawns.fetch_add(1, SeqCst);
                }
            })
        };
        while spawns.load(SeqCst) == 0 {
            gort::yield_now();
        }
        assert!(
            gort::runtime::stats().handoffs > lends,
            "sysmon did not lend the processor past the sleeping spawner"
        );
        // A round during which sysmon lent the processor past this goroutine (the OS
        // descheduled its thread for a slice) proves nothing and does not count.
        let (mut overlaps, mut rounds) = (0, 0);
        for _ in 0..40 {
            let lends = gort::runtime::stats().handoffs;
            let before = spawns.load(SeqCst);
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(2) {
                std::hint::spin_loop();
            }
            let moved = spawns.load(SeqCst) != before;
            if gort::runtime::stats().handoffs == lends {
                rounds += 1;
                overlaps += usize::from(moved);
            }
            gort::yield_now();
            if rounds == 10 {
                break;
            }
        }
        stop.store(true, SeqCst);
        spawner.join().unwrap();
        assert!(
            rounds >= 5,
            "sysmon lent the processor in {} of 40 rounds",
            40 - rounds
        );
        assert_eq!(
            overlaps, 0,
            "the spawner ran beside this goroutine in {overlaps} of {rounds} rounds"
        );
    });
}

/// Yielding alternates between goroutines on one processor. A round during which sysmon lent a
/// processor (it runs two goroutines at once, by design, past a hog) proves nothing about
/// yielding and is run again.
#[test]
fn yield_alternates() {
    with_procs(1, 30, || {
        for _ in 0..10 {
            let lends = gort::runtime::stats().handoffs;
            let log = Arc::new(Mutex::new(Vec::new()));
            // Both start logging only once both run: sysmon may preempt the spawner between
            // the two spawns, and the first goroutine must not log alone meanwhile.
            let ready = Arc::new(AtomicUsize::new(0));
            let hs: Vec<_> = (0..2)
                .map(|k| {
                    let (log, ready) = (log.clone(), ready.clone());
                    gort::spawn(move || {
                        ready.fetch_add(1, SeqCst);
                        while ready.load(SeqCst) < 2 {
                            gort::yield_now();
                        }
                        for _ in 0..5 {
                            log.lock().unwrap().push(k);
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            if gort::runtime::stats().handoffs != lends {
                continue;
            }
            let log = log.lock().unwrap();
            let switches = log.windows(2).filter(|w| w[0] != w[1]).count();
            assert!(switches >= 8, "{log:?}");
            return;
        }
        panic!("sysmon lent a processor in every round although no goroutine hogs one");
    });
}

/// ARCHITECTURE.md, decision "No preemption in the middle of an instruction": a goroutine that runs
/// for more than 10 ms is flagged and yields at its next runtime call (here an uncontended
/// `Mutex::lock`), so the goroutine queued behind it runs on the same (single) processor and thread
/// — not on a processor lent past a hog. The spinner has until sysmon's next look (about 1 ms) to
/// answer the flag, and an OS that deschedules its thread for longer on a loaded machine spoils the
/// round, so the best of three rounds must show it.
#[test]
fn long_running_goroutine_yields_at_a_runtime_call() {
    with_procs(1, 60, || {
        let mut tids = Vec::new();
        for _ in 0..3 {
            let (setter, spinner) = setter_and_spinner_threads();
            if setter == spinner {
                return;
            }
            tids.push((setter, spinner));
        }
        panic!(
            "the queued goroutine should run after the flagged one yields, on the same thread; \
             (setter, spinner) thread ids in three rounds: {tids:?}"
        );
    });
}

/// The threads that a spinner calling `Mutex::lock` in a loop and a goroutine queued behind it
/// (which stops the spinner) ran on.
fn setter_and_spinner_threads() -> (i64, i64) {
    let flag = Arc::new(AtomicBool::new(false));
    let lock = Arc::new(gort::sync::Mutex::new(0u64));
    let spinner_tid = Arc::new(AtomicI64::new(0));
    let spinner = {
        let (flag, lock, tid) = (flag.clone(), lock.clone(), spinner_tid.clone());
        gort::spawn(move || {
            tid.store(gettid(), SeqCst);
            while !flag.load(Acquire) {
                *lock.lock() += 1;
            }
        })
    };
    while spinner_tid.load(SeqCst) == 0 {
        gort::yield_now();
    }
    let setter = gort::spawn(move || {
        flag.store(true, Release);
        gettid()
    });
    let setter_tid = setter.join().unwrap();
    spinner.join().unwrap();
    (setter_tid, spinner_tid.load(SeqCst))
}

/// A receive from a timer's channel fires the timer if it is due (Go 1.23's maybeRunChan), so
/// a goroutine that computes past a deadline without a scheduling point, the only one on its
/// processor, then polls, finds the value: no scheduler has run the timer heap meanwhile. The
/// value is the time the timer was due, not the time of the receive (Go's sendTime).
#[test]
fn due_timer_is_received_without_a_scheduling_point() {
    const D: Duration = Duration::from_millis(1);
    with_procs(1, 30, || {
        type Poll = fn(&gort::Receiver<Instant>) -> Option<Instant>;
        let polls: [(&str, Poll); 4] = [
            ("try_recv", |c| c.try_recv().ok()),
            ("recv_timeout(0)", |c| c.recv_timeout(Duration::ZERO).ok()),
            ("select! with default", |c| {
                gort::select! { recv(c) -> v => v, default => None }
            }),
            ("Select::try_select", |c| {
                let mut sel = gort::Select::new();
                sel.recv(c);
                sel.try_select().and_then(|op| op.recv(c))
            }),
        ];
        for (what, poll) in polls {
            for kind in ["Timer", "Ticker", "after"] {
                for _ in 0..20 {
                    let start = Instant::now();
                    let (_timer, _ticker, c) = match kind {
                        "Timer" => {
                            let t = gort::time::Timer::new(D);
                            let c = t.receiver().clone();
                            (Some(t), None, c)
                        }
                        "Ticker" => {
                            let t = gort::time::Ticker::new(D);
                            let c = t.receiver().clone();
                            (None, Some(t), c)
                        }
                        _ => (None, None, gort::after(D)),
                    };
                    gort_test_support::spin_for(3 * D);
                    let polled = Instant::now();
                    let v = poll(&c).unwrap_or_else(|| panic!("{what} on a due {kind}: empty"));
                    assert!(
                        v >= start + D && v + D <= polled,
                        "{what} on a due {kind}: carries {:?} after the start, polled at {:?}",
                        v - start,
                        polled - start
                    );
                }
            }
        }
    });
}
