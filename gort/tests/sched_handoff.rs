//! Direct switches: a goroutine that parks or yields switches straight to the goroutine the
//! scheduler would run next, finishing the park (status, commit) or yield on the system stack in
//! between. These tests drive every branch of that path: hand-offs around a ring, commits that
//! decline (the parked goroutine must run again), strict round-robin yields, a goroutine locked
//! to its thread in `runnext` (it must stay on its thread), timers that come due at a switch (run
//! in its middle, with the goroutine they wake taken next, or with a return to the scheduler when
//! they wake none), timer callbacks that spawn there, and goroutine dumps borrowing parked
//! goroutines while hand-offs go on.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use gort_test_support::{gettid, spin_for, with_procs};

/// Passes a counter `hops` times around a ring of `n` goroutines joined by unbuffered channels;
/// returns what arrives back and how many hops each goroutine made.
fn ring(n: usize, hops: usize) -> (usize, Vec<usize>) {
    let (first_tx, mut rx) = gort::chan::<usize>(0);
    let mut nodes = Vec::new();
    for _ in 0..n - 1 {
        let (tx, next_rx) = gort::chan::<usize>(0);
        let my_rx = std::mem::replace(&mut rx, next_rx);
        nodes.push(gort::spawn(move || {
            let mut seen = 0;
            while let Some(v) = my_rx.recv() {
                seen += 1;
                if tx.send(v + 1).is_err() {
                    break;
                }
            }
            seen
        }));
    }
    let mut v = 0;
    for _ in 0..hops / n {
        first_tx.send(v + 1).unwrap();
        v = rx.recv().unwrap();
    }
    drop(first_tx);
    let seen = nodes.into_iter().map(|h| h.join().unwrap()).collect();
    (v, seen)
}

/// Every token gets around the ring, and every goroutine handles each one once.
#[test]
fn ring_hands_every_token_on() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            let (v, seen) = ring(100, 200_000);
            assert_eq!(v, 200_000, "the counter lost hops");
            assert!(seen.iter().all(|&s| s == 2_000), "uneven hops: {seen:?}");
        });
    }
}

/// A future that wakes itself during its first `left` polls and returns Pending: each time,
/// `block_on`'s park commit sees the wake and declines.
struct SelfWaking {
    left: usize,
}

impl Future for SelfWaking {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// A park whose commit declines, taken while a readied peer waits in `runnext` (so the switch is
/// direct), runs its goroutine again.
#[test]
fn declined_commit_runs_the_goroutine_again() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            let (tx, rx) = gort::chan::<usize>(0);
            let peer = gort::spawn(move || rx.iter().sum::<usize>());
            for i in 0..2_000 {
                // The peer parked in recv is readied into runnext here...
                tx.send(i).unwrap();
                // ...and each of these parks hands over to it, then declines.
                gort::block_on(SelfWaking { left: 3 });
            }
            drop(tx);
            assert_eq!(peer.join().unwrap(), (0..2_000).sum::<usize>());
        });
    }
}

/// Yielding goroutines on one processor take turns strictly: between two turns of one, each of
/// the others runs once.
#[test]
fn yields_take_strict_turns() {
    with_procs(1, 60, || {
        const N: usize = 4;
        let order = Arc::new(Mutex::new(Vec::new()));
        let hs: Vec<_> = (0..N)
            .map(|id| {
                let order = order.clone();
                gort::spawn(move || {
                    for _ in 0..1_000 {
                        order.lock().unwrap().push(id);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let order = order.lock().unwrap();
        for (i, w) in order.windows(N).enumerate() {
            let mut ids = w.to_vec();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), N, "turns out of order at {i}: {w:?}");
        }
    });
}

/// A goroutine locked to its thread, readied into `runnext` by a peer that then parks, runs on
/// its own thread every time: the direct switch leaves it to the scheduler.
#[test]
fn locked_goroutine_in_runnext_keeps_its_thread() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            let (to_locked, rx) = gort::chan::<usize>(0);
            let (tx, from_locked) = gort::chan::<usize>(0);
            let locked = gort::spawn(move || {
                gort::lock_os_thread();
                let tid = gettid();
                for v in rx.iter() {
                    assert_eq!(gettid(), tid, "the locked goroutine changed threads");
                    tx.send(v + 1).unwrap();
                }
            });
            for i in 0..500 {
                to_locked.send(i).unwrap();
                assert_eq!(from_locked.recv().unwrap(), i + 1);
            }
            drop(to_locked);
            locked.join().unwrap();
        });
    }
}

/// Starts a goroutine that answers every ping with a pong, until the ping sender is dropped.
fn ponger() -> (gort::Sender<()>, gort::Receiver<()>, gort::JoinHandle<()>) {
    let (ping_tx, ping_rx) = gort::chan::<()>(0);
    let (pong_tx, pong_rx) = gort::chan::<()>(0);
    let h = gort::spawn(move || {
        for () in ping_rx.iter() {
            if pong_tx.send(()).is_err() {
                break;
            }
        }
    });
    (ping_tx, pong_rx, h)
}

/// A sleeper wakes on time while a pair of goroutines hands a value back and forth on the only
/// processor (the timer makes each hand-off go through the scheduler, which runs it).
#[test]
fn sleeper_wakes_beside_a_ping_pong() {
    with_procs(1, 60, || {
        let woke = Arc::new(AtomicBool::new(false));
        let w = woke.clone();
        let start = Instant::now();
        let sleeper = gort::spawn(move || {
            gort::sleep(Duration::from_millis(5));
            w.store(true, SeqCst);
        });
        let (ping_tx, pong_rx, ponger) = ponger();
        while !woke.load(SeqCst) {
            ping_tx.send(()).unwrap();
            pong_rx.recv().unwrap();
        }
        let took = start.elapsed();
        drop(ping_tx);
        ponger.join().unwrap();
        sleeper.join().unwrap();
        assert!(
            took < Duration::from_millis(500),
            "the sleeper woke after {took:?}"
        );
    });
}

/// A sleep parks while another timer is due that wakes no goroutine: the switch runs that timer
/// in its middle, finds nothing to switch to and returns to the scheduler with the park done
/// (the scheduler must not process it again), which then wakes the sleeper on time.
#[test]
fn due_timer_waking_nobody_returns_to_the_scheduler() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            for _ in 0..20 {
                let t = gort::time::Timer::new(Duration::from_millis(1));
                spin_for(Duration::from_millis(2));
                let start = Instant::now();
                gort::sleep(Duration::from_millis(3));
                assert!(start.elapsed() >= Duration::from_millis(3), "woke early");
                assert!(
                    t.receiver().try_recv().is_ok(),
                    "the due timer did not fire"
                );
            }
        });
    }
}

/// Timers fired in the middle of a direct switch spawn goroutines (after_func) and wake
/// sleepers, while a ping-pong pair keeps every switch direct: all of them run, and the
/// ping-pong goes on.
#[test]
fn timers_fired_mid_switch_spawn_and_wake() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            const N: usize = 200;
            let fired = Arc::new(AtomicUsize::new(0));
            let (done_tx, done_rx) = gort::chan::<()>(N);
            let mut sleepers = Vec::new();
            for i in 0..N {
                let f = fired.clone();
                let d = done_tx.clone();
                let after = Duration::from_micros(200 + 10 * i as u64);
                gort::time::after_func(after, move || {
                    f.fetch_add(1, SeqCst);
                    d.send(()).unwrap();
                });
                sleepers.push(gort::spawn(move || {
                    let start = Instant::now();
                    gort::sleep(after);
                    start.elapsed() >= after
                }));
            }
            let (ping_tx, pong_rx, ponger) = ponger();
            let start = Instant::now();
            let mut got = 0;
            while got < N {
                ping_tx.send(()).unwrap();
                pong_rx.recv().unwrap();
                while done_rx.try_recv().is_ok() {
                    got += 1;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "{got} of {N} after_func callbacks ran"
                );
            }
            drop(ping_tx);
            ponger.join().unwrap();
            for s in sleepers {
                assert!(s.join().unwrap(), "a sleeper woke early");
            }
            assert_eq!(fired.load(SeqCst), N);
        });
    }
}

/// Goroutine dumps borrow parked goroutines (their status says so) while a ring hands tokens on
/// at two processors; both go on undisturbed.
#[test]
fn dumps_during_hand_offs() {
    with_procs(2, 60, || {
        let done = Arc::new(AtomicBool::new(false));
        let dumps = Arc::new(AtomicUsize::new(0));
        let (d, n) = (done.clone(), dumps.clone());
        let dumper = std::thread::spawn(move || {
            while !d.load(SeqCst) {
                let mut out = Vec::new();
                gort::runtime::dump(&mut out).unwrap();
                assert!(!out.is_empty());
                n.fetch_add(1, SeqCst);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) || dumps.load(SeqCst) < 3 {
            let (v, _) = ring(50, 20_000);
            assert_eq!(v, 20_000);
        }
        done.store(true, SeqCst);
        dumper.join().unwrap();
    });
}
