//! W8_timers: N goroutines (default 10,000; the Go version's -n) each `gort::sleep(1 ms)` 100 times in a
//! loop (1,000,000 sleeps). Wall should be a little over 100 ms; the figure is the overhead:
//! per_op_ns = process CPU time (user + sys, getrusage) per sleep, as the Go version's w8Timers
//! reports it. ok also requires wall >= 100 ms (no sleep returned early).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use super::Workload;
use crate::report::{Outcome, cpu_ns};

const ITERS: u64 = 100;

pub const WORKLOAD: Workload = Workload {
    name: "W8_timers",
    summary: "N goroutines each sleep 1 ms x100; per_op = process CPU per sleep",
    default_n: 10_000,
    sweep: &[],
    run,
};

fn run(gs: u64) -> Outcome {
    gort::run(move || {
        let cnt = Arc::new(AtomicU64::new(0));
        let wg = gort::sync::WaitGroup::new();
        let cpu0 = cpu_ns();
        let start = Instant::now();
        for _ in 0..gs {
            wg.add(1);
            let (cnt, wg) = (cnt.clone(), wg.clone());
            gort::go(move || {
                for _ in 0..ITERS {
                    gort::sleep(Duration::from_millis(1));
                    cnt.fetch_add(1, Relaxed);
                }
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let cpu = cpu_ns() - cpu0;
        let n = gs * ITERS;
        let got = cnt.load(Relaxed);
        let ok = got == n && wall >= Duration::from_millis(ITERS);
        let mut note = format!(
            "per_op_ns = process CPU (user+sys) per sleep; cpu_ms={:.1} wall_ms={:.1}",
            cpu as f64 / 1e6,
            wall.as_secs_f64() * 1e3
        );
        if !ok {
            note.push_str(&format!("; sleeps={got} want {n}"));
        }
        Outcome {
            ops: n,
            wall,
            per_op_ns: Some(cpu as f64 / n as f64),
            ok,
            note,
            ..Outcome::default()
        }
    })
}
