//! Go's preemption tests (TestPreemption*, TestPreemptSplitBig, TestGCFairness, TestPingPongHog,
//! TestPreemptionAfterSyscall), as hand-off past goroutines that never call the runtime.

use super::*;

/// TestPreemption: two goroutines take turns on `x`, each spinning in calls that never reach
/// the runtime until it is its turn. At procs=1 this needs the spinning goroutine's processor
/// handed past it; at procs=2 both simply run.
#[test]
fn preemption() {
    for procs in [1, 2] {
        with_procs(procs, 60, move || {
            let token = Stop::new();
            let n = scaled(5, 2) as u32;
            let (c_tx, c) = gort::chan::<bool>(0);
            let x = Arc::new(AtomicU32::new(0));
            let start = Instant::now();
            for g in 0..2u32 {
                let (x, c_tx, token) = (x.clone(), c_tx.clone(), token.clone());
                gort::go(move || {
                    for i in 0..n {
                        while x.load(SeqCst) != g {
                            if token.stopped() {
                                return;
                            }
                            black_box(preempt());
                        }
                        progress(format!("goroutine {g} got turn {i}"));
                        x.store(1 - g, SeqCst);
                    }
                    c_tx.send(true).unwrap();
                });
            }
            c.recv().unwrap();
            c.recv().unwrap();
            let took = start.elapsed();
            assert!(
                took < Duration::from_secs(10),
                "procs={procs}: {n} turns each took {took:?}"
            );
        });
    }
}

/// TestPreemptionGC: P goroutines spin in calls that never reach the runtime while the main
/// goroutine repeatedly yields and does something that needs a processor (Go: runtime.GC,
/// which must stop them all; here: a spawn and join, and a short sleep). Go runs it at
/// GOMAXPROCS = P + 1; it is also run at procs=1, where the spinners hold the only processor.
#[test]
fn preemption_gc() {
    let p = scaled(5, 3);
    for procs in [p + 1, 1] {
        with_procs(procs, 60, move || {
            let token = Stop::new();
            let n = scaled(10, 2);
            let spinners: Vec<_> = (0..p).map(|_| spinner(&token)).collect();
            let start = Instant::now();
            for i in 0..n {
                progress(format!("main round {i}"));
                gort::yield_now();
                assert_eq!(gort::spawn(move || i).join().unwrap(), i);
                gort::sleep(MS);
            }
            let took = start.elapsed();
            token.stop();
            for s in spinners {
                s.join().unwrap();
            }
            assert!(
                took < Duration::from_secs(5),
                "procs={procs}: {n} rounds of yield + spawn/join + 1 ms sleep took {took:?} \
                 beside {p} spinning goroutines"
            );
        });
    }
}

/// Go's `big`/`bigframe`/`small`/`nonleaf`: a long stretch of computation without a runtime
/// call, then a call with a large frame, then a blocking receive on `stop`.
fn big(stop: Receiver<i32>, spin: Duration, spun: Arc<AtomicBool>) -> u64 {
    let mut n = 0u64;
    // delay so that the others are sure to need the processor meanwhile
    let start = Instant::now();
    while start.elapsed() < spin {
        n = black_box(n + 1);
    }
    spun.store(true, SeqCst);
    // call bigframe, which used to miss the preemption in its prologue.
    n += bigframe(&stop);
    // check if we've been asked to stop.
    gort::select! {
        recv(stop) -> _ => n,
    }
}

#[inline(never)]
fn bigframe(stop: &Receiver<i32>) -> u64 {
    // not splitting the stack would overflow in Go; here an 8 KiB frame on a gort stack.
    let mut x = [0u8; 8192];
    black_box(&mut x);
    small(stop, &mut x)
}

#[inline(never)]
fn small(stop: &Receiver<i32>, x: &mut [u8; 8192]) -> u64 {
    for (i, b) in x.iter_mut().enumerate() {
        *b = i as u8;
    }
    let sum = x.iter().map(|&b| b as u64).sum();
    // keep small from being a leaf function
    nonleaf(stop);
    sum
}

#[inline(never)]
fn nonleaf(stop: &Receiver<i32>) -> bool {
    gort::select! {
        recv(stop) -> _ => true,
        default => false,
    }
}

/// TestPreemptSplitBig: a goroutine computes for a long time without calling the runtime,
/// calls a function with a big frame, then blocks on `stop`; meanwhile the main goroutine
/// sleeps three times (Go: 10 µs sleeps and runtime.GC) and closes `stop`. The main goroutine's
/// sleeps must end while `big` is still computing (2 s), at procs 2 (as Go) and 1.
#[test]
fn preempt_split_big() {
    for procs in [2, 1] {
        with_procs(procs, 60, move || {
            let (stop_tx, stop) = gort::chan::<i32>(0);
            let spun = Arc::new(AtomicBool::new(false));
            let s = spun.clone();
            let h = gort::spawn(move || big(stop, Duration::from_secs(2), s));
            let start = Instant::now();
            for _ in 0..3 {
                gort::sleep(Duration::from_micros(10)); // let big start running
                gort::yield_now();
            }
            let took = start.elapsed();
            let big_done_first = spun.load(SeqCst);
            stop_tx.close();
            assert!(h.join().unwrap() > 0);
            assert!(
                !big_done_first,
                "procs={procs}: three 10 µs sleeps took {took:?}, until the goroutine computing \
                 for 2 s was done"
            );
        });
    }
}

/// The flag setter tests in the style of sched_procs1: at procs=1 a goroutine spins on a flag
/// that only another goroutine sets; once it spins, the main goroutine (queued behind it) gets
/// to run and arranges for the flag to be set; the setter runs, however it became runnable.
fn spinner_and_setter(setter: impl FnOnce(Arc<AtomicBool>) + Send + 'static) {
    let token = Stop::new();
    let flag = Arc::new(AtomicBool::new(false));
    let spins = Arc::new(AtomicU64::new(0));
    let spinner = {
        let (flag, spins, token) = (flag.clone(), spins.clone(), token.clone());
        gort::spawn(move || {
            while !flag.load(Acquire) && !token.stopped() {
                spins.fetch_add(1, Relaxed);
                spin_loop();
            }
            flag.load(Acquire)
        })
    };
    while spins.load(Relaxed) == 0 {
        gort::yield_now();
    }
    setter(flag);
    assert!(
        spinner.join().unwrap(),
        "the spinner was stopped, not released"
    );
    assert!(spins.load(Relaxed) > 0);
}

/// TestPreemption's point at procs=1: a goroutine spinning without any runtime call does not
/// stop another goroutine from running, whether that one is queued behind it, sleeps first,
/// waits on a channel, or is started by `after_func`.
#[test]
fn spinning_goroutine_does_not_stop_the_goroutine_that_releases_it() {
    // Queued behind the spinner in the run queue.
    with_procs(1, 30, || {
        spinner_and_setter(|flag| {
            gort::go(move || flag.store(true, Release));
        });
    });
    // Sleeping first: its timer must fire while the spinner holds the processor.
    with_procs(1, 30, || {
        spinner_and_setter(|flag| {
            gort::go(move || {
                gort::sleep(10 * MS);
                flag.store(true, Release);
            });
        });
    });
    // The main goroutine itself, after a sleep.
    with_procs(1, 30, || {
        spinner_and_setter(|flag| {
            gort::sleep(10 * MS);
            flag.store(true, Release);
        });
    });
    // Woken by a channel send from a plain thread.
    with_procs(1, 30, || {
        spinner_and_setter(|flag| {
            let (tx, rx) = gort::chan::<()>(0);
            gort::go(move || {
                rx.recv();
                flag.store(true, Release);
            });
            std::thread::spawn(move || {
                std::thread::sleep(10 * MS);
                tx.send(()).unwrap();
            });
        });
    });
    // Started by a timer.
    with_procs(1, 30, || {
        spinner_and_setter(|flag| {
            gort::time::after_func(10 * MS, move || flag.store(true, Release));
        });
    });
}

/// The sleep latency of a goroutine beside 4 goroutines that spin without calling the runtime:
/// over 200 sleeps of 1 ms, the median sleep takes at most 5 ms. Best of three rounds (the OS
/// may deschedule the test's threads on a loaded machine).
fn sleep_latency_beside_spinners(procs: usize) {
    with_procs(procs, 60, move || {
        let mut report = Vec::new();
        for round in 0..3 {
            let token = Stop::new();
            let spinners: Vec<_> = (0..4).map(|_| spinner(&token)).collect();
            let mut took = Vec::with_capacity(200);
            for i in 0..200 {
                if i % 20 == 0 {
                    progress(format!("round {round}: sleep {i} of 200"));
                }
                let t = Instant::now();
                gort::sleep(MS);
                took.push(t.elapsed());
            }
            token.stop();
            for s in spinners {
                s.join().unwrap();
            }
            took.sort();
            let (p50, p90, max) = (percentile(&took, 50), percentile(&took, 90), took[199]);
            if p50 <= 5 * MS {
                return;
            }
            report.push(format!("p50 {p50:?} p90 {p90:?} max {max:?}"));
        }
        panic!(
            "procs={procs}: 1 ms sleeps beside 4 spinning goroutines: {}",
            report.join("; ")
        );
    });
}

#[test]
fn sleep_latency_beside_four_spinners_procs1() {
    sleep_latency_beside_spinners(1);
}

#[test]
fn sleep_latency_beside_four_spinners_procs2() {
    sleep_latency_beside_spinners(2);
}

/// One writer goroutine's write: called with the goroutine's number and the line number.
type Writer = Box<dyn FnMut(usize, u64) + Send>;

/// TestGCFairness (testprog GCFairness): goroutines that write in a loop and never call the
/// runtime must not keep a sleeping goroutine from waking. Here, 8 goroutines at procs=1 for
/// 2 s while the main goroutine loops on 50 ms sleeps: it ticks at least 25 times (of 40).
fn writers_beside_a_sleeper(writer: fn() -> Writer) {
    with_procs(1, 60, move || {
        let token = Stop::new();
        let writers: Vec<_> = (0..8)
            .map(|k| {
                let token = token.clone();
                let mut write = writer();
                gort::spawn(move || {
                    let mut n = 0u64;
                    while !token.stopped() {
                        write(k, n);
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let start = Instant::now();
        let mut ticks = 0;
        while start.elapsed() < Duration::from_secs(2) {
            gort::sleep(50 * MS);
            ticks += 1;
            progress(format!("{ticks} ticks after {:?}", start.elapsed()));
        }
        token.stop();
        let writes: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(
            ticks >= 25,
            "50 ms sleeps ticked {ticks} times in 2 s beside 8 writing goroutines \
             (writes per goroutine: {writes:?})"
        );
    });
}

/// TestGCFairness with `println!` (captured by the test harness). Each line is followed by
/// 10 µs of spinning, to bound the captured output; the writers still never call the runtime.
#[test]
fn println_hogs_do_not_starve_a_sleeper() {
    writers_beside_a_sleeper(|| {
        Box::new(|k, n| {
            println!("gort golang_proc_test writer {k} line {n}");
            spin_for(Duration::from_micros(10));
        })
    });
}

/// TestGCFairness as Go writes it: each goroutine writes to /dev/null in a loop.
#[test]
fn dev_null_writers_do_not_starve_a_sleeper() {
    writers_beside_a_sleeper(|| {
        use std::io::Write;
        let mut f = std::fs::File::create("/dev/null").unwrap();
        Box::new(move |_, _| f.write_all(b".").unwrap())
    });
}

/// TestPingPongHog at procs=1: a pair of "hog" goroutines passes the turn back and forth doing
/// 1e6 increments a turn, beside a pair of "light" ones doing 1e3; after 100 ms the counts are
/// within a factor of 20 (Go's bound), which shows that both pairs handed the processor to their
/// buddy within a time slice. Best of three rounds.
#[test]
fn ping_pong_hog() {
    with_procs(1, 60, || {
        let mut report = Vec::new();
        for _ in 0..3 {
            let (hog, light) = ping_pong_hog_round();
            const FACTOR: u64 = 20;
            if hog / FACTOR <= light && light / FACTOR <= hog {
                return;
            }
            report.push(format!("{hog}/{light} = {:.3}", hog as f64 / light as f64));
        }
        panic!(
            "want hogCount/lightCount in [1/20, 20]; got {}",
            report.join(", ")
        );
    });
}

fn ping_pong_hog_round() -> (u64, u64) {
    let (done_tx, done) = gort::chan::<bool>(0);
    let (hog_tx, hog_rx) = gort::chan::<bool>(0);
    let (light_tx, light_rx) = gort::chan::<bool>(0);
    let hog_count = Arc::new(AtomicU64::new(0));
    let light_count = Arc::new(AtomicU64::new(0));

    let run = |limit: u64, counter: Arc<AtomicU64>, wake_tx: Sender<bool>, wake: Receiver<bool>| {
        let done = done.clone();
        move || {
            loop {
                gort::select! {
                    recv(done) -> _ => return,
                    recv(wake) -> _ => {
                        let mut n = 0u64;
                        for _ in 0..limit {
                            n = black_box(n + 1);
                        }
                        counter.fetch_add(n, Relaxed);
                        wake_tx.send(true).unwrap();
                    },
                }
            }
        }
    };

    // Start two co-scheduled hog goroutines.
    for _ in 0..2 {
        gort::go(run(
            1_000_000,
            hog_count.clone(),
            hog_tx.clone(),
            hog_rx.clone(),
        ));
    }
    // Start two co-scheduled light goroutines.
    for _ in 0..2 {
        gort::go(run(
            1_000,
            light_count.clone(),
            light_tx.clone(),
            light_rx.clone(),
        ));
    }

    // Start goroutine pairs and wait for a few preemption rounds.
    hog_tx.send(true).unwrap();
    light_tx.send(true).unwrap();
    gort::sleep(100 * MS);
    let (hog, light) = (hog_count.load(Relaxed), light_count.load(Relaxed));
    done_tx.close();
    hog_rx.recv().unwrap();
    light_rx.recv().unwrap();
    (hog, light)
}

/// testPreemptionAfterSyscall: goroutines that make short blocking calls (Go: fake system
/// calls of 10 µs, 100 µs and 1 ms; here `gort::blocking` around a spin of that length) in a
/// loop do not keep the main goroutine from running: once all 8 have started, it stops them
/// and they finish, within 5 s per iteration, at procs=2.
#[test]
fn preemption_after_syscall() {
    for d in [10u64, 100, 1000] {
        let d = Duration::from_micros(d);
        with_procs(2, 300, move || {
            const N: usize = 8;
            let token = Stop::new();
            let mut times = Vec::new();
            for it in 0..scaled(10, 1) {
                progress(format!(
                    "blocking calls of {d:?}, iteration {it}, before: {times:?}"
                ));
                let (c_tx, c) = gort::chan::<bool>(N);
                let stop = Arc::new(AtomicBool::new(false));
                let start = Instant::now();
                for _ in 0..N {
                    let (c_tx, stop, token) = (c_tx.clone(), stop.clone(), token.clone());
                    gort::go(move || {
                        c_tx.send(true).unwrap();
                        while !stop.load(SeqCst) && !token.stopped() {
                            gort::blocking(|| spin_for(d));
                        }
                        c_tx.send(true).unwrap();
                    });
                }
                // wait until all goroutines have started.
                for _ in 0..N {
                    c.recv().unwrap();
                }
                stop.store(true, SeqCst);
                // wait until all goroutines have finished.
                for _ in 0..N {
                    c.recv().unwrap();
                }
                times.push(start.elapsed());
            }
            let max = times.iter().max().unwrap();
            assert!(
                *max <= Duration::from_secs(5),
                "blocking calls of {d:?}: timeout exceeded: {max:?} (5 s); every iteration: \
                 {times:?}"
            );
        });
    }
}
