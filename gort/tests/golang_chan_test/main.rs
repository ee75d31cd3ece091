//! The semantic tests of Go's `src/runtime/chan_test.go` and `chanbarrier_test.go`, translated
//! to gort where they map onto its API.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each test names the Go test it comes from.
//!
//! Differences from Go: receiving from a closed channel gives `None` (Go: the zero value and
//! ok == false); a Go nil channel in a receive case is `gort::never()`, and in a send case an
//! unbuffered channel that nobody receives from (no nil Sender exists). Tests that only check
//! the garbage collector or allocation counts (TestChanAlloc and the benchmarks) are not ported;
//! the stack-shrinking tests are kept as plain blocking tests (gort stacks never move).
//! Iteration counts follow Go's `testing.Short()` values in debug builds.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::*};
use std::time::{Duration, Instant};

use gort::{Receiver, Sender};
use gort_test_support::{fair, go_test, scaled, wait_for_state};

mod select;

/// Go's stackGrowthRecursive: use about 1 KiB of stack per level, briefly.
fn stack_growth_recursive(i: usize) {
    let mut pad = [0u64; 128];
    std::hint::black_box(&mut pad);
    if i != 0 && pad[0] == 0 {
        stack_growth_recursive(i - 1);
    }
}

/// TestChan
#[test]
fn test_chan() {
    go_test(120, || {
        let n = scaled(200, 40);
        for chan_cap in 0..n {
            {
                // Ensure that receive from empty chan blocks.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                let recv1 = Arc::new(AtomicBool::new(false));
                let recv2 = Arc::new(AtomicBool::new(false));
                {
                    let (c, recv1) = (c.clone(), recv1.clone());
                    gort::go(move || {
                        let _ = c.recv();
                        recv1.store(true, SeqCst);
                    });
                }
                {
                    let (c, recv2) = (c.clone(), recv2.clone());
                    gort::go(move || {
                        let _ = c.iter().next();
                        recv2.store(true, SeqCst);
                    });
                }
                wait_for_state("chan receive", 2);
                assert!(
                    !recv1.load(SeqCst) && !recv2.load(SeqCst),
                    "chan[{chan_cap}]: receive from empty chan"
                );
                // Ensure that non-blocking receive does not block.
                gort::select! {
                    recv(c) -> _ => panic!("chan[{chan_cap}]: receive from empty chan"),
                    default => {}
                }
                assert!(
                    c.try_recv().is_err(),
                    "chan[{chan_cap}]: receive from empty chan"
                );
                tx.send(0).unwrap();
                tx.send(0).unwrap();
            }

            {
                // Ensure that send to full chan blocks.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                for i in 0..chan_cap {
                    tx.send(i as i32).unwrap();
                }
                let sent = Arc::new(AtomicU32::new(0));
                {
                    let (tx, sent) = (tx.clone(), sent.clone());
                    gort::go(move || {
                        tx.send(0).unwrap();
                        sent.store(1, SeqCst);
                    });
                }
                wait_for_state("chan send", 1);
                assert_eq!(sent.load(SeqCst), 0, "chan[{chan_cap}]: send to full chan");
                // Ensure that non-blocking send does not block.
                gort::select! {
                    send(tx, 0) -> _ => panic!("chan[{chan_cap}]: send to full chan"),
                    default => {}
                }
                c.recv();
            }

            {
                // Ensure that we receive 0 (None) from closed chan.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                for i in 0..chan_cap {
                    tx.send(i as i32).unwrap();
                }
                tx.close();
                for i in 0..chan_cap {
                    assert_eq!(c.recv(), Some(i as i32), "chan[{chan_cap}]");
                }
                assert_eq!(c.recv(), None, "chan[{chan_cap}]");
                assert_eq!(c.recv(), None, "chan[{chan_cap}]");
            }

            {
                // Ensure that close unblocks receive.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                let (done_tx, done) = gort::chan(0);
                gort::go(move || {
                    let v = c.recv();
                    done_tx.send(v.is_none()).unwrap();
                });
                wait_for_state("chan receive", 1);
                tx.close();
                assert_eq!(
                    done.recv(),
                    Some(true),
                    "chan[{chan_cap}]: received non zero from closed chan"
                );
            }

            {
                // Send 100 integers, ensure that we receive them non-corrupted in FIFO order.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                let t = tx.clone();
                gort::go(move || {
                    for i in 0..100 {
                        t.send(i).unwrap();
                    }
                });
                for i in 0..100 {
                    assert_eq!(c.recv(), Some(i), "chan[{chan_cap}]");
                }

                // Same, but using the iterator.
                let t = tx.clone();
                gort::go(move || {
                    for i in 0..100 {
                        t.send(i).unwrap();
                    }
                });
                for (i, v) in c.iter().take(100).enumerate() {
                    assert_eq!(v, i as i32, "chan[{chan_cap}]");
                }

                // Send 1000 integers in 4 goroutines, ensure that we receive what we send.
                const P: usize = 4;
                const L: i32 = 1000;
                for _ in 0..P {
                    let t = tx.clone();
                    gort::go(move || {
                        for i in 0..L {
                            t.send(i).unwrap();
                        }
                    });
                }
                let (done_tx, done) = gort::chan::<HashMap<i32, usize>>(0);
                for _ in 0..P {
                    let (c, done_tx) = (c.clone(), done_tx.clone());
                    gort::go(move || {
                        let mut recv = HashMap::new();
                        for _ in 0..L {
                            let v = c.recv().unwrap();
                            *recv.entry(v).or_insert(0) += 1;
                        }
                        done_tx.send(recv).unwrap();
                    });
                }
                let mut recv = HashMap::new();
                for _ in 0..P {
                    for (k, v) in done.recv().unwrap() {
                        *recv.entry(k).or_insert(0) += v;
                    }
                }
                assert_eq!(recv.len(), L as usize, "chan[{chan_cap}]: received values");
                for (k, v) in recv {
                    assert_eq!(v, P, "chan[{chan_cap}]: received {k} {v} times");
                }
            }

            {
                // Test len/cap.
                let (tx, c) = gort::chan::<i32>(chan_cap);
                assert_eq!((c.len(), c.capacity()), (0, chan_cap), "chan[{chan_cap}]");
                for i in 0..chan_cap {
                    tx.send(i as i32).unwrap();
                }
                assert_eq!(
                    (c.len(), c.capacity()),
                    (chan_cap, chan_cap),
                    "chan[{chan_cap}]"
                );
                assert_eq!(
                    (tx.len(), tx.capacity()),
                    (chan_cap, chan_cap),
                    "chan[{chan_cap}]"
                );
            }
        }
    });
}

/// TestNonblockRecvRace
#[test]
fn nonblock_recv_race() {
    go_test(60, || {
        let n = scaled(10_000, 1_000);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, c) = gort::chan(1);
            tx.send(1).unwrap();
            let c2 = c.clone();
            handles.push(gort::spawn(move || {
                gort::select! {
                    recv(c2) -> _ => true,
                    default => false,
                }
            }));
            tx.close();
            c.recv();
        }
        for h in handles {
            assert!(h.join().unwrap(), "chan is not ready");
        }
    });
}

/// TestNonblockSelectRace: select acts on the state of the channels at one moment in the
/// execution, not over a smeared time window. In the test, one goroutine does:
///   create c1, c2
///   make c1 ready for receiving
///   create second goroutine
///   make c2 ready for receiving
///   make c1 no longer ready for receiving (if possible)
/// The second goroutine does a non-blocking select receiving from c1 and c2. From the time the
/// second goroutine is created, at least one of c1 and c2 is always ready for receiving, so the
/// select in the second goroutine must always receive from one or the other. It must never
/// execute the default case.
#[test]
fn nonblock_select_race() {
    go_test(60, || {
        let n = scaled(100_000, 10_000);
        let (done_tx, done) = gort::chan(1);
        for _ in 0..n {
            let (c1_tx, c1) = gort::chan::<i32>(1);
            let (c2_tx, c2) = gort::chan::<i32>(1);
            c1_tx.send(1).unwrap();
            let (r1, r2, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
            gort::go(move || {
                let ready = gort::select! {
                    recv(r1) -> _ => true,
                    recv(r2) -> _ => true,
                    default => false,
                };
                done_tx.send(ready).unwrap();
            });
            c2_tx.send(1).unwrap();
            gort::select! {
                recv(c1) -> _ => {},
                default => {}
            }
            assert_eq!(done.recv(), Some(true), "no chan is ready");
        }
    });
}

/// TestNonblockSelectRace2: the same, but close(c2) replaces c2 <- 1.
#[test]
fn nonblock_select_race2() {
    go_test(60, || {
        let n = scaled(100_000, 10_000);
        let (done_tx, done) = gort::chan(1);
        for _ in 0..n {
            let (c1_tx, c1) = gort::chan::<i32>(1);
            let (c2_tx, c2) = gort::chan::<i32>(0);
            c1_tx.send(1).unwrap();
            let (r1, r2, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
            gort::go(move || {
                let ready = gort::select! {
                    recv(r1) -> _ => true,
                    recv(r2) -> _ => true,
                    default => false,
                };
                done_tx.send(ready).unwrap();
            });
            c2_tx.close();
            gort::select! {
                recv(c1) -> _ => {},
                default => {}
            }
            assert_eq!(done.recv(), Some(true), "no chan is ready");
        }
    });
}

/// TestSelfSelect: send/recv on the same chan in select does not crash nor deadlock.
#[test]
fn self_select() {
    go_test(60, || {
        for chan_cap in [0, 10] {
            let (tx, c) = gort::chan::<i32>(chan_cap);
            let mut handles = Vec::new();
            for p in 0..2 {
                let (tx, c) = (tx.clone(), c.clone());
                handles.push(gort::spawn(move || {
                    for i in 0..1000 {
                        let v = if p == 0 || i % 2 == 0 {
                            gort::select! {
                                send(tx, p) -> res => { res.unwrap(); None },
                                recv(c) -> v => v,
                            }
                        } else {
                            gort::select! {
                                recv(c) -> v => v,
                                send(tx, p) -> res => { res.unwrap(); None },
                            }
                        };
                        assert!(chan_cap != 0 || v != Some(p), "self receive");
                    }
                }));
            }
            for h in handles {
                h.join().unwrap();
            }
        }
    });
}
