//! test/chan/sieve1.go: a linear chain of divisibility filters.

use super::*;
use gort::{Receiver, Sender};

/// Send the sequence 2, 3, 4, ... to channel 'ch'.
fn generate(ch: Sender<i64>) {
    let mut i = 2;
    while ch.send(i).is_ok() {
        i += 1;
    }
}

/// Copy the values from channel 'in' to channel 'out', removing those divisible by 'prime'.
fn filter(input: Receiver<i64>, out: Sender<i64>, prime: i64) {
    for i in &input {
        if i % prime != 0 && out.send(i).is_err() {
            return;
        }
    }
}

/// The prime sieve: Daisy-chain Filter processes together.
fn sieve(primes: Sender<i64>) {
    let (tx, mut ch) = gort::chan(0);
    gort::go(move || generate(tx));
    loop {
        // Note that ch is different on each iteration.
        let Some(prime) = ch.recv() else { return };
        if primes.send(prime).is_err() {
            return;
        }
        let (tx1, ch1) = gort::chan(0);
        let input = std::mem::replace(&mut ch, ch1);
        gort::go(move || filter(input, tx1, prime));
    }
}

#[test]
fn sieve1() {
    let _s = shared();
    go_test(30, || {
        let (tx, primes) = gort::chan(0);
        gort::go!(move || sieve(tx));
        for want in PRIMES {
            assert_eq!(primes.recv(), Some(want));
        }
    });
}
