//! DESIGN decision 7: an idle runtime uses (almost) no CPU.

mod common;

use std::time::Duration;

#[test]
fn idle_runtime_uses_under_20ms_cpu_per_second() {
    common::bounded(60, || {
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
            let before = common::cpu_time();
            std::thread::sleep(Duration::from_secs(1));
            used = used.min(common::cpu_time() - before);
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
