//! Fairness under patterns that hand the time slice on: spawn chains (Go's proc_test
//! perpetuumMobile) and runnext hand-offs must not starve the goroutines queued behind them.
//! A slice that inherits runnext inherits its age; once it has run out, the scheduler serves the
//! global queue and the head of the local queue before the chain goes on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{bounded, perpetuum_mobile, serial, with_procs};

/// At procs=1 with spawn chains running and `set_procs` toggling 3 <-> 1, a goroutine that
/// spawns and joins a yielding child in a loop finishes, and a yielding goroutine is never kept
/// waiting for more than a few time slices.
#[test]
fn spawn_chains_do_not_starve_spawner_or_yielder() {
    let _serial = serial();
    bounded(120, || {
        gort::run(|| {
            gort::set_procs(1);
            let stop = Arc::new(AtomicBool::new(false));
            let (_stop_tx, stop_rx) = gort::chan::<()>(0);
            for _ in 0..3 {
                let (stop, stop_rx) = (stop.clone(), stop_rx.clone());
                gort::go!(move || perpetuum_mobile(stop_rx, move || stop.load(Relaxed)));
            }
            let toggler = {
                let stop = stop.clone();
                gort::spawn(move || {
                    let mut n = 1;
                    while !stop.load(Relaxed) {
                        n = if n == 1 { 3 } else { 1 };
                        gort::set_procs(n);
                        gort::sleep(Duration::from_millis(2));
                    }
                    gort::set_procs(1);
                })
            };
            let max_gap = Arc::new(AtomicU64::new(0));
            let yielder = {
                let (stop, max_gap) = (stop.clone(), max_gap.clone());
                gort::spawn(move || {
                    let mut last = Instant::now();
                    while !stop.load(Relaxed) {
                        gort::yield_now();
                        let now = Instant::now();
                        max_gap.fetch_max((now - last).as_micros() as u64, Relaxed);
                        last = now;
                    }
                })
            };
            let start = Instant::now();
            for _ in 0..300 {
                gort::spawn(gort::yield_now).join().unwrap();
            }
            let took = start.elapsed();
            stop.store(true, Relaxed);
            toggler.join().unwrap();
            yielder.join().unwrap();
            let gap = Duration::from_micros(max_gap.load(Relaxed));
            assert!(
                took < Duration::from_secs(60),
                "300 spawn+join took {took:?}"
            );
            assert!(
                gap < Duration::from_millis(150),
                "a yielding goroutine waited {gap:?} behind spawn chains"
            );
        })
    });
}

/// Two goroutines that never park (each `select!` finds the one-slot buffer ready to send to or
/// receive from) take turns being preempted to the global queue at procs=1. Expired slices
/// alternate between the global and the local queue, and a goroutine woken into runnext is
/// queued behind, so a sleeper still wakes within a few slices.
#[test]
fn preempted_goroutines_do_not_starve_the_local_queue() {
    let _serial = serial();
    bounded(60, || {
        gort::run(|| {
            gort::set_procs(1);
            let (tx, rx) = gort::chan::<u64>(1);
            let end = Arc::new(AtomicBool::new(false));
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (tx, rx, end) = (tx.clone(), rx.clone(), end.clone());
                    gort::spawn(move || {
                        while !end.load(Relaxed) {
                            gort::select! {
                                send(tx, 1) -> _ => {},
                                recv(rx) -> _ => {},
                            }
                        }
                    })
                })
                .collect();
            let mut worst = Duration::ZERO;
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_millis(500) {
                let t = Instant::now();
                gort::sleep(Duration::from_millis(1));
                worst = worst.max(t.elapsed());
            }
            end.store(true, Relaxed);
            for h in hs {
                h.join().unwrap();
            }
            assert!(
                worst < Duration::from_millis(100),
                "sleep(1ms) took {worst:?} beside two never-parking selects"
            );
        })
    });
}

/// Goroutines preempted at the moment their processor retires (`set_procs` shrinking) are not
/// lost: each of several never-parking goroutines keeps running while the processor count
/// toggles, and all of them finish.
#[test]
fn preempted_goroutines_survive_set_procs() {
    let _serial = serial();
    bounded(120, || {
        gort::run(|| {
            gort::set_procs(4);
            let stop = Arc::new(AtomicBool::new(false));
            let counts: Vec<Arc<AtomicU64>> = (0..4).map(|_| Arc::new(AtomicU64::new(0))).collect();
            let hs: Vec<_> = counts
                .iter()
                .map(|n| {
                    let (tx, rx) = gort::chan::<u64>(1);
                    let (stop, n) = (stop.clone(), n.clone());
                    gort::spawn(move || {
                        while !stop.load(Relaxed) {
                            gort::select! {
                                send(tx, 1) -> _ => {},
                                recv(rx) -> _ => {},
                            }
                            n.fetch_add(1, Relaxed);
                        }
                    })
                })
                .collect();
            for round in 0..10 {
                let before: Vec<u64> = counts.iter().map(|n| n.load(Relaxed)).collect();
                let t0 = Instant::now();
                let mut k = 0;
                while t0.elapsed() < Duration::from_millis(150) {
                    gort::set_procs(if k % 2 == 0 { 1 } else { 4 });
                    k += 1;
                    gort::sleep(Duration::from_millis(2));
                }
                // Back at 4 processors, each goroutine can have one: any that stays still now
                // was lost, not merely outrun while processors came and went.
                gort::set_procs(4);
                gort::sleep(Duration::from_millis(300));
                for (i, n) in counts.iter().enumerate() {
                    assert!(
                        n.load(Relaxed) > before[i],
                        "round {round}: goroutine {i} made no progress (lost?)"
                    );
                }
            }
            stop.store(true, Relaxed);
            for h in hs {
                h.join().unwrap();
            }
        })
    });
}

/// At procs=1, beside goroutines that each compute for 2 ms and yield (so a new slice starts
/// every 2 ms and none runs out), a goroutine woken by a plain OS thread (queued globally: the
/// thread has no processor) runs within about a slice. Go's every-61st-slice rule alone kept
/// it queued for 61 slices (about 120 ms here); a wake-up that has waited a full slice now goes
/// first (about 12 ms; the bound leaves room for a loaded machine).
#[test]
fn a_goroutine_woken_off_processor_is_not_kept_behind_short_slices() {
    with_procs(1, 60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let mut workers = Vec::new();
        for _ in 0..2 {
            let stop = stop.clone();
            workers.push(gort::spawn(move || {
                while !stop.load(Relaxed) {
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_millis(2) {
                        std::hint::spin_loop();
                    }
                    gort::yield_now();
                }
            }));
        }
        let (tx, rx) = gort::chan::<Instant>(0);
        let waker = std::thread::spawn(move || {
            for _ in 0..100 {
                std::thread::sleep(Duration::from_millis(3));
                if tx.send(Instant::now()).is_err() {
                    break;
                }
            }
        });
        let mut worst = Duration::ZERO;
        for sent in rx.iter() {
            worst = worst.max(sent.elapsed());
        }
        waker.join().unwrap();
        stop.store(true, Relaxed);
        for w in workers {
            w.join().unwrap();
        }
        assert!(
            worst < Duration::from_millis(50),
            "a goroutine woken by a plain thread waited {worst:?} to run beside \
                 goroutines yielding every 2 ms"
        );
    });
}
