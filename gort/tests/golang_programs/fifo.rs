//! test/chan/fifo.go: unbuffered channels act as pure FIFOs.

use super::*;
use gort::{Receiver, Sender};

const N: i32 = 10;

fn asynch_fifo() {
    let (tx, ch) = gort::chan(N as usize);
    for i in 0..N {
        tx.send(i).unwrap();
    }
    for i in 0..N {
        assert_eq!(ch.recv(), Some(i), "bad receive");
    }
}

fn chain(ch: Receiver<i32>, val: i32, input: Receiver<i32>, out: Sender<i32>) {
    input.recv();
    assert_eq!(ch.recv(), Some(val));
    out.send(1).unwrap();
}

/// thread together a daisy chain to read the elements in sequence
fn synch_fifo() {
    let (tx, ch) = gort::chan(0);
    let (start, mut input) = gort::chan(0);
    for i in 0..N {
        let (out, next) = gort::chan(0);
        let (ch, prev) = (ch.clone(), std::mem::replace(&mut input, next));
        gort::go(move || chain(ch, i, prev, out));
    }
    start.send(0).unwrap();
    for i in 0..N {
        tx.send(i).unwrap();
    }
    assert_eq!(input.recv(), Some(1));
}

#[test]
fn fifo() {
    let _s = shared();
    go_test(30, || {
        asynch_fifo();
        synch_fifo();
    });
}
