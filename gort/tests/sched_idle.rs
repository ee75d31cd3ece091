//! ARCHITECTURE.md, decision "No busy idling": an idle runtime uses (almost) no CPU.

use std::time::Duration;

use gort_test_support::{bounded, cpu_time};

#[test]
fn idle_runtime_uses_under_20ms_cpu_per_second() {
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
        let mut used = Duration::MAX;
        for _ in 0..3 {
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(1));
            used = used.min(cpu_time() - before);
            if used < Duration::from_millis(20) {
                break;
            }
        }
        assert!(
            used < Duration::from_millis(20),
            "idle runtime used {used:?} of CPU in 1 s"
        );
    });
}

/// Process CPU used over 2 s while the runtime waits in `case`, run as a goroutine at `procs`
/// (best of two windows): sysmon must back off in every kind of idle, including a goroutine that
/// sleeps in a plain `std::thread::sleep`, whose processor sysmon hands off once and then leaves.
fn idle_cpu(procs: usize, case: fn()) -> Duration {
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
        let mut used = Duration::MAX;
        for _ in 0..2 {
            let before = cpu_time();
            std::thread::sleep(Duration::from_secs(2));
            used = used.min(cpu_time() - before);
            if used <= Duration::from_millis(40) {
                break;
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        h.join().unwrap();
        used
    })
}

fn assert_idle(procs: usize, what: &str, case: fn()) {
    let used = idle_cpu(procs, case);
    assert!(
        used <= Duration::from_millis(40),
        "{what} at procs={procs}: {used:?} of CPU in 2 s"
    );
}

#[test]
fn idle_cases_cost_little_cpu() {
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
