//! `runtime::stats()`'s scheduler metrics: goroutines by state, threads and their peak, and
//! the sampled scheduling-latency histogram.

use std::time::Duration;

use gort_test_support::{wait_for_state, with_procs};

#[test]
fn latency_blocking_time_and_states() {
    with_procs(2, 60, || {
        let before = gort::runtime::stats();

        // 20,000 wake-ups: a ping-pong pair.
        let (ping, pinged) = gort::chan::<u32>(0);
        let (pong, ponged) = gort::chan::<u32>(0);
        let echo = gort::spawn(move || {
            for v in pinged {
                pong.send(v).unwrap();
            }
        });
        for i in 0..10_000 {
            ping.send(i).unwrap();
            assert_eq!(ponged.recv(), Some(i));
        }
        drop(ping);
        echo.join().unwrap();
        let after = gort::runtime::stats();
        let samples = after.sched_latency.count() - before.sched_latency.count();
        assert!(
            samples >= 100,
            "{samples} latency samples for 20,000 wake-ups"
        );
        let p50 = after.sched_latency.quantile(0.5).unwrap();
        assert!(
            p50 < Duration::from_millis(100),
            "median wake-up latency {p50:?}"
        );

        // States: ten goroutines asleep.
        let (stop, stopped) = gort::chan::<()>(0);
        let sleepers: Vec<_> = (0..10)
            .map(|_| {
                let stopped = stopped.clone();
                gort::spawn(move || stopped.recv())
            })
            .collect();
        wait_for_state("chan receive", 10);
        let s = gort::runtime::stats();
        assert!(
            s.goroutines_by_state["chan receive"] >= 10,
            "{:?}",
            s.goroutines_by_state
        );
        assert!(s.threads_peak >= s.threads && s.threads >= 1);
        drop(stop);
        for h in sleepers {
            h.join().unwrap();
        }
    });
}
