//! W14_gls: one goroutine reads and updates a `goroutine_local!` counter N times
//! (`COUNTER.with(|c| c.set(c.get() + 1))`); per_op_ns = wall / N. The cost of a goroutine-local
//! lookup: the current-G read, the table index and the type check. gort only (the peers have no
//! goroutine-local storage; Go deliberately has none).

use std::cell::Cell;
use std::hint::black_box;
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W14_gls",
    summary: "one goroutine does N goroutine_local! lookups and updates (per_op = wall / N)",
    default_n: 50_000_000,
    sweep: &[],
    run,
};

gort::goroutine_local! {
    static COUNTER: Cell<u64> = Cell::new(0);
}

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let start = Instant::now();
        for _ in 0..n {
            COUNTER.with(|c| c.set(black_box(c.get()) + 1));
        }
        let wall = start.elapsed();
        let got = COUNTER.with(|c| c.get());
        let mut note = "goroutine_local! Cell<u64> get + set; one goroutine".to_string();
        if got != n {
            note.push_str(&format!("; count={got} want {n}"));
        }
        Outcome {
            ops: n,
            wall,
            ok: got == n,
            note,
            value: Some(got as i64),
            ..Outcome::default()
        }
    })
}
