//! test/chan/doubleselect.go: two cases of one select must never both run.

use super::*;
use gort::{Receiver, Sender};
use std::collections::HashSet;

/// sender sends a counter to one of four different channels. If two cases both end up
/// running in the same iteration, the same value will be sent to two different channels.
fn sender(n: i64, c1: Sender<i64>, c2: Sender<i64>, c3: Sender<i64>, c4: Sender<i64>) {
    for i in 0..n {
        let res = gort::select! {
            send(c1, i) -> res => res,
            send(c2, i) -> res => res,
            send(c3, i) -> res => res,
            send(c4, i) -> res => res,
        };
        res.unwrap();
    }
    // Go defers close(c1..c4); dropping the last Senders closes them.
}

/// mux receives the values from sender and forwards them onto another channel. It would be
/// simpler to just have sender's four cases all be the same channel, but this doesn't
/// actually trigger the bug.
fn mux(out: Sender<i64>, input: Receiver<i64>, done: Sender<bool>) {
    for v in &input {
        out.send(v).unwrap();
    }
    done.send(true).unwrap();
}

/// recver gets a stream of values from the four muxes and checks for duplicates.
fn recver(input: Receiver<i64>) -> usize {
    let mut seen = HashSet::new();
    for v in &input {
        assert!(seen.insert(v), "got duplicate value: {v}");
    }
    seen.len()
}

#[test]
fn doubleselect() {
    let _s = shared();
    let iterations = scaled(100_000, 20_000) as i64;
    go_test(60, move || {
        let (c1, r1) = gort::chan(0);
        let (c2, r2) = gort::chan(0);
        let (c3, r3) = gort::chan(0);
        let (c4, r4) = gort::chan(0);
        let (done_tx, done) = gort::chan(0);
        let (cmux_tx, cmux) = gort::chan(0);
        gort::go(move || sender(iterations, c1, c2, c3, c4));
        for r in [r1, r2, r3, r4] {
            let (out, done_tx) = (cmux_tx.clone(), done_tx.clone());
            gort::go(move || mux(out, r, done_tx));
        }
        gort::go(move || {
            for _ in 0..4 {
                done.recv().unwrap();
            }
            cmux_tx.close();
        });
        // We keep the recver because it might catch more bugs in the future.
        assert_eq!(recver(cmux), iterations as usize);
    });
}
