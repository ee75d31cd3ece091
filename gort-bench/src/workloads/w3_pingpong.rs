//! W3_pingpong: two goroutines, two unbuffered channels (ping, pong); N round trips of a u64.
//! The pinger sends i and expects i + 1 back. per_op_ns = wall / round trips. Same shape as
//! the Go version's w3PingPong.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W3_pingpong",
    summary: "N round trips of a u64 over two unbuffered channels",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let (ping_tx, ping_rx) = gort::chan::<u64>(0);
        let (pong_tx, pong_rx) = gort::chan::<u64>(0);
        let wg = gort::sync::WaitGroup::new();
        let bad = Arc::new(AtomicU64::new(0));
        let start = Instant::now();
        wg.add(2);
        {
            let (wg, bad) = (wg.clone(), bad.clone());
            gort::go(move || {
                for i in 0..n {
                    ping_tx.send(i).expect("ping: receiver gone");
                    if pong_rx.recv() != Some(i + 1) {
                        bad.fetch_add(1, Relaxed);
                    }
                }
                wg.done();
            });
        }
        {
            let wg = wg.clone();
            gort::go(move || {
                for _ in 0..n {
                    let v = ping_rx.recv().expect("ping closed early");
                    pong_tx.send(v + 1).expect("pong: receiver gone");
                }
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let bad = bad.load(Relaxed);
        Outcome {
            ops: n,
            wall,
            ok: bad == 0,
            note: if bad == 0 {
                String::new()
            } else {
                format!("{bad} wrong replies")
            },
            ..Outcome::default()
        }
    })
}
