//! W9_mutex: 8 goroutines each lock a shared `gort::sync::Mutex`, increment a counter and
//! unlock, N times each (N = the Go version's `-n`, iterations per goroutine); per_op_ns =
//! wall / (8 N). The counter must come out exact.

use std::sync::Arc;
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

const GOROUTINES: u64 = 8;

pub const WORKLOAD: Workload = Workload {
    name: "W9_mutex",
    summary: "8 goroutines x N lock/increment/unlock of one gort::sync::Mutex (per_op = wall / 8N)",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let m = Arc::new(gort::sync::Mutex::new(0u64));
        let wg = gort::sync::WaitGroup::new();
        let start = Instant::now();
        for _ in 0..GOROUTINES {
            wg.add(1);
            let (m, wg) = (m.clone(), wg.clone());
            gort::go(move || {
                for _ in 0..n {
                    *m.lock() += 1;
                }
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let ops = GOROUTINES * n;
        let got = *m.lock();
        let mut note = String::from("gort::sync::Mutex");
        if got != ops {
            note.push_str(&format!("; counter={got} want {ops}"));
        }
        Outcome {
            ops,
            wall,
            ok: got == ops,
            note,
            value: Some(got as i64),
            ..Outcome::default()
        }
    })
}
