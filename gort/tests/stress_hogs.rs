//! Hogs: goroutines that run without calling the runtime (spin loops, `println!` loops, plain
//! blocking syscalls). Sysmon hands their processor, with its queue and timers, to another
//! thread after a time slice, so everything else keeps running at any number of hogs.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{bounded, serial, serial_go_test, spin_for};

const MS: Duration = Duration::from_millis(1);

/// Starts `n` goroutines spinning without runtime calls until `stop`.
fn spinners(n: usize, stop: &Arc<AtomicBool>) -> Vec<gort::JoinHandle<()>> {
    (0..n)
        .map(|_| {
            let stop = stop.clone();
            gort::spawn(move || {
                while !stop.load(Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect()
}

/// Median of 200 `sleep(1 ms)` with four spinners beside the sleeper; the best of three rounds
/// (the OS may deschedule the test's threads for a while on a loaded machine).
fn sleep_median_beside_spinners(procs: usize) -> Duration {
    serial_go_test(120, move || {
        gort::set_procs(procs);
        (0..3)
            .map(|_| {
                let stop = Arc::new(AtomicBool::new(false));
                let hs = spinners(4, &stop);
                let mut took: Vec<Duration> = (0..200)
                    .map(|_| {
                        let t = Instant::now();
                        gort::sleep(MS);
                        t.elapsed()
                    })
                    .collect();
                stop.store(true, Relaxed);
                for h in hs {
                    h.join().unwrap();
                }
                took.sort();
                took[took.len() / 2]
            })
            .min()
            .unwrap()
    })
}

#[test]
fn sleep_keeps_time_beside_four_spinners_procs1() {
    let p50 = sleep_median_beside_spinners(1);
    assert!(
        p50 <= 5 * MS,
        "sleep(1ms) p50 {p50:?} with 4 spinners at procs=1"
    );
}

#[test]
fn sleep_keeps_time_beside_four_spinners_procs2() {
    let p50 = sleep_median_beside_spinners(2);
    assert!(
        p50 <= 5 * MS,
        "sleep(1ms) p50 {p50:?} with 4 spinners at procs=2"
    );
}

/// Eight goroutines printing in loops at procs=1 (stdout's lock is held by whichever thread
/// prints): the main goroutine's 50 ms sleep loop keeps ticking, and every printer finishes.
#[test]
fn println_hogs_do_not_stop_a_sleeping_goroutine() {
    serial_go_test(120, || {
        gort::set_procs(1);
        let stop = Arc::new(AtomicBool::new(false));
        let printed = Arc::new(AtomicUsize::new(0));
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (stop, printed) = (stop.clone(), printed.clone());
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        println!("hog {i} line {}", printed.fetch_add(1, Relaxed));
                    }
                })
            })
            .collect();
        let start = Instant::now();
        let mut ticks = 0;
        while start.elapsed() < 2 * Duration::from_secs(1) {
            gort::sleep(50 * MS);
            ticks += 1;
        }
        stop.store(true, Relaxed);
        for h in hs {
            h.join().unwrap();
        }
        assert!(
            ticks >= 25,
            "main ticked {ticks} times in 2 s beside 8 println hogs"
        );
        assert!(printed.load(Relaxed) > 0);
    });
}

/// A plain blocking `poll(2)` in a goroutine (no `gort::blocking`) beside a spinner and a
/// yielder at procs=1: it returns on time, and never with EINTR (no signals are used).
#[test]
fn plain_blocking_syscall_beside_spinner_and_yielder() {
    serial_go_test(60, || {
        gort::set_procs(1);
        let stop = Arc::new(AtomicBool::new(false));
        let mut hs = spinners(1, &stop);
        {
            let stop = stop.clone();
            hs.push(gort::spawn(move || {
                while !stop.load(Relaxed) {
                    gort::yield_now();
                }
            }));
        }
        let poller = gort::spawn(|| {
            let mut fds = [0i32; 2];
            // SAFETY: `fds` has room for the two descriptors pipe writes.
            assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
            let mut pfd = libc::pollfd {
                fd: fds[0],
                events: libc::POLLIN,
                revents: 0,
            };
            let mut worst = Duration::ZERO;
            for _ in 0..3 {
                let t = Instant::now();
                // SAFETY: one valid pollfd.
                let r = unsafe { libc::poll(&mut pfd, 1, 200) };
                let err = std::io::Error::last_os_error();
                assert_eq!(r, 0, "poll returned {r} ({err})");
                worst = worst.max(t.elapsed());
            }
            // SAFETY: closing the pipe this goroutine opened.
            unsafe {
                libc::close(fds[0]);
                libc::close(fds[1]);
            }
            worst
        });
        let t = Instant::now();
        let worst = poller.join().unwrap();
        let total = t.elapsed();
        stop.store(true, Relaxed);
        for h in hs {
            h.join().unwrap();
        }
        assert!(worst < 200 * MS + 300 * MS, "a 200 ms poll took {worst:?}");
        assert!(total < Duration::from_secs(5), "three polls took {total:?}");
    });
}

/// Go's proc_test TestPreemption, as a hand-off: at procs=1 one goroutine spins on a flag that
/// only another goroutine sets.
#[test]
fn spinner_waiting_for_another_goroutine_completes() {
    serial_go_test(60, || {
        gort::set_procs(1);
        for _ in 0..5 {
            let flag = Arc::new(AtomicBool::new(false));
            let spinner = {
                let flag = flag.clone();
                gort::spawn(move || {
                    while !flag.load(Acquire) {
                        std::hint::spin_loop();
                    }
                })
            };
            gort::yield_now();
            let setter = gort::spawn(move || flag.store(true, Release));
            setter.join().unwrap();
            spinner.join().unwrap();
        }
    });
}

/// Blocking calls and C calls that end just as sysmon decides to retake their processor (they
/// last about one sysmon round): the returning thread takes its processor back with plain
/// stores while sysmon may be marking it, and sysmon backs off or hands the processor on (a
/// run here sees well over a thousand retakes and hundreds of back-offs). A processor left
/// marked, or handed on twice, hangs or loses goroutines. Every value is delivered exactly once
/// and every goroutine finishes, at procs 1 and 2, with yielders keeping the queues busy so
/// that sysmon retakes often. (The ordering itself is model-checked by
/// `loom_return_from_a_blocking_call_and_retake_never_share_the_p`.)
fn blocking_calls_racing_retake(procs: usize) {
    serial_go_test(120, move || {
        gort::set_procs(procs);
        let stop = Arc::new(AtomicBool::new(false));
        let yields = Arc::new(AtomicUsize::new(0));
        let yielders: Vec<_> = (0..3)
            .map(|_| {
                let (stop, yields) = (stop.clone(), yields.clone());
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        yields.fetch_add(1, Relaxed);
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let (tx, rx) = gort::chan::<u64>(16);
        const CALLERS: u64 = 6;
        const CALLS: u64 = 1500;
        for c in 0..CALLERS {
            let tx = tx.clone();
            gort::go!(move || {
                for i in 0..CALLS {
                    // 0–200 µs: around a sysmon round (20 µs asked for when busy, often
                    // several times that on a VM) and a few of them.
                    let d = Duration::from_micros((i * 7 + c * 13) % 201);
                    if i % 2 == 0 {
                        gort::blocking(|| spin_for(d));
                    } else {
                        gort::ffi::call(|| spin_for(d));
                    }
                    tx.send(c * CALLS + i).unwrap();
                }
            });
        }
        drop(tx);
        let mut seen = vec![false; (CALLERS * CALLS) as usize];
        while let Some(v) = rx.recv() {
            assert!(!std::mem::replace(&mut seen[v as usize], true), "{v} twice");
        }
        assert!(seen.iter().all(|&s| s), "a value was lost");
        stop.store(true, Relaxed);
        for y in yielders {
            y.join().unwrap();
        }
        assert!(yields.load(Relaxed) > 0);
    });
}

#[test]
fn blocking_calls_racing_retake_procs1() {
    blocking_calls_racing_retake(1);
}

#[test]
fn blocking_calls_racing_retake_procs2() {
    blocking_calls_racing_retake(2);
}

/// A goroutine that turns into a hog right after a long idle stretch (sysmon asleep until a
/// second from now) is still handed off within a few slices: taking the idle processor woke
/// sysmon. A sleeper beside the hog at procs 1 measures it.
#[test]
fn hog_after_a_long_idle_is_still_seen() {
    let _serial = serial();
    bounded(60, || {
        gort::set_procs(1);
        let mut worst = Duration::ZERO;
        for _ in 0..3 {
            // Idle long enough for sysmon's deep sleep.
            std::thread::sleep(Duration::from_millis(300));
            let stop = Arc::new(AtomicBool::new(false));
            let s = stop.clone();
            let hog = gort::spawn(move || {
                while !s.load(Relaxed) {
                    std::hint::spin_loop();
                }
            });
            let started = Instant::now();
            let slept = Arc::new(AtomicBool::new(false));
            let s = slept.clone();
            gort::spawn(move || {
                gort::sleep(Duration::from_millis(1));
                s.store(true, Relaxed);
            });
            // Polled, not joined: a thread parked in `join` would wake sysmon itself.
            while !slept.load(Relaxed) {
                std::thread::sleep(Duration::from_millis(1));
            }
            worst = worst.max(started.elapsed());
            stop.store(true, Relaxed);
            hog.join().unwrap();
        }
        assert!(
            worst < Duration::from_millis(300),
            "a 1 ms sleep beside a hog took {worst:?} after the runtime idled"
        );
    });
}
