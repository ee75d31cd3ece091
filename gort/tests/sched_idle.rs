//! ARCHITECTURE.md, decision "No busy idling": an idle runtime uses (almost) no CPU.

use std::time::Duration;

use gort_test_support::{bounded, cpu_time, serial};

#[test]
fn idle_runtime_uses_under_20ms_cpu_per_second() {
    // Each test measures the whole process: they take turns.
    let _serial = serial();
    bounded(60, || {
        // Start the runtime and give it some work first, including sleeping goroutines.
        let hs: Vec<_> = (0..1000)
            .map(|_| gort::spawn(|| gort::sleep(Duration::from_millis(5))))
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        // Let sysmon back off.
        std::thread::sleep(Duration::from_millis(300));
        // The best of three seconds (a second can be spoiled by, say, a page-cache flush that
        // the kernel charges to whoever runs).
        let (mut used, mut wakeups) = (Duration::MAX, u64::MAX);
        for _ in 0..3 {
            let (before, sleeps) = (cpu_time(), sysmon_sleeps());
            std::thread::sleep(Duration::from_secs(1));
            used = used.min(cpu_time() - before);
            wakeups = wakeups.min(sysmon_sleeps() - sleeps);
            if used < Duration::from_millis(20) && wakeups <= 10 {
                break;
            }
        }
        assert!(
            used < Duration::from_millis(20),
            "idle runtime used {used:?} of CPU in 1 s"
        );
        // Nothing is due but the stack scavenger's pass over the exited goroutines' stacks.
        assert!(
            wakeups <= 10,
            "idle runtime: sysmon woke {wakeups} times in 1 s"
        );
    });
}

/// The voluntary context switches of the runtime's monitor thread so far: each is one of its
/// sleeps, so their rate is its wake-up rate.
fn sysmon_sleeps() -> u64 {
    let (n, threads) = sleeps_of(|comm| comm == "gort-sysmon");
    assert!(threads == 1, "no gort-sysmon thread");
    n
}

/// The voluntary context switches so far of the threads whose name `pick` accepts, and how
/// many threads that is.
fn sleeps_of(pick: impl Fn(&str) -> bool) -> (u64, usize) {
    let (mut n, mut threads) = (0, 0);
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("a task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if !pick(comm.trim_end()) {
            continue;
        }
        // The thread may have exited since the listing.
        let Ok(status) = std::fs::read_to_string(dir.join("status")) else {
            continue;
        };
        n += status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .expect("voluntary_ctxt_switches");
        threads += 1;
    }
    (n, threads)
}

/// Above this many scheduler-thread sleeps per event, a second thread woke for it.
const ONE_WAKE: f64 = 1.4;

/// The fewest sleeps of the scheduler's threads (`gort-m*`) per event, at procs 1, over up to
/// three runs of `events` events each. `run` makes the events on a goroutine, given a counter
/// of those sleeps, and returns how many it counted.
fn sleeps_per_event(events: u64, run: fn(u64, fn() -> u64) -> u64) -> f64 {
    bounded(60, move || {
        gort::set_procs(1);
        let mut best = f64::MAX;
        for _ in 0..3 {
            best = best.min(
                run(events, || sleeps_of(|c| c.starts_with("gort-m")).0) as f64 / events as f64,
            );
            if best < ONE_WAKE {
                break;
            }
        }
        best
    })
}

/// A timer that fires while every processor is idle wakes one thread, the one waiting for it,
/// which takes the idle processor and runs the timer there. Running the timer first, without
/// a processor, would queue the sleeper globally and wake a second thread to run it.
#[test]
fn a_timer_on_an_idle_runtime_wakes_one_thread() {
    let _serial = serial();
    let per_sleep = sleeps_per_event(200, |sleeps, count| {
        let h = gort::spawn(move || {
            let before = count();
            for _ in 0..sleeps {
                gort::sleep(Duration::from_millis(1));
            }
            count() - before
        });
        h.join().unwrap()
    });
    assert!(
        per_sleep < ONE_WAKE,
        "{per_sleep:.2} thread sleeps per gort::sleep at procs=1 (one thread should wake)"
    );
}

/// An event that arrives while every processor is idle wakes one thread, the one sleeping in
/// the poller, which takes the idle processor and runs the goroutine that waited for it. The
/// writer is a plain thread, so only the poller's wake-ups count.
#[test]
fn io_on_an_idle_runtime_wakes_one_thread() {
    let _serial = serial();
    let per_msg = sleeps_per_event(200, |msgs, count| {
        use std::io::{Read, Write};
        let (r, mut w) = std::os::unix::net::UnixStream::pair().expect("socketpair");
        let mut r = gort::net::UnixStream::from(r);
        let writer = std::thread::spawn(move || {
            for _ in 0..msgs {
                std::thread::sleep(Duration::from_millis(1));
                w.write_all(b"x").expect("write");
            }
        });
        let h = gort::spawn(move || {
            let before = count();
            let mut buf = [0u8; 1];
            for _ in 0..msgs {
                r.read_exact(&mut buf).expect("read");
            }
            count() - before
        });
        let n = h.join().unwrap();
        writer.join().unwrap();
        n
    });
    assert!(
        per_msg < ONE_WAKE,
        "{per_msg:.2} thread sleeps per message at procs=1 (one thread should wake)"
    );
}

/// What an idle window cost: process CPU, and how often the monitor thread woke.
struct Cost {
    cpu: Duration,
    sysmon_wakeups: u64,
}

/// What 2 s cost while the runtime waits in `case`, run as a goroutine at `procs` (best of two
/// windows): sysmon must back off in every kind of idle, including a goroutine that sleeps in a
/// plain `std::thread::sleep`, whose processor sysmon hands off once and then leaves.
fn idle_cost(procs: usize, case: fn()) -> Cost {
    bounded(60, move || {
        gort::set_procs(procs);
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let h = gort::spawn(move || {
            while !d.load(std::sync::atomic::Ordering::Relaxed) {
                case();
            }
        });
        std::thread::sleep(Duration::from_millis(300));
        let mut best = Cost {
            cpu: Duration::MAX,
            sysmon_wakeups: u64::MAX,
        };
        for _ in 0..2 {
            let (cpu, sleeps) = (cpu_time(), sysmon_sleeps());
            std::thread::sleep(Duration::from_secs(2));
            best.cpu = best.cpu.min(cpu_time() - cpu);
            best.sysmon_wakeups = best.sysmon_wakeups.min(sysmon_sleeps() - sleeps);
            if best.cpu <= Duration::from_millis(40) && best.sysmon_wakeups <= 40 {
                break;
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        h.join().unwrap();
        best
    })
}

/// With every processor idle, sysmon sleeps until something needs it (a timer, a processor
/// taken off the idle list), as Go's does: at most 20 wake-ups a second, where its 10 ms
/// rounds would be 100. Each case wakes the runtime twice a second.
fn assert_idle(procs: usize, what: &str, case: fn()) {
    let cost = idle_cost(procs, case);
    assert!(
        cost.cpu <= Duration::from_millis(40),
        "{what} at procs={procs}: {:?} of CPU in 2 s",
        cost.cpu
    );
    assert!(
        cost.sysmon_wakeups <= 40,
        "{what} at procs={procs}: sysmon woke {} times in 2 s",
        cost.sysmon_wakeups
    );
}

#[test]
fn idle_cases_cost_little_cpu() {
    let _serial = serial();
    for procs in [1, 2] {
        assert_idle(procs, "gort::sleep", || {
            gort::sleep(Duration::from_millis(500))
        });
        assert_idle(procs, "a parked recv", || {
            let (_tx, rx) = gort::chan::<u8>(0);
            let _ = gort::after(Duration::from_millis(500)).recv();
            drop(rx);
        });
        assert_idle(procs, "blocking(sleep)", || {
            gort::blocking(|| std::thread::sleep(Duration::from_millis(500)))
        });
        assert_idle(procs, "a plain std::thread::sleep", || {
            std::thread::sleep(Duration::from_millis(500))
        });
    }
}
