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
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("a task").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() != "gort-sysmon" {
            continue;
        }
        let status = std::fs::read_to_string(dir.join("status")).expect("task status");
        return status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("voluntary_ctxt_switches");
    }
    panic!("no gort-sysmon thread")
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
