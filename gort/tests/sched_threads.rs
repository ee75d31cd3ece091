//! Threads come and go: a burst of 2,000 concurrent blocking calls starts hundreds of threads
//! (each call keeps its own while its processor moves on), and after the burst the idle ones
//! beyond a small reserve exit after ten seconds, so the count returns near its baseline; a
//! second burst reuses the released Ms; `runtime::stats()` reports the count and the peak. A
//! goroutine that exits while locked to its thread ends the thread, as in Go.

use std::time::{Duration, Instant};

use gort_test_support::{eventually, gettid, with_procs};

#[test]
fn idle_threads_are_released_after_a_burst() {
    with_procs(2, 120, || {
        let before = gort::runtime::stats();
        let hs: Vec<_> = (0..2000)
            .map(|_| {
                gort::spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(100))))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let peak = gort::runtime::stats().threads_peak;
        assert!(
            peak >= before.threads + 50,
            "the burst should have needed many threads: peak {peak}, baseline {}",
            before.threads
        );
        let t = Instant::now();
        let near = before.threads + 6;
        loop {
            let now = gort::runtime::stats().threads;
            if now <= near {
                eprintln!(
                    "threads: {} before, peak {peak}, {now} after {:?}",
                    before.threads,
                    t.elapsed()
                );
                break;
            }
            assert!(
                t.elapsed() < Duration::from_secs(40),
                "{now} threads 40 s after the burst (baseline {}, peak {peak})",
                before.threads
            );
            gort::sleep(Duration::from_millis(200));
        }
        // A second burst runs on released Ms given new threads.
        let hs: Vec<_> = (0..500)
            .map(|_| {
                gort::spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(50))))
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // The runtime still works.
        let hs: Vec<_> = (0..100).map(|i| gort::spawn(move || i * 2)).collect();
        assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 9900);
        assert!(gort::runtime::stats().threads_peak >= peak);
    });
}

/// Go's goexit0: a goroutine that exits still locked to its thread (here locked twice and
/// unlocked once) may have changed the thread's state, so the thread ends with it. No later
/// goroutine runs there, the thread leaves the process, and the runtime carries on. A goroutine
/// that unlocked before exiting leaves its thread in service.
#[test]
fn a_goroutine_that_exits_locked_ends_its_thread() {
    for procs in [1, 2] {
        with_procs(procs, 60, || {
            for _ in 0..3 {
                let tid = gort::spawn(|| {
                    gort::lock_os_thread();
                    gort::lock_os_thread();
                    gort::unlock_os_thread();
                    gort::sleep(Duration::from_millis(2));
                    gettid()
                })
                .join()
                .unwrap();
                let later: Vec<i64> = (0..20)
                    .map(|_| {
                        gort::spawn(|| {
                            gort::yield_now();
                            gettid()
                        })
                        .join()
                        .unwrap()
                    })
                    .collect();
                assert!(!later.contains(&tid), "thread {tid} ran {later:?}");
                let task = format!("/proc/self/task/{tid}");
                eventually("the locked goroutine's thread ends", || {
                    !std::path::Path::new(&task).exists()
                });
            }
            let tid = gort::spawn(|| {
                gort::lock_os_thread();
                gort::unlock_os_thread();
                gettid()
            })
            .join()
            .unwrap();
            gort::sleep(Duration::from_millis(20));
            assert!(std::path::Path::new(&format!("/proc/self/task/{tid}")).exists());
        });
    }
}

/// Back-to-back bursts of blocking calls of about sysmon's backed-off round (10 ms) each run
/// side by side, every processor handed off. Sysmon looks at a P in a blocking call twice before
/// it hands it off, and once backed off (after a quiet spell) it looked every 10 ms: each look
/// found the next call already started, so it never handed off, never sped up again, and each
/// burst ran one call at a time per processor (500 ms for 100 calls at procs 2). A P with
/// goroutines queued behind its call now brings the next look forward.
#[test]
fn bursts_of_ten_millisecond_blocking_calls_run_side_by_side() {
    if gort_test_support::skip_if_emulated("it measures how long the bursts take") {
        return;
    }
    with_procs(2, 120, || {
        // A quiet spell, so that sysmon backs off as it does in a program between bursts.
        gort::sleep(Duration::from_millis(300));
        let mut rounds = Vec::new();
        for _ in 0..4 {
            let start = Instant::now();
            let wg = gort::sync::WaitGroup::new();
            for _ in 0..100 {
                wg.add(1);
                let wg = wg.clone();
                gort::go(move || {
                    gort::blocking(|| std::thread::sleep(Duration::from_millis(10)));
                    wg.done();
                });
            }
            wg.wait();
            rounds.push(start.elapsed());
        }
        assert!(
            rounds.iter().all(|r| *r < Duration::from_millis(250)),
            "bursts of 100 calls of 10 ms took {rounds:?} (one at a time per processor: 500 ms)"
        );
    });
}
