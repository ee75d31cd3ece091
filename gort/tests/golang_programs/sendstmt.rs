//! test/chan/sendstmt.go: parsing cases that differ now that send is a statement.

use super::*;
use gort::Sender;

fn chanchan() {
    let (cc_tx, cc) = gort::chan::<Sender<i32>>(1);
    let (c_tx, c) = gort::chan(1);
    cc_tx.send(c_tx).unwrap();
    // Go: case <-cc <- 2: the channel operand is itself received from cc.
    gort::select! {
        send(cc.recv().unwrap(), 2) -> res => res.unwrap(),
        default => panic!("nonblock"),
    }
    assert_eq!(c.recv(), Some(2), "bad receive");
}

#[allow(clippy::overly_complex_bool_expr)] // the point: precedence of `||` in a send
fn sendprec() {
    let (tx, c) = gort::chan(1);
    tx.send(std::hint::black_box(false) || true).unwrap(); // same as c <- (false || true)
    assert_eq!(c.recv(), Some(true), "sent false");
}

#[test]
fn sendstmt() {
    let _s = shared();
    go_test(30, || {
        chanchan();
        sendprec();
    });
}
