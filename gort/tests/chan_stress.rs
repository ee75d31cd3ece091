//! Multi-producer multi-consumer stress with procs = 2: 8 senders and 8 receivers move
//! 1,000,000 values (100,000 in debug builds) and every value must arrive exactly once, in its
//! sender's order as seen by any one receiver (FIFO per channel); the same through `select!`
//! over 4 channels. The tests fix the number of processors, so they run one at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::*};

use gort::{Receiver, Sender};
use gort_test_support::with_procs;

const SENDERS: u64 = 8;
const RECEIVERS: usize = 8;

/// Values moved in total (split evenly between the senders): in release, 1,000,000 per sender
/// (8 senders x 8 receivers x 1,000,000 values); debug builds move 100,000 in all.
fn total() -> u64 {
    if cfg!(debug_assertions) {
        100_000
    } else {
        SENDERS * 1_000_000
    }
}

/// One bit per value: set exactly once.
struct Seen {
    bits: Vec<AtomicU64>,
}

impl Seen {
    fn new(n: u64) -> Seen {
        Seen {
            bits: (0..n.div_ceil(64)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    fn mark(&self, v: u64) {
        let bit = 1 << (v % 64);
        let old = self.bits[(v / 64) as usize].fetch_or(bit, Relaxed);
        assert_eq!(old & bit, 0, "value {v} received twice");
    }

    fn check_all(&self, n: u64) {
        for v in 0..n {
            let word = self.bits[(v / 64) as usize].load(Relaxed);
            assert_ne!(word & (1 << (v % 64)), 0, "value {v} never received");
        }
    }
}

/// What one receiver saw of each sender: values from one sender arrive in increasing order.
struct Order {
    per_sender: u64,
    last: [Option<u64>; SENDERS as usize],
    count: u64,
}

impl Order {
    fn new(per_sender: u64) -> Order {
        Order {
            per_sender,
            last: [None; SENDERS as usize],
            count: 0,
        }
    }

    fn see(&mut self, v: u64) {
        let s = (v / self.per_sender) as usize;
        assert!(s < SENDERS as usize, "value {v} out of range");
        if let Some(prev) = self.last[s] {
            assert!(v > prev, "sender {s}: {v} arrived after {prev}");
        }
        self.last[s] = Some(v);
        self.count += 1;
    }
}

/// 8 senders × 8 receivers on one channel of capacity `cap`.
fn mpmc(cap: usize) {
    let n = total();
    let per_sender = n / SENDERS;
    let seen = Arc::new(Seen::new(n));
    let (tx, rx) = gort::chan::<u64>(cap);
    let senders: Vec<_> = (0..SENDERS)
        .map(|s| {
            let tx = tx.clone();
            gort::spawn(move || {
                for i in 0..per_sender {
                    tx.send(s * per_sender + i).unwrap();
                }
            })
        })
        .collect();
    drop(tx);
    let receivers: Vec<_> = (0..RECEIVERS)
        .map(|_| {
            let (rx, seen) = (rx.clone(), seen.clone());
            gort::spawn(move || {
                let mut order = Order::new(per_sender);
                for v in &rx {
                    seen.mark(v);
                    order.see(v);
                }
                order.count
            })
        })
        .collect();
    drop(rx);
    for h in senders {
        h.join().unwrap();
    }
    let received: u64 = receivers.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(received, n);
    seen.check_all(n);
}

#[test]
fn mpmc_exactly_once_unbuffered() {
    with_procs(2, 300, || mpmc(0));
}

#[test]
fn mpmc_exactly_once_buffered() {
    with_procs(2, 300, || mpmc(64));
}

/// The same through `select!`: each sender offers every value to 4 channels (of capacities 0,
/// 1, 16 and 256) at once; each receiver takes from all 4 at once.
#[test]
fn mpmc_exactly_once_through_select() {
    with_procs(2, 300, || {
        let n = total();
        let per_sender = n / SENDERS;
        let seen = Arc::new(Seen::new(n));
        let (txs, rxs): (Vec<Sender<u64>>, Vec<Receiver<u64>>) =
            [0, 1, 16, 256].into_iter().map(gort::chan).unzip();
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let c = txs.clone();
                gort::spawn(move || {
                    let mut per_chan = [0u64; 4];
                    for i in 0..per_sender {
                        let v = s * per_sender + i;
                        let k = gort::select! {
                            send(c[0], v) -> res => { res.unwrap(); 0 },
                            send(c[1], v) -> res => { res.unwrap(); 1 },
                            send(c[2], v) -> res => { res.unwrap(); 2 },
                            send(c[3], v) -> res => { res.unwrap(); 3 },
                        };
                        per_chan[k] += 1;
                    }
                    per_chan
                })
            })
            .collect();
        drop(txs);
        let receivers: Vec<_> = (0..RECEIVERS)
            .map(|_| {
                let (c, seen) = (rxs.clone(), seen.clone());
                gort::spawn(move || {
                    let mut c: [Receiver<u64>; 4] = c.try_into().unwrap();
                    // No order check: a sender's values take different channels.
                    let mut count = 0u64;
                    let mut open = 4;
                    while open > 0 {
                        let (k, v) = gort::select! {
                            recv(c[0]) -> v => (0, v),
                            recv(c[1]) -> v => (1, v),
                            recv(c[2]) -> v => (2, v),
                            recv(c[3]) -> v => (3, v),
                        };
                        match v {
                            Some(v) => {
                                seen.mark(v);
                                count += 1;
                            }
                            None => {
                                // Closed: disable the case (Go sets the channel to nil).
                                c[k] = gort::never();
                                open -= 1;
                            }
                        }
                    }
                    count
                })
            })
            .collect();
        drop(rxs);
        let mut per_chan = [0u64; 4];
        for h in senders {
            for (total, n) in per_chan.iter_mut().zip(h.join().unwrap()) {
                *total += n;
            }
        }
        let received: u64 = receivers.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(received, n);
        assert_eq!(per_chan.iter().sum::<u64>(), n);
        assert!(
            per_chan.iter().all(|&c| c > 0),
            "a channel was never used: {per_chan:?}"
        );
        seen.check_all(n);
    });
}

/// Goroutines locked to their threads (which park by blocking the thread and, once they gave
/// their processor away, wait for a scheduler to hand one back) exchange values with ordinary
/// goroutines and with each other: nothing is lost, nothing hangs, and each locked goroutine
/// stays on its thread.
#[test]
fn locked_goroutines_ping_pong_with_unlocked_ones() {
    let rounds: u64 = if cfg!(debug_assertions) {
        2_000
    } else {
        50_000
    };
    with_procs(2, 120, move || {
        let (to_locked, locked_rx) = gort::chan::<u64>(0);
        let (to_free, free_rx) = gort::chan::<u64>(0);
        let locked: Vec<_> = (0..3)
            .map(|_| {
                let (rx, tx) = (locked_rx.clone(), to_free.clone());
                gort::spawn(move || {
                    gort::lock_os_thread();
                    // SAFETY: gettid has no preconditions.
                    let tid = unsafe { libc::gettid() };
                    let mut n = 0u64;
                    while let Some(v) = rx.recv() {
                        // SAFETY: as above.
                        assert_eq!(unsafe { libc::gettid() }, tid, "a locked goroutine moved");
                        n += 1;
                        if tx.send(v + 1).is_err() {
                            break;
                        }
                    }
                    gort::unlock_os_thread();
                    n
                })
            })
            .collect();
        drop((locked_rx, to_free));
        let free: Vec<_> = (0..3)
            .map(|k| {
                let (tx, rx) = (to_locked.clone(), free_rx.clone());
                gort::spawn(move || {
                    let mut sum = 0u64;
                    for i in 0..rounds {
                        tx.send(k * rounds + i).unwrap();
                        sum += rx.recv().unwrap();
                    }
                    sum
                })
            })
            .collect();
        drop(to_locked);
        let sum: u64 = free.into_iter().map(|h| h.join().unwrap()).sum();
        let n = 3 * rounds;
        assert_eq!(
            sum,
            n * (n - 1) / 2 + n,
            "every value came back incremented once"
        );
        drop(free_rx);
        let handled: u64 = locked.into_iter().map(|h| h.join().unwrap()).sum();
        assert_eq!(handled, n);
    });
}
