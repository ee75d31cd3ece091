//! W6_ring: 1000 goroutines in a ring joined by unbuffered channels; a token (a u64 hop count)
//! goes round until it has made N hops, then the goroutine holding it reports on `done`. The
//! injection is not a hop. Afterwards every ring channel is closed and the goroutines joined.
//! per_op_ns = wall / hops. Same shape as the Go version's w6Ring.

use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

const SIZE: usize = 1000;

pub const WORKLOAD: Workload = Workload {
    name: "W6_ring",
    summary: "a token makes N hops round a ring of 1000 goroutines (unbuffered channels)",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(hops: u64) -> Outcome {
    gort::run(move || {
        let (txs, rxs): (Vec<_>, Vec<_>) = (0..SIZE).map(|_| gort::chan::<u64>(0)).unzip();
        let (done_tx, done_rx) = gort::chan::<u64>(0);
        let wg = gort::sync::WaitGroup::new();
        let start = Instant::now();
        for i in 0..SIZE {
            wg.add(1);
            let (input, out) = (rxs[i].clone(), txs[(i + 1) % SIZE].clone());
            let (done, wg) = (done_tx.clone(), wg.clone());
            gort::go(move || {
                while let Some(v) = input.recv() {
                    if v == hops {
                        done.send(v).expect("W6: done receiver gone");
                    } else {
                        out.send(v + 1).expect("W6: ring channel closed mid-run"); // one hop
                    }
                }
                wg.done();
            });
        }
        txs[0].send(0).expect("W6: inject"); // inject the token (not a hop)
        let got = done_rx.recv().unwrap_or(u64::MAX);
        let wall = start.elapsed();
        for tx in &txs {
            tx.close();
        }
        wg.wait();
        let ok = got == hops;
        Outcome {
            ops: hops,
            wall,
            ok,
            note: if ok {
                "1000 goroutines".to_string()
            } else {
                format!("token={got} want {hops}")
            },
            ..Outcome::default()
        }
    })
}
