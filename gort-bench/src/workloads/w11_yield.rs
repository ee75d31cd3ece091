//! W11_yield: two goroutines each call `gort::yield_now()` N times; per_op_ns = wall / 2N.
//! The workload is defined at procs=1 (a pure switch cost); at other procs it runs anyway and says so in
//! the note, as the Go version does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W11_yield",
    summary: "two goroutines each yield_now() N times (per_op = wall / 2N)",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let count = Arc::new(AtomicU64::new(0));
        let wg = gort::sync::WaitGroup::new();
        let start = Instant::now();
        for _ in 0..2 {
            wg.add(1);
            let (count, wg) = (count.clone(), wg.clone());
            gort::go(move || {
                for _ in 0..n {
                    gort::yield_now();
                }
                count.fetch_add(n, Relaxed);
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let ops = 2 * n;
        let got = count.load(Relaxed);
        let mut note = String::new();
        if gort::procs() != 1 {
            note.push_str(
                "procs>1: the two goroutines may run in parallel, so this is not a pure switch cost",
            );
        }
        if got != ops {
            note.push_str(&format!("; yields={got} want {ops}"));
        }
        Outcome {
            ops,
            wall,
            ok: got == ops,
            note,
            ..Outcome::default()
        }
    })
}
