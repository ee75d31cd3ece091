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

/// Time in blocking calls: long calls (timed exactly once sysmon takes their processor) and
/// many short ones (sampled) both show in `blocking_ns`.
#[test]
fn blocking_time_is_counted() {
    with_procs(2, 60, || {
        let ms = |ns: u64| ns as f64 / 1e6;
        let before = gort::runtime::stats().blocking_ns;
        for _ in 0..5 {
            gort::blocking(|| std::thread::sleep(Duration::from_millis(20)));
        }
        let long = gort::runtime::stats().blocking_ns - before;
        assert!(
            (80.0..=1_000.0).contains(&ms(long)),
            "five 20 ms calls counted as {} ms",
            ms(long)
        );
        // 2,000 calls of 100 µs: 200 ms or more in calls, none of them long enough to lose its
        // processor for long.
        let before = gort::runtime::stats().blocking_ns;
        let t = std::time::Instant::now();
        for _ in 0..2_000 {
            gort::blocking(|| std::thread::sleep(Duration::from_micros(100)));
        }
        let wall = t.elapsed().as_secs_f64() * 1e3;
        let short = ms(gort::runtime::stats().blocking_ns - before);
        assert!(
            short >= 0.3 * 200.0 && short <= 1.5 * wall,
            "2,000 calls of 100 µs in {wall:.0} ms counted as {short:.0} ms"
        );
    });
}
