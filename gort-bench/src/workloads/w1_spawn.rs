//! W1_spawn: spawn N goroutines, each adds 1 to a shared atomic and signals a WaitGroup; the
//! spawning goroutine waits. per_op_ns = wall / N.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W1_spawn",
    summary: "spawn N goroutines, each bumps an atomic and calls WaitGroup::done",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let count = Arc::new(AtomicU64::new(0));
        let wg = gort::sync::WaitGroup::new();
        let start = Instant::now();
        for _ in 0..n {
            wg.add(1);
            let (count, wg) = (count.clone(), wg.clone());
            gort::go(move || {
                count.fetch_add(1, Relaxed);
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let got = count.load(Relaxed);
        Outcome {
            ops: n,
            wall,
            ok: got == n,
            note: if got == n {
                String::new()
            } else {
                format!("counter={got} want {n}")
            },
            value: Some(got as i64),
            ..Outcome::default()
        }
    })
}
