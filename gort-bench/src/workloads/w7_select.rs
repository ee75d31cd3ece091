//! W7_select: one consumer selects (blocking, no default) over 4 unbuffered channels, each fed by
//! its own producer sending N/4 values. The per-channel counts and the sum are checked.
//! per_op_ns = wall / values. Same shape as the Go version's w7Select (the consumer is the first
//! goroutine, as the Go version's is main).

use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

const K: usize = 4;

pub const WORKLOAD: Workload = Workload {
    name: "W7_select",
    summary: "one consumer select!s over 4 unbuffered channels, N values in total",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(total: u64) -> Outcome {
    gort::run(move || {
        let per = total / K as u64;
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..K).map(|_| gort::chan::<u64>(0)).unzip();
        let wg = gort::sync::WaitGroup::new();
        let start = Instant::now();
        // The producers send on clones: `txs` lives until the end, so no channel closes when its
        // producer finishes (a closed channel would be forever ready in the select; Go's never close).
        for tx in &txs {
            wg.add(1);
            let (tx, wg) = (tx.clone(), wg.clone());
            gort::go(move || {
                for j in 0..per {
                    tx.send(j).expect("W7: consumer gone");
                }
                wg.done();
            });
        }
        let mut counts = [0u64; K];
        let mut sum = 0u64;
        let [r0, r1, r2, r3] = [&rxs[0], &rxs[1], &rxs[2], &rxs[3]];
        let mut take = |k: usize, v: Option<u64>| {
            counts[k] += 1;
            sum += v.expect("W7: producer channel closed early");
        };
        for _ in 0..per * K as u64 {
            gort::select! {
                recv(r0) -> v => take(0, v),
                recv(r1) -> v => take(1, v),
                recv(r2) -> v => take(2, v),
                recv(r3) -> v => take(3, v),
            }
        }
        wg.wait();
        let wall = start.elapsed();
        drop(txs);
        let want = K as u64 * per * per.saturating_sub(1) / 2;
        let ok = sum == want && counts.iter().all(|&c| c == per);
        Outcome {
            ops: per * K as u64,
            wall,
            ok,
            note: if ok {
                String::new()
            } else {
                format!("counts={counts:?} sum={sum} want {want}")
            },
            ..Outcome::default()
        }
    })
}
