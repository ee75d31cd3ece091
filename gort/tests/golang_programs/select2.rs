//! test/chan/select2.go: 100,000 selects must not grow the memory footprint.

use super::*;
use gort::{Receiver, Sender};

fn sender(c: Sender<i32>, n: usize) {
    for _ in 0..n {
        c.send(1).unwrap();
    }
}

fn receiver(c: &Receiver<i32>, dummy: &Receiver<i32>, n: usize) {
    for _ in 0..n {
        gort::select! {
            recv(c) -> v => assert_eq!(v, Some(1)),
            recv(dummy) -> _ => panic!("dummy"),
        }
    }
}

#[test]
fn select2() {
    let _x = exclusive();
    go_test(60, || {
        let (tx, c) = gort::chan(0);
        let (_dummy_tx, dummy) = gort::chan(0);

        // warm up
        let t = tx.clone();
        gort::go(move || sender(t, 100_000));
        receiver(&c, &dummy, 100_000);
        gort::sleep(Duration::from_millis(20));
        let before = LIVE_BYTES.load(Relaxed);

        // second time shouldn't increase footprint by much
        let t = tx.clone();
        gort::go(move || sender(t, 100_000));
        receiver(&c, &dummy, 100_000);
        gort::sleep(Duration::from_millis(20));
        let grown = LIVE_BYTES.load(Relaxed) - before;
        assert!(
            grown < 1 << 20,
            "too much memory for 100,000 selects: {grown} bytes"
        );
    });
}
