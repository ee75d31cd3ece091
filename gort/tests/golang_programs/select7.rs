//! test/chan/select7.go: select when discarding a value.

use super::*;
use gort::Receiver;

fn recv1(c: Receiver<i32>) {
    c.recv();
}

fn recv2(c: Receiver<i32>) {
    gort::select! {
        recv(c) -> _ => {},
    }
}

fn recv3(c: Receiver<i32>) {
    let (_keep, c2) = gort::chan::<i32>(0);
    gort::select! {
        recv(c) -> _ => {},
        recv(c2) -> _ => {},
    }
}

fn send1(recv: fn(Receiver<i32>)) {
    let (tx, c) = gort::chan(0);
    gort::go(move || recv(c));
    gort::yield_now();
    tx.send(1).unwrap();
}

fn send2(recv: fn(Receiver<i32>)) {
    let (tx, c) = gort::chan(0);
    gort::go(move || recv(c));
    gort::yield_now();
    gort::select! {
        send(tx, 1) -> res => res.unwrap(),
    }
}

fn send3(recv: fn(Receiver<i32>)) {
    let (tx, c) = gort::chan(0);
    gort::go(move || recv(c));
    gort::yield_now();
    let (tx2, _keep) = gort::chan::<i32>(0);
    gort::select! {
        send(tx, 1) -> res => res.unwrap(),
        send(tx2, 1) -> _ => unreachable!(),
    }
}

#[test]
fn select7() {
    let _s = shared();
    go_test(30, || {
        send1(recv1);
        send2(recv1);
        send3(recv1);
        send1(recv2);
        send2(recv2);
        send3(recv2);
        send1(recv3);
        send2(recv3);
        send3(recv3);
    });
}
