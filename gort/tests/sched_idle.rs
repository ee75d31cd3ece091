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
        let before = common::cpu_time();
        std::thread::sleep(Duration::from_secs(1));
        let used = common::cpu_time() - before;
        assert!(
            used < Duration::from_millis(20),
            "idle runtime used {used:?} of CPU in 1 s"
        );
    });
}
