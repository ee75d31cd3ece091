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

mod preemption;
mod scheduling;

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
