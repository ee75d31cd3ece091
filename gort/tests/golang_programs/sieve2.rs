//! test/chan/sieve2.go: an Eratosthenes sieve over odd candidates, merging the multiples of
//! every prime found through a heap of channels, with a send proxy that buffers without bound.

use super::*;
use gort::{Receiver, Sender};
use std::cmp::Ordering;
use std::collections::{BinaryHeap, VecDeque};

/// Return a chan of odd numbers, starting from 5.
fn odds() -> Receiver<i64> {
    let (tx, out) = gort::chan(50);
    gort::go(move || {
        let mut n = 5;
        while tx.send(n).is_ok() {
            n += 2;
        }
    });
    out
}

/// Return a chan of odd multiples of the prime number p, starting from p*p.
fn multiples(p: i64) -> Receiver<i64> {
    let (tx, out) = gort::chan(10);
    gort::go(move || {
        let mut n = p * p;
        while tx.send(n).is_ok() {
            n += 2 * p;
        }
    });
    out
}

struct PeekCh {
    head: i64,
    ch: Receiver<i64>,
}

// Heap of PeekCh, sorting by head values (std's heap is a max-heap: reversed order).
impl Ord for PeekCh {
    fn cmp(&self, other: &Self) -> Ordering {
        other.head.cmp(&self.head)
    }
}

impl PartialOrd for PeekCh {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for PeekCh {
    fn eq(&self, other: &Self) -> bool {
        self.head == other.head
    }
}

impl Eq for PeekCh {}

/// Return a channel to serve as a sending proxy to 'out'. Use a goroutine to receive values
/// from 'out' and store them in an expanding buffer, so that sending to 'out' never blocks.
fn sendproxy(out: Sender<i64>) -> Sender<i64> {
    let (proxy_tx, proxy) = gort::chan(10);
    gort::go(move || {
        let mut buf = VecDeque::with_capacity(16);
        loop {
            // Buffer empty: disable output (Go sets the channel to nil).
            let Some(&e) = buf.front() else {
                match proxy.recv() {
                    Some(e) => buf.push_back(e),
                    None => return,
                }
                continue;
            };
            let received = gort::select! {
                recv(proxy) -> v => match v {
                    Some(v) => Some(v),
                    None => return,
                },
                send(out, e) -> res => {
                    if res.is_err() {
                        return;
                    }
                    None
                },
            };
            match received {
                Some(v) => buf.push_back(v),
                None => {
                    buf.pop_front();
                }
            }
        }
    });
    proxy_tx
}

/// Merge channels of multiples of 'primes' into 'composites'.
fn merge(primes: Receiver<i64>, composites: Sender<i64>) -> Option<()> {
    let mut h: BinaryHeap<PeekCh> = BinaryHeap::new();
    let mut min = 15;
    loop {
        let m = multiples(primes.recv()?);
        let head = m.recv()?;
        while min < head {
            composites.send(min).ok()?;
            let mut minchan = h.pop().expect("heap is empty");
            min = minchan.head;
            minchan.head = minchan.ch.recv()?;
            h.push(minchan);
        }
        while min == head {
            let mut minchan = h.pop().expect("heap is empty");
            min = minchan.head;
            minchan.head = minchan.ch.recv()?;
            h.push(minchan);
        }
        composites.send(head).ok()?;
        h.push(PeekCh {
            head: m.recv()?,
            ch: m,
        });
    }
}

/// Sieve out 'composites' from 'candidates'.
fn sift(primes: Sender<i64>, composites: Receiver<i64>, out: Sender<i64>) -> Option<()> {
    // In order to generate the nth prime we only need multiples of primes ≤ sqrt(nth
    // prime). Thus, the merging goroutine will receive from 'primes' much slower than this
    // goroutine will send to it, making the buffer accumulate and block this goroutine from
    // sending, causing a deadlock. The solution is to use a proxy goroutine to do automatic
    // buffering.
    let primes = sendproxy(primes);
    let candidates = odds();
    let mut p = candidates.recv()?;
    loop {
        let c = composites.recv()?;
        while p < c {
            primes.send(p).ok()?;
            out.send(p).ok()?;
            p = candidates.recv()?;
        }
        if p == c {
            p = candidates.recv()?;
        }
    }
}

/// Return a chan int of primes.
fn sieve() -> Receiver<i64> {
    // The output values.
    let (out_tx, out) = gort::chan(10);
    out_tx.send(2).unwrap();
    out_tx.send(3).unwrap();
    // The channel of all composites to be eliminated in increasing order.
    let (composites_tx, composites) = gort::chan(50);
    // The feedback loop.
    let (primes_tx, primes) = gort::chan(10);
    primes_tx.send(3).unwrap();
    gort::go(move || {
        let _ = merge(primes, composites_tx);
    });
    gort::go(move || {
        let _ = sift(primes_tx, composites, out_tx);
    });
    out
}

#[test]
fn sieve2() {
    let _s = shared();
    go_test(30, || {
        let primes = sieve();
        for want in PRIMES {
            assert_eq!(primes.recv(), Some(want));
        }
    });
}
