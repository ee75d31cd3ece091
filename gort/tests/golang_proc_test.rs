//! The scheduler tests of Go's `src/runtime/proc_test.go`, translated to gort where they map
//! onto its API.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each test names the Go test it comes from.
//!
//! Differences from Go: gort has no asynchronous preemption (unsound in Rust) and no garbage
//! collector. Go's preemption tests (a goroutine spinning in calls that never reach the runtime,
//! `runtime.GC()` waiting for every goroutine to stop) become tests of gort's hand-off: a
//! goroutine that never calls the runtime must not stop the others from running, sleeping and
//! being woken by timers (sysmon flags such a goroutine and lends a processor past it;
//! ARCHITECTURE.md "Hogs"). `runtime.GC()` is replaced by a runtime call that needs a processor
//! (a spawn and join, a sleep). Tests of runtime internals (TestSchedLocalQueue*, TestStealOrder)
//! become black-box tests of what those internals are for. Iteration counts follow Go's
//! `testing.Short()` values in debug builds.
//!
//! Every test fixes the number of processors, so the tests of this file run one at a time.
//! Goroutines that spin stop when their test ends, even when it failed on its time bound.

use gort_test_support::{
    EPOCH, eventually, gettid, perpetuum_mobile, progress, scaled, spin_for, with_procs,
};

use std::collections::HashSet;
use std::hint::{black_box, spin_loop};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::{Receiver, Sender};

const MS: Duration = Duration::from_millis(1);

/// A stop flag for spinning goroutines, also raised when the test that made it ends.
#[derive(Clone)]
struct Stop {
    flag: Arc<AtomicBool>,
    epoch: usize,
}

impl Stop {
    fn new() -> Stop {
        Stop {
            flag: Arc::new(AtomicBool::new(false)),
            epoch: EPOCH.load(SeqCst),
        }
    }

    fn stop(&self) {
        self.flag.store(true, SeqCst);
    }

    fn stopped(&self) -> bool {
        self.flag.load(Relaxed) || EPOCH.load(Relaxed) != self.epoch
    }
}

/// Go's `preempt`: a call that does some work and never reaches the runtime.
#[inline(never)]
fn preempt() -> i64 {
    let a = black_box([0i64; 128]);
    a.iter().sum()
}

/// A goroutine that spins without calling the runtime until `stop`; counts its iterations.
fn spinner(stop: &Stop) -> gort::JoinHandle<u64> {
    let stop = stop.clone();
    gort::spawn(move || {
        let mut n = 0u64;
        while !stop.stopped() {
            n = black_box(n + preempt() as u64 + 1);
        }
        n
    })
}

fn percentile(sorted: &[Duration], pct: usize) -> Duration {
    sorted[(sorted.len() * pct / 100).min(sorted.len() - 1)]
}

// ---- GOMAXPROCS ----

/// TestStopTheWorldDeadlock: GOMAXPROCS is set 1000 times while another goroutine runs a
/// runtime-wide operation 1000 times (Go: runtime.GC; here: runtime::stats and a spawn and
/// join) and a spawn chain runs.
#[test]
fn stop_the_world_deadlock() {
    with_procs(3, 60, || {
        let token = Stop::new();
        let (compl_tx, compl) = gort::chan::<bool>(2);
        let c = compl_tx.clone();
        gort::go(move || {
            for i in 0..1000 {
                black_box(gort::runtime::stats());
                gort::spawn(|| ()).join().unwrap();
                if i % 100 == 0 {
                    progress(format!("stats loop at {i}"));
                }
            }
            c.send(true).unwrap();
        });
        gort::go(move || {
            for _ in 0..1000 {
                gort::set_procs(3);
            }
            compl_tx.send(true).unwrap();
        });
        let (stop_tx, stop) = gort::chan::<bool>(1);
        let t = token.clone();
        gort::go(move || perpetuum_mobile(stop, move || t.stopped()));
        compl.recv().unwrap();
        compl.recv().unwrap();
        stop_tx.send(true).unwrap();
        token.stop();
    });
}

/// TestStopTheWorldDeadlock with the number of processors actually changing: a goroutine
/// toggles `set_procs` through 3, 1, 2, 4 while others yield, spawn and join, and a spawn chain
/// runs. Everything finishes and the last setting holds.
#[test]
fn set_procs_races_with_spawning_and_yielding_goroutines() {
    with_procs(3, 60, || {
        let token = Stop::new();
        let toggles = scaled(1000, 200);
        let toggler = gort::spawn(move || {
            for i in 0..toggles {
                gort::set_procs([3, 1, 2, 4][i % 4]);
                if i % 8 == 0 {
                    gort::yield_now();
                }
            }
        });
        let (stop_tx, stop) = gort::chan::<bool>(0);
        for _ in 0..2 {
            let (stop, t) = (stop.clone(), token.clone());
            gort::go(move || perpetuum_mobile(stop, move || t.stopped()));
        }
        let done = Arc::new(AtomicUsize::new(0));
        let workers: Vec<_> = (0..8)
            .map(|k| {
                let done = done.clone();
                gort::spawn(move || {
                    for i in 0..scaled(2000, 300) {
                        if (i + k) % 10 == 0 {
                            gort::spawn(gort::yield_now).join().unwrap();
                        } else {
                            gort::yield_now();
                        }
                    }
                    done.fetch_add(1, SeqCst);
                })
            })
            .collect();
        toggler.join().unwrap();
        progress("toggler done");
        for w in workers {
            w.join().unwrap();
        }
        assert_eq!(done.load(SeqCst), 8);
        drop(stop_tx); // closes `stop`: every chain ends
        token.stop();
        assert_eq!(gort::set_procs(2), 4, "the last set_procs did not hold");
        assert_eq!(gort::procs(), 2);
        eventually("stats().procs == 2", || gort::runtime::stats().procs == 2);
    });
}

/// One round of TestGoroutineParallelism: `p` goroutines take turns on `x` by spinning (no
/// runtime call), which only finishes if all of them run at the same time.
fn parallelism_round(p: usize, token: &Stop) {
    let x = Arc::new(AtomicUsize::new(0));
    let (done_tx, done) = gort::chan::<bool>(0);
    for pi in 0..p {
        let (x, done_tx, token) = (x.clone(), done_tx.clone(), token.clone());
        gort::go(move || {
            for i in 0..3 {
                let expected = p * i + pi;
                while x.load(SeqCst) != expected {
                    if token.stopped() {
                        return;
                    }
                    spin_loop();
                }
                x.store(expected + 1, SeqCst);
            }
            done_tx.send(true).unwrap();
        });
    }
    for _ in 0..p {
        done.recv().unwrap();
    }
}

/// TestGoroutineParallelism: with GOMAXPROCS = P, P goroutines are scheduled at the same time.
#[test]
fn goroutine_parallelism() {
    const P: usize = 4;
    with_procs(P, 60, || {
        let token = Stop::new();
        for t in 0..scaled(10, 3) {
            progress(format!("try {t}"));
            parallelism_round(P, &token);
        }
    });
}

/// TestGoroutineParallelism with GOMAXPROCS changing under it: a plain thread toggles the
/// number of processors between 4 and 6 (never fewer than the 4 goroutines that must run at
/// once) while the rounds run; then it is toggled 1 <-> 8 and set back to 4, and the rounds run
/// again.
#[test]
fn goroutine_parallelism_while_set_procs_changes() {
    const P: usize = 4;
    with_procs(P, 120, || {
        let token = Stop::new();
        let toggler = {
            let token = token.clone();
            std::thread::spawn(move || {
                let mut n = 0usize;
                let mut six = true;
                while !token.stopped() {
                    gort::set_procs(if six { 6 } else { 4 });
                    six = !six;
                    n += 1;
                    std::thread::sleep(Duration::from_micros(500));
                }
                gort::set_procs(P);
                n
            })
        };
        for t in 0..scaled(20, 5) {
            progress(format!("round {t} while toggling 4 <-> 6"));
            parallelism_round(P, &token);
        }
        token.stop();
        let toggles = gort::blocking(|| toggler.join().unwrap());
        assert!(toggles > 0);
        for n in [1, 8, 1, 3, 8, 2] {
            gort::set_procs(n);
            gort::yield_now();
        }
        gort::set_procs(P);
        let token = Stop::new();
        for t in 0..scaled(10, 3) {
            progress(format!("round {t} after toggling 1 <-> 8"));
            parallelism_round(P, &token);
        }
        token.stop();
    });
}

/// TestGoroutineParallelism2: the same, with the goroutines started in a nested fashion, after
/// a load phase (P goroutines that all run at once, so their threads then go idle) and with
/// the network poller in use.
#[test]
fn goroutine_parallelism2() {
    const P: usize = 4;
    for (load, netpoll) in [(true, false), (false, true), (true, true)] {
        with_procs(P, 60, move || {
            let token = Stop::new();
            let mut listeners = Vec::new();
            for t in 0..scaled(10, 3) {
                progress(format!("load={load} netpoll={netpoll} try {t}"));
                if load {
                    // Create P goroutines and wait until they all run. When we run the actual
                    // test below, the threads running the goroutines will start parking.
                    let (done_tx, done) = gort::chan::<bool>(0);
                    let x = Arc::new(AtomicUsize::new(0));
                    for _ in 0..P {
                        let (x, done_tx, token) = (x.clone(), done_tx.clone(), token.clone());
                        gort::go(move || {
                            if x.fetch_add(1, SeqCst) + 1 == P {
                                done_tx.send(true).unwrap();
                                return;
                            }
                            while x.load(SeqCst) != P && !token.stopped() {
                                spin_loop();
                            }
                        });
                    }
                    done.recv().unwrap();
                }
                if netpoll {
                    // Enable the network poller: it affects scheduler behaviour.
                    if let Ok(ln) = gort::net::TcpListener::bind("127.0.0.1:0") {
                        listeners.push(ln);
                    }
                }
                let (done_tx, done) = gort::chan::<bool>(0);
                let x = Arc::new(AtomicUsize::new(0));
                // Spawn P goroutines in a nested fashion just to differ from
                // TestGoroutineParallelism.
                for p in 0..P / 2 {
                    let (x, done_tx, token) = (x.clone(), done_tx.clone(), token.clone());
                    gort::go(move || {
                        for p2 in 0..2 {
                            let (x, done_tx, token) = (x.clone(), done_tx.clone(), token.clone());
                            gort::go(move || {
                                for i in 0..3 {
                                    let expected = P * i + p * 2 + p2;
                                    while x.load(SeqCst) != expected {
                                        if token.stopped() {
                                            return;
                                        }
                                        spin_loop();
                                    }
                                    x.store(expected + 1, SeqCst);
                                }
                                done_tx.send(true).unwrap();
                            });
                        }
                    });
                }
                for _ in 0..P {
                    done.recv().unwrap();
                }
            }
        });
    }
}

// ---- yielding and locked goroutines ----

/// testYieldProgress: a goroutine that yields in a loop (doing a non-blocking receive each
/// time) lets the main goroutine's sleep end and its send through.
fn yield_progress(locked: bool) {
    let (c_tx, c) = gort::chan::<bool>(0);
    let (cack_tx, cack) = gort::chan::<bool>(0);
    gort::go(move || {
        if locked {
            gort::lock_os_thread();
        }
        loop {
            gort::select! {
                recv(c) -> _ => {
                    cack_tx.send(true).unwrap();
                    return;
                },
                default => gort::yield_now(),
            }
        }
    });
    gort::sleep(10 * MS);
    c_tx.send(true).unwrap();
    cack.recv().unwrap();
}

/// TestYieldProgress, at procs 1 and 2.
#[test]
fn yield_progress_unlocked() {
    for procs in [1, 2] {
        with_procs(procs, 30, || yield_progress(false));
    }
}

/// TestYieldLockedProgress, at procs 1 and 2.
#[test]
fn yield_locked_progress() {
    for procs in [1, 2] {
        with_procs(procs, 30, || yield_progress(true));
    }
}

/// TestYieldLocked: a locked goroutine yields and sleeps, then exits still locked
/// (`unlock_os_thread` is deliberately omitted); at procs 1 and 2.
#[test]
fn yield_locked() {
    for procs in [1, 2] {
        with_procs(procs, 30, || {
            const N: usize = 10;
            let (c_tx, c) = gort::chan::<bool>(0);
            gort::go(move || {
                gort::lock_os_thread();
                let tid = gettid();
                for _ in 0..N {
                    gort::yield_now();
                    gort::sleep(MS);
                    assert_eq!(gettid(), tid, "a locked goroutine changed threads");
                }
                c_tx.send(true).unwrap();
                // gort::unlock_os_thread() is deliberately omitted
            });
            c.recv().unwrap();
            // The runtime goes on after a goroutine exited locked.
            let h: Vec<_> = (0..10).map(|i| gort::spawn(move || i * 2)).collect();
            let sum: i32 = h.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(sum, 90);
            gort::sleep(MS);
        });
    }
}

/// TestBlockLocked: a locked goroutine blocks in unbuffered sends; at procs 1 and 2.
#[test]
fn block_locked() {
    for procs in [1, 2] {
        with_procs(procs, 30, || {
            const N: usize = 10;
            let (c_tx, c) = gort::chan::<bool>(0);
            gort::go(move || {
                gort::lock_os_thread();
                for _ in 0..N {
                    c_tx.send(true).unwrap();
                }
                gort::unlock_os_thread();
            });
            for _ in 0..N {
                c.recv().unwrap();
            }
        });
    }
}

/// TestLockOSThreadNesting: lock_os_thread calls nest; after two locks and one unlock the
/// goroutine is still locked (it stays on its thread while others compete at procs=2).
#[test]
fn lock_os_thread_nesting() {
    with_procs(2, 30, || {
        let token = Stop::new();
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let token = token.clone();
                gort::spawn(move || {
                    while !token.stopped() {
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let h = gort::spawn(|| {
            gort::lock_os_thread();
            gort::lock_os_thread();
            gort::unlock_os_thread();
            let tid = gettid();
            for i in 0..200 {
                if i % 2 == 0 {
                    gort::yield_now();
                } else {
                    gort::sleep(Duration::from_micros(100));
                }
                assert_eq!(gettid(), tid, "still locked after 2 locks and 1 unlock");
            }
            gort::unlock_os_thread();
        });
        h.join().unwrap();
        token.stop();
        for b in busy {
            b.join().unwrap();
        }
    });
}

// ---- timers beside busy goroutines ----

/// TestTimerFairness: two goroutines send on `c` as fast as the main goroutine receives; the
/// main goroutine's 20 ms timer must still be chosen. At procs 1 and 2.
#[test]
fn timer_fairness() {
    for procs in [1, 2] {
        with_procs(procs, 30, move || {
            let (done_tx, done) = gort::chan::<bool>(0);
            let (c_tx, c) = gort::chan::<bool>(0);
            for _ in 0..2 {
                let (c_tx, done) = (c_tx.clone(), done.clone());
                gort::go(move || {
                    loop {
                        gort::select! {
                            send(c_tx, true) -> _ => {},
                            recv(done) -> _ => return,
                        }
                    }
                });
            }
            let start = Instant::now();
            let timer = gort::after(20 * MS);
            let mut received = 0u64;
            loop {
                gort::select! {
                    recv(c) -> _ => received += 1,
                    recv(timer) -> _ => {
                        done_tx.close();
                        break;
                    },
                }
            }
            let took = start.elapsed();
            assert!(
                took < Duration::from_secs(2),
                "procs={procs}: a 20 ms timer took {took:?} to win ({received} values received)"
            );
        });
    }
}

/// TestTimerFairness2: two goroutines each make a (zero-length) system call and then select
/// over sending on, and receiving from, one shared unbuffered channel, and their own 20 ms
/// timer. Both timers must win. At procs 1 and 2.
#[test]
fn timer_fairness2() {
    for procs in [1, 2] {
        with_procs(procs, 30, move || {
            let (done_tx, done) = gort::chan::<bool>(0);
            let (c_tx, c) = gort::chan::<bool>(0);
            let start = Instant::now();
            for _ in 0..2 {
                let (c_tx, c, done_tx) = (c_tx.clone(), c.clone(), done_tx.clone());
                gort::go(move || {
                    let timer = gort::after(20 * MS);
                    let mut buf = [0u8; 1];
                    loop {
                        // SAFETY: a zero-length read into a valid buffer.
                        unsafe { libc::read(0, buf.as_mut_ptr().cast(), 0) };
                        gort::select! {
                            send(c_tx, true) -> _ => {},
                            recv(c) -> _ => {},
                            recv(timer) -> _ => {
                                done_tx.send(true).unwrap();
                                return;
                            },
                        }
                    }
                });
            }
            done.recv().unwrap();
            done.recv().unwrap();
            let took = start.elapsed();
            assert!(
                took < Duration::from_secs(2),
                "procs={procs}: 20 ms timers took {took:?} to win"
            );
        });
    }
}

// ---- preemption, as hand-off past goroutines that never call the runtime ----

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

// ---- spawn chains ----

/// perpetuumMobile (TestStopTheWorldDeadlock) as a fairness test: at procs=1, with two spawn
/// chains running and a plain thread toggling `set_procs` 3 <-> 1, a goroutine that spawns a
/// yielding child and joins it, 1000 times, finishes.
#[test]
fn spawn_join_loop_finishes_beside_spawn_chains() {
    with_procs(1, 60, || {
        let token = Stop::new();
        let (stop_tx, stop) = gort::chan::<bool>(0);
        for _ in 0..2 {
            let (stop, t) = (stop.clone(), token.clone());
            gort::go(move || perpetuum_mobile(stop, move || t.stopped()));
        }
        let toggler = {
            let token = token.clone();
            std::thread::spawn(move || {
                while !token.stopped() {
                    gort::set_procs(3);
                    std::thread::sleep(MS);
                    gort::set_procs(1);
                    std::thread::sleep(MS);
                }
                gort::set_procs(1);
            })
        };
        let joins = scaled(1000, 200);
        let start = Instant::now();
        let worker = gort::spawn(move || {
            for i in 0..joins {
                gort::spawn(gort::yield_now).join().unwrap();
                if i % 50 == 0 {
                    progress(format!("spawn+join {i} of {joins}"));
                }
            }
        });
        worker.join().unwrap();
        let took = start.elapsed();
        drop(stop_tx);
        token.stop();
        gort::blocking(|| toggler.join().unwrap());
        assert!(
            took < Duration::from_secs(10),
            "{joins} spawn+join took {took:?} beside 2 spawn chains"
        );
    });
}

/// perpetuumMobile as a latency test: at procs=1 with two spawn chains running, a goroutine
/// that yields in a loop for 1 s never waits more than 50 ms between two of its turns, and a
/// goroutine sleeping 1 ms in a loop never wakes more than 50 ms late. Best of three rounds.
#[test]
fn yield_and_sleep_gaps_beside_spawn_chains() {
    with_procs(1, 60, || {
        let mut report = Vec::new();
        for round in 0..3 {
            progress(format!("round {round}"));
            let token = Stop::new();
            let (stop_tx, stop) = gort::chan::<bool>(0);
            for _ in 0..2 {
                let (stop, t) = (stop.clone(), token.clone());
                gort::go(move || perpetuum_mobile(stop, move || t.stopped()));
            }
            let sleeper = {
                let token = token.clone();
                gort::spawn(move || {
                    let mut worst = Duration::ZERO;
                    let mut n = 0;
                    while !token.stopped() {
                        let t = Instant::now();
                        gort::sleep(MS);
                        worst = worst.max(t.elapsed().saturating_sub(MS));
                        n += 1;
                    }
                    (worst, n)
                })
            };
            let yielder = gort::spawn(|| {
                let start = Instant::now();
                let mut last = start;
                let mut worst = Duration::ZERO;
                let mut n = 0u64;
                while start.elapsed() < Duration::from_secs(1) {
                    gort::yield_now();
                    let now = Instant::now();
                    worst = worst.max(now - last);
                    last = now;
                    n += 1;
                }
                (worst, n)
            });
            let (yield_gap, yields) = yielder.join().unwrap();
            token.stop();
            drop(stop_tx);
            let (sleep_late, sleeps) = sleeper.join().unwrap();
            // Debug builds run the chains' runtime code many times slower; the bound the issue
            // sets (a few 10 ms slices) is checked in release.
            let bound = scaled(50, 200) as u32 * MS;
            if yield_gap <= bound && sleep_late <= bound {
                return;
            }
            report.push(format!(
                "longest wait between yields {yield_gap:?} ({yields} yields), \
                 latest wake-up from 1 ms sleep {sleep_late:?} ({sleeps} sleeps)"
            ));
        }
        panic!("beside 2 spawn chains at procs=1: {}", report.join("; "));
    });
}

// ---- run queues ----

/// TestSchedLocalQueue, black-box: at procs=1 one goroutine starts 1000 goroutines without
/// yielding (more than a local run queue holds); every one of them runs exactly once.
#[test]
fn sched_local_queue_overflow() {
    with_procs(1, 30, || {
        for n in [1usize, 255, 256, 257, 1000, 5000] {
            let ran: Arc<Vec<AtomicU32>> = Arc::new((0..n).map(|_| AtomicU32::new(0)).collect());
            let wg = gort::sync::WaitGroup::new();
            wg.add(n);
            for i in 0..n {
                let (ran, wg) = (ran.clone(), wg.clone());
                gort::go(move || {
                    ran[i].fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            wg.wait();
            let wrong: Vec<usize> = (0..n).filter(|&i| ran[i].load(SeqCst) != 1).collect();
            assert!(
                wrong.is_empty(),
                "{n} goroutines: these did not run exactly once: {wrong:?}"
            );
        }
    });
}

/// TestSchedLocalQueueSteal, black-box: at procs=2, goroutines started by one goroutine (all in
/// its processor's local queue) are stolen by the other processor: they run on two threads.
/// Best of three rounds.
#[test]
fn sched_local_queue_steal() {
    with_procs(2, 30, || {
        let mut seen = 0;
        for _ in 0..3 {
            let tids = Arc::new(Mutex::new(HashSet::new()));
            let hs: Vec<_> = (0..200)
                .map(|_| {
                    let tids = tids.clone();
                    gort::spawn(move || {
                        spin_for(Duration::from_micros(500));
                        tids.lock().unwrap().insert(gettid());
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            seen = tids.lock().unwrap().len();
            if seen >= 2 {
                return;
            }
        }
        panic!("200 goroutines of 0.5 ms ran on {seen} thread(s) at procs=2");
    });
}

/// TestSchedLocalQueueEmpty, black-box: "runnable goroutines and idle processors must not
/// coexist for arbitrarily long". At procs=2, a goroutine starts another and spins (no runtime
/// call) until that one has run: the idle processor must pick it up at once, not after a
/// sysmon hand-off. The median wait over 1000 tries is at most 10 ms. (On this VM some runs
/// settle into a mode where every pick-up takes about 3.5 ms, with the runtime before the
/// stress fixes too; Go's test only bounds the whole run. Well under a 10 ms slice either way.)
#[test]
fn sched_local_queue_empty() {
    with_procs(2, 60, || {
        let token = Stop::new();
        let iters = scaled(1000, 100);
        let mut waits = Vec::with_capacity(iters);
        for i in 0..iters {
            if i % 100 == 0 {
                progress(format!("try {i}"));
            }
            let ran = Arc::new(AtomicBool::new(false));
            let r = ran.clone();
            let start = Instant::now();
            gort::go(move || r.store(true, SeqCst));
            while !ran.load(SeqCst) && !token.stopped() {
                spin_loop();
            }
            waits.push(start.elapsed());
            // Let the other processor go idle again.
            gort::sleep(Duration::from_micros(50));
        }
        waits.sort();
        let (p50, p90, max) = (
            percentile(&waits, 50),
            percentile(&waits, 90),
            waits[iters - 1],
        );
        assert!(
            p50 <= 10 * MS,
            "a runnable goroutine waited beside an idle processor: p50 {p50:?} p90 {p90:?} \
             max {max:?}"
        );
    });
}
