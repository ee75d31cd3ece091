//! W4_chan_tput: a buffered channel (cap 1024) of u64; N items in total from P producers to C
//! consumers. the Go version reports it as two workloads, `W4_chan_tput_1p1c` (1 -> 1) and
//! `W4_chan_tput_4p4c` (4 -> 4); so do we. Each producer sends `N / P` consecutive values, the
//! consumers `for v in rx` until the channel is closed (after every producer finished) and the
//! count and sum are checked. per_op_ns = wall / items. Same shape as the Go version's w4Tput.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD_1P1C: Workload = Workload {
    name: "W4_chan_tput_1p1c",
    summary: "1 producer -> 1 consumer, N u64 through a cap-1024 channel",
    default_n: 10_000_000,
    sweep: &[],
    run: run_1p1c,
};

pub const WORKLOAD_4P4C: Workload = Workload {
    name: "W4_chan_tput_4p4c",
    summary: "4 producers -> 4 consumers, N u64 in total through a cap-1024 channel",
    default_n: 10_000_000,
    sweep: &[],
    run: run_4p4c,
};

fn run_1p1c(n: u64) -> Outcome {
    tput(n, 1, 1)
}

fn run_4p4c(n: u64) -> Outcome {
    tput(n, 4, 4)
}

fn tput(n: u64, producers: u64, consumers: u64) -> Outcome {
    gort::run(move || {
        let (tx, rx) = gort::chan::<u64>(1024);
        let pwg = gort::sync::WaitGroup::new();
        let cwg = gort::sync::WaitGroup::new();
        let cnt = Arc::new(AtomicU64::new(0));
        let sum = Arc::new(AtomicU64::new(0));
        let per = n / producers;
        let start = Instant::now();
        for _ in 0..consumers {
            cwg.add(1);
            let (rx, cwg, cnt, sum) = (rx.clone(), cwg.clone(), cnt.clone(), sum.clone());
            gort::go(move || {
                let (mut lc, mut ls) = (0u64, 0u64);
                for v in &rx {
                    lc += 1;
                    ls = ls.wrapping_add(v);
                }
                cnt.fetch_add(lc, Relaxed);
                sum.fetch_add(ls, Relaxed);
                cwg.done();
            });
        }
        drop(rx);
        for p in 0..producers {
            pwg.add(1);
            let base = p * per;
            let (tx, pwg) = (tx.clone(), pwg.clone());
            gort::go(move || {
                for i in 0..per {
                    tx.send(base + i).expect("W4: every receiver gone");
                }
                pwg.done();
            });
        }
        pwg.wait();
        tx.close();
        cwg.wait();
        let wall = start.elapsed();
        let total = per * producers;
        let want_sum = total * total.saturating_sub(1) / 2;
        let (got_cnt, got_sum) = (cnt.load(Relaxed), sum.load(Relaxed));
        let ok = got_cnt == total && got_sum == want_sum;
        Outcome {
            ops: total,
            wall,
            ok,
            note: if ok {
                String::new()
            } else {
                format!("count={got_cnt} sum={got_sum} want {total}/{want_sum}")
            },
            ..Outcome::default()
        }
    })
}
