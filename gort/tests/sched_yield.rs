//! `yield_now` with nothing else to run returns without a context switch. These tests check that
//! the shortcut changes nothing a program can observe: a lone yielder is not taken for a hog, and
//! timers, the network and a shrinking processor count all still get their turn. A yield with
//! company wakes an idle processor, as Go's Gosched does, so yielders spread out.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{gettid, with_procs};

/// A goroutine that yields in a loop, alone on its processor, keeps it: sysmon hands nothing
/// off (each yield starts a new slice, and nothing else waits to run).
#[test]
fn lone_yielder_is_not_a_hog() {
    with_procs(1, 30, || {
        let before = gort::runtime::stats().handoffs;
        gort::spawn(|| {
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(100) {
                gort::yield_now();
            }
        })
        .join()
        .unwrap();
        assert_eq!(
            gort::runtime::stats().handoffs,
            before,
            "a yielder's processor was handed off"
        );
    });
}

/// A yield loop on the only processor lets a sleeping goroutine wake on time.
#[test]
fn yield_loop_lets_timers_fire() {
    with_procs(1, 30, || {
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        let sleeper = gort::spawn(move || {
            gort::sleep(Duration::from_millis(5));
            w.store(true, SeqCst);
        });
        let start = Instant::now();
        let yielder = gort::spawn(move || {
            while !woke.load(SeqCst) {
                gort::yield_now();
            }
        });
        yielder.join().unwrap();
        sleeper.join().unwrap();
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "the sleeper woke after {took:?}"
        );
    });
}

/// A yield loop on the only processor lets a goroutine blocked on a socket read its data.
#[test]
fn yield_loop_lets_network_in() {
    with_procs(1, 30, || {
        let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let g = got.clone();
        let reader = gort::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            let mut b = [0u8; 4];
            c.read_exact(&mut b).unwrap();
            assert_eq!(&b, b"ping");
            g.store(true, SeqCst);
        });
        let yielder = gort::spawn(move || {
            while !got.load(SeqCst) {
                gort::yield_now();
            }
        });
        let start = Instant::now();
        let mut c = std::net::TcpStream::connect(addr).unwrap();
        c.write_all(b"ping").unwrap();
        yielder.join().unwrap();
        reader.join().unwrap();
        let took = start.elapsed();
        assert!(
            took < Duration::from_millis(500),
            "the read finished after {took:?}"
        );
    });
}

/// Two goroutines yielding in loops, each alone on one of two processors, end up on one thread
/// when the processor count drops to one: the retiring processor's yielder moves.
#[test]
fn yielders_move_off_a_retiring_processor() {
    with_procs(2, 60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let tids: Vec<Arc<AtomicI64>> = (0..2).map(|_| Arc::new(AtomicI64::new(0))).collect();
        let hs: Vec<_> = tids
            .iter()
            .map(|tid| {
                let (stop, tid) = (stop.clone(), tid.clone());
                gort::spawn(move || {
                    while !stop.load(SeqCst) {
                        tid.store(gettid(), SeqCst);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(20));
        gort::set_procs(1);
        // Both run on the one remaining processor's thread within a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let same = loop {
            std::thread::sleep(Duration::from_millis(20));
            let a = tids[0].swap(0, SeqCst);
            let b = tids[1].swap(0, SeqCst);
            std::thread::sleep(Duration::from_millis(20));
            let (a2, b2) = (tids[0].load(SeqCst), tids[1].load(SeqCst));
            if a != 0 && a == b && a2 == a && b2 == a {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
        };
        stop.store(true, SeqCst);
        for h in hs {
            h.join().unwrap();
        }
        gort::set_procs(2);
        assert!(
            same,
            "a yielder kept running on a retired processor's thread"
        );
    });
}

/// Two goroutines that yield in turn, started together on one processor while the other
/// sleeps, come to run at the same time on both (Go's Gosched wakes a processor for the
/// goroutine it queues). Without the wake-up they stayed on one processor for good in about
/// half the runs; here each of ten rounds must see them overlap after 100,000 quick yields.
#[test]
fn yielders_with_company_spread_to_an_idle_processor() {
    with_procs(2, 60, || {
        for round in 0..10 {
            // Let the second processor go idle.
            gort::sleep(Duration::from_millis(5));
            let inside = Arc::new(AtomicU32::new(0));
            let overlapped = Arc::new(AtomicBool::new(false));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (inside, overlapped) = (inside.clone(), overlapped.clone());
                    gort::spawn(move || {
                        for _ in 0..100_000 {
                            gort::yield_now();
                        }
                        let start = Instant::now();
                        while !overlapped.load(Relaxed) && start.elapsed() < Duration::from_secs(2)
                        {
                            inside.fetch_add(1, SeqCst);
                            for _ in 0..200 {
                                std::hint::spin_loop();
                            }
                            if inside.load(SeqCst) == 2 {
                                overlapped.store(true, Relaxed);
                            }
                            inside.fetch_sub(1, SeqCst);
                            gort::yield_now();
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert!(
                overlapped.load(Relaxed),
                "round {round}: the yielders never ran at once"
            );
        }
    });
}

/// A goroutine woken by a plain thread waits in the global queue; a goroutine that yields while
/// it waits there joins it at the back (Go's Gosched), so the woken one runs at the next yield.
/// Requeued locally, the yielder ran again before it on every yield until the global queue's
/// turn (every 61st slice, or after 10 ms): a median wake of several milliseconds here.
#[test]
fn a_yield_lets_a_goroutine_woken_by_a_plain_thread_run_first() {
    if gort_test_support::skip_if_emulated("it measures wake-up latency") {
        return;
    }
    with_procs(1, 60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            gort::spawn(move || {
                while !stop.load(Relaxed) {
                    let start = Instant::now();
                    while start.elapsed() < Duration::from_micros(100) {}
                    gort::yield_now();
                }
            })
        };
        let (tx, rx) = gort::chan::<Instant>(0);
        let sender = std::thread::spawn(move || {
            for _ in 0..40 {
                std::thread::sleep(Duration::from_millis(2));
                if tx.send(Instant::now()).is_err() {
                    break;
                }
            }
        });
        let mut waits: Vec<Duration> = rx.iter().map(|sent| sent.elapsed()).collect();
        stop.store(true, Relaxed);
        spinner.join().unwrap();
        gort::blocking(|| sender.join().unwrap());
        waits.sort();
        let median = waits[waits.len() / 2];
        assert!(
            median < Duration::from_millis(1),
            "woken goroutines waited {median:?} (median) behind a yielder"
        );
    });
}
