//! W5_skynet: the skynet benchmark. The root spawns 10 children, recursively, down to N leaves
//! (default 1,000,000); a leaf sends its number on its parent's channel, a node sums its 10
//! children and sends the sum up. Every channel is unbuffered, as in the Go version's skynet. The sum
//! must be N(N-1)/2 (499999500000 for N = 1M). per_op_ns = wall / leaves.

use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W5_skynet",
    summary: "skynet: 10-way goroutine tree down to N leaves, sums sent up unbuffered channels",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

fn skynet(c: gort::Sender<i64>, num: i64, size: i64, div: i64) {
    if size == 1 {
        c.send(num).expect("skynet: parent gone");
        return;
    }
    let (rc_tx, rc_rx) = gort::chan::<i64>(0);
    let mut sum = 0i64;
    for i in 0..div {
        let sub = num + i * (size / div);
        let rc = rc_tx.clone();
        gort::go(move || skynet(rc, sub, size / div, div));
    }
    for _ in 0..div {
        sum += rc_rx.recv().expect("skynet: child channel closed");
    }
    c.send(sum).expect("skynet: parent gone");
}

fn run(n: u64) -> Outcome {
    let leaves = n as i64;
    gort::run(move || {
        let (c_tx, c_rx) = gort::chan::<i64>(0);
        let start = Instant::now();
        gort::go(move || skynet(c_tx, 0, leaves, 10));
        let got = c_rx.recv().unwrap_or(-1);
        let wall = start.elapsed();
        let want = leaves * (leaves - 1) / 2;
        let total_g = (10 * leaves - 1) / 9; // 1 + 10 + ... + leaves
        let ok = got == want;
        Outcome {
            ops: n,
            wall,
            ok,
            note: if ok {
                format!("per_op_ns=wall/leaves; {total_g} goroutines total")
            } else {
                format!("sum={got} want {want}")
            },
            value: Some(got),
            ..Outcome::default()
        }
    })
}
