//! Select stress tests from Go's `src/runtime/chan_test.go` and `proc_test.go` that
//! golang_chan_test.rs does not cover: the same channel on both sides of one select, raced by
//! two goroutines (TestTimerFairness2's select, repeated; TestSelfSelect at procs=1), and the
//! select tests of chan_test.go written with the dynamic `gort::Select` (TestSelfSelect,
//! TestSelectStress, TestSelectFairness, TestSelectDuplicateChannel, TestNonblockSelectRace
//! and TestNonblockSelectRace2, TestChanSendSelectBarrier, TestMultiConsumer,
//! TestPseudoRandomSend), which must meet a `select!` or another `Select` on the
//! opposite end of an unbuffered channel.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each test names the Go test it comes from.
//!
//! Differences from Go: a Go nil channel in a receive case is `gort::never()`; with the dynamic
//! `Select`, a case is disabled by not adding it. Iteration counts follow Go's
//! `testing.Short()` values in debug builds. The tests fix the number of processors, so they run
//! one at a time.

use gort_test_support::{fair, progress, scaled, wait_for_state, with_procs};

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gort::{Receiver, Select, Sender};

const MS: Duration = Duration::from_millis(1);

// ---- one channel on both sides of a select ----

/// What one goroutine of a torture round did.
#[derive(Default, Debug, Clone, Copy)]
struct Sides {
    sent: u64,
    received: u64,
}

/// One round of TestTimerFairness2's select: two goroutines each loop on
/// `select { c <- true; <-c; <-timer }` over one shared channel, with a 20 ms timer each, until
/// their timer fires. `dynamic`: the select is a `gort::Select` instead of `select!`.
fn torture_round(cap: usize, dynamic: bool) -> [Sides; 2] {
    let (c_tx, c_rx) = gort::chan::<bool>(cap);
    let hs: Vec<_> = (0..2)
        .map(|_| {
            let (c_tx, c_rx) = (c_tx.clone(), c_rx.clone());
            gort::spawn(move || {
                let timer = gort::after(20 * MS);
                let mut sides = Sides::default();
                if dynamic {
                    let mut sel = Select::new();
                    let send = sel.send(&c_tx);
                    let recv = sel.recv(&c_rx);
                    let _ = sel.recv(&timer);
                    loop {
                        let op = sel.select();
                        match op.index() {
                            i if i == send => {
                                op.send(&c_tx, true).unwrap();
                                sides.sent += 1;
                            }
                            i if i == recv => {
                                assert_eq!(op.recv(&c_rx), Some(true));
                                sides.received += 1;
                            }
                            _ => {
                                op.recv(&timer).unwrap();
                                break;
                            }
                        }
                    }
                } else {
                    loop {
                        gort::select! {
                            send(c_tx, true) -> res => {
                                res.unwrap();
                                sides.sent += 1;
                            },
                            recv(c_rx) -> v => {
                                assert_eq!(v, Some(true));
                                sides.received += 1;
                            },
                            recv(timer) -> _ => break,
                        }
                    }
                }
                sides
            })
        })
        .collect();
    let mut out = [Sides::default(); 2];
    for (o, h) in out.iter_mut().zip(hs) {
        *o = h.join().unwrap();
    }
    out
}

/// Runs `rounds` torture rounds on an unbuffered channel at procs=2. A value sent by one
/// goroutine can only be received by the other (a select never meets itself), so each round's
/// sends and receives match exactly; and the two goroutines meet in most rounds.
fn unbuffered_torture(rounds: usize, dynamic: bool) {
    with_procs(2, 120, move || {
        let mut met = 0;
        let mut total = 0;
        for r in 0..rounds {
            if r % 10 == 0 {
                progress(format!("round {r} of {rounds}, met in {met}"));
            }
            let [a, b] = torture_round(0, dynamic);
            assert_eq!(
                (a.sent, b.sent),
                (b.received, a.received),
                "round {r}: sends and receives do not match ({a:?}, {b:?})"
            );
            if a.sent + b.sent > 0 {
                met += 1;
            }
            total += a.sent + b.sent;
        }
        assert!(
            met * 2 >= rounds,
            "the two selects met in only {met} of {rounds} rounds of 20 ms ({total} exchanges)"
        );
    });
}

/// TestTimerFairness2's select, repeated: two goroutines at procs=2, each
/// `loop { select! { send(c, true), recv(c), recv(its 20 ms timer) => break } }` on one shared
/// unbuffered channel; 200 rounds.
#[test]
fn same_channel_select_torture() {
    unbuffered_torture(scaled(200, 50), false);
}

/// The same with a buffered channel (cap 1): a goroutine may receive its own value; every
/// value sent is received or left in the buffer.
#[test]
fn same_channel_select_torture_buffered() {
    with_procs(2, 120, || {
        let rounds = scaled(200, 50);
        for r in 0..rounds {
            if r % 10 == 0 {
                progress(format!("round {r} of {rounds}"));
            }
            let [a, b] = torture_round(1, false);
            let (sent, received) = (a.sent + b.sent, a.received + b.received);
            assert!(
                sent == received || sent == received + 1,
                "round {r}: {sent} sent, {received} received, on a channel of capacity 1"
            );
        }
    });
}

/// The torture with `gort::Select` on both goroutines: two dynamic selects on the two ends of
/// one unbuffered channel must meet (the `Select` docs: "two `Select`s on opposite ends of an unbuffered
/// channel meet").
#[test]
fn same_channel_dynamic_select_torture() {
    unbuffered_torture(scaled(200, 50), true);
}

/// TestSelfSelect at procs=1 (golang_chan_test.rs runs it at the default count): send/recv on
/// the same chan in select does not crash nor deadlock.
#[test]
fn self_select_procs1() {
    with_procs(1, 60, || self_select(false));
}

/// TestSelfSelect with `gort::Select`, at procs 2 and 1.
#[test]
fn self_select_dynamic() {
    for procs in [2, 1] {
        with_procs(procs, 60, || self_select(true));
    }
}

fn self_select(dynamic: bool) {
    for chan_cap in [0, 10] {
        progress(format!("cap {chan_cap}"));
        let (tx, c) = gort::chan::<i32>(chan_cap);
        let mut handles = Vec::new();
        for p in 0..2 {
            let (tx, c) = (tx.clone(), c.clone());
            handles.push(gort::spawn(move || {
                for i in 0..1000 {
                    let recv_first = p != 0 && i % 2 != 0;
                    let v = if dynamic {
                        let mut sel = Select::new();
                        let (send, recv) = if recv_first {
                            let r = sel.recv(&c);
                            (sel.send(&tx), r)
                        } else {
                            let s = sel.send(&tx);
                            (s, sel.recv(&c))
                        };
                        let op = sel.select();
                        if op.index() == send {
                            op.send(&tx, p).unwrap();
                            None
                        } else {
                            assert_eq!(op.index(), recv);
                            op.recv(&c)
                        }
                    } else if recv_first {
                        gort::select! {
                            recv(c) -> v => v,
                            send(tx, p) -> res => { res.unwrap(); None },
                        }
                    } else {
                        gort::select! {
                            send(tx, p) -> res => { res.unwrap(); None },
                            recv(c) -> v => v,
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
}

// ---- chan_test.go's select tests with gort::Select ----

/// TestSelectStress with `gort::Select` on the two select sides: 4 goroutines send N values on
/// each of the chans, 4 receive N values on each, one sends N values on each in a single
/// (dynamic) select and one receives N values on each in a single (dynamic) select; a channel
/// that is done is left out of the select (Go: set to nil). Must not deadlock.
#[test]
fn select_stress_dynamic() {
    with_procs(2, 120, || {
        let n = scaled(100_000, 10_000);
        let (t0, r0) = gort::chan::<i32>(0);
        let (t1, r1) = gort::chan::<i32>(0);
        let (t2, r2) = gort::chan::<i32>(2);
        let (t3, r3) = gort::chan::<i32>(3);
        let tx = [t0, t1, t2, t3];
        let rx = [r0, r1, r2, r3];
        let mut handles = Vec::new();
        for (t, r) in tx.iter().zip(&rx) {
            let t = t.clone();
            handles.push(gort::spawn(move || {
                for _ in 0..n {
                    t.send(0).unwrap();
                }
            }));
            let r = r.clone();
            handles.push(gort::spawn(move || {
                for _ in 0..n {
                    r.recv().unwrap();
                }
            }));
        }
        let c = tx.clone();
        handles.push(gort::spawn(move || {
            let mut n_sent = [0; 4];
            for i in 0..4 * n {
                if i % 10_000 == 0 {
                    progress(format!("dynamic sender at {i}, sent {n_sent:?}"));
                }
                let mut sel = Select::new();
                let mut arms = Vec::new();
                for k in [3, 2, 0, 1] {
                    if n_sent[k] < n {
                        arms.push((sel.send(&c[k]), k));
                    }
                }
                let op = sel.select();
                let k = arms.iter().find(|(i, _)| *i == op.index()).unwrap().1;
                op.send(&c[k], 0).unwrap();
                n_sent[k] += 1;
            }
        }));
        let c = rx.clone();
        handles.push(gort::spawn(move || {
            let mut n_recv = [0; 4];
            for _ in 0..4 * n {
                let mut sel = Select::new();
                let mut arms = Vec::new();
                for k in 0..4 {
                    if n_recv[k] < n {
                        arms.push((sel.recv(&c[k]), k));
                    }
                }
                let op = sel.select();
                let k = arms.iter().find(|(i, _)| *i == op.index()).unwrap().1;
                op.recv(&c[k]).unwrap();
                n_recv[k] += 1;
            }
        }));
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// TestSelectStress with a `select!` sender and a `gort::Select` receiver, and the other way
/// round, on unbuffered channels only: each select side must meet the other kind.
#[test]
fn select_stress_mixed_static_and_dynamic() {
    with_procs(2, 120, || {
        let n = scaled(50_000, 5_000);
        for dynamic_sender in [false, true] {
            progress(format!("dynamic sender: {dynamic_sender}"));
            let (t0, r0) = gort::chan::<usize>(0);
            let (t1, r1) = gort::chan::<usize>(0);
            let sender = gort::spawn(move || {
                for i in 0..2 * n {
                    if dynamic_sender {
                        let mut sel = Select::new();
                        let a = sel.send(&t0);
                        let _ = sel.send(&t1);
                        let op = sel.select();
                        if op.index() == a {
                            op.send(&t0, i).unwrap();
                        } else {
                            op.send(&t1, i).unwrap();
                        }
                    } else {
                        gort::select! {
                            send(t0, i) -> res => res.unwrap(),
                            send(t1, i) -> res => res.unwrap(),
                        }
                    }
                }
            });
            let receiver = gort::spawn(move || {
                let mut got = vec![false; 2 * n];
                for _ in 0..2 * n {
                    let v = if dynamic_sender {
                        gort::select! {
                            recv(r0) -> v => v.unwrap(),
                            recv(r1) -> v => v.unwrap(),
                        }
                    } else {
                        let mut sel = Select::new();
                        let a = sel.recv(&r0);
                        let _ = sel.recv(&r1);
                        let op = sel.select();
                        if op.index() == a {
                            op.recv(&r0).unwrap()
                        } else {
                            op.recv(&r1).unwrap()
                        }
                    };
                    assert!(!got[v], "value {v} received twice");
                    got[v] = true;
                }
                got.iter().all(|&g| g)
            });
            sender.join().unwrap();
            assert!(receiver.join().unwrap(), "a value was lost");
        }
    });
}

/// TestSelectFairness with `gort::Select`: two cases always ready, two never.
#[test]
fn select_fairness_dynamic() {
    with_procs(2, 60, || {
        const TRIALS: usize = 100_000;
        let (c1_tx, c1) = gort::chan::<u8>(TRIALS + 1);
        let (c2_tx, c2) = gort::chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.send(1).unwrap();
            c2_tx.send(2).unwrap();
        }
        let (_c3_tx, c3) = gort::chan::<u8>(0);
        let (_c4_tx, c4) = gort::chan::<u8>(0);
        let (out_tx, out) = gort::chan::<u8>(0);
        let (done_tx, done) = gort::chan::<u8>(0);
        let h = gort::spawn(move || {
            let rxs = [&c3, &c4, &c1, &c2];
            let mut sel = Select::new();
            let idx: Vec<usize> = rxs.iter().map(|r| sel.recv(r)).collect();
            loop {
                let op = sel.select();
                let k = idx.iter().position(|&i| i == op.index()).unwrap();
                let b = op.recv(rxs[k]).unwrap();
                let stop = gort::select! {
                    send(out_tx, b) -> res => res.is_err(),
                    recv(done) -> _ => true,
                };
                if stop {
                    return;
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0, 0);
        for _ in 0..TRIALS {
            match out.recv() {
                Some(1) => cnt1 += 1,
                Some(2) => cnt2 += 1,
                b => panic!("unexpected value {b:?} on channel"),
            }
        }
        assert!(
            fair(cnt1, TRIALS) && fair(cnt2, TRIALS),
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done_tx.close();
        h.join().unwrap();
    });
}

/// TestSelectDuplicateChannel with `gort::Select`: a goroutine can be queued on the same
/// channel several times.
#[test]
fn select_duplicate_channel_dynamic() {
    with_procs(2, 30, || {
        let (c_tx, c) = gort::chan::<i32>(0);
        let (d_tx, d) = gort::chan::<i32>(0);
        let (e_tx, e) = gort::chan::<i32>(0);

        // goroutine A
        let ca = c.clone();
        let (queued_tx, queued) = gort::chan::<()>(1);
        gort::go(move || {
            let mut sel = Select::new();
            let i1 = sel.recv(&ca);
            let i2 = sel.recv(&ca);
            let _ = sel.recv(&d);
            queued_tx.send(()).unwrap();
            let op = sel.select();
            if op.index() == i1 || op.index() == i2 {
                op.recv(&ca);
            } else {
                op.recv(&d);
            }
            e_tx.send(9).unwrap();
        });
        queued.recv().unwrap();
        wait_for_state("select", 1); // make sure goroutine A gets queued first on c

        // goroutine B
        let b = gort::spawn(move || c.recv());
        wait_for_state("chan receive", 1); // make sure goroutine B gets queued on c before continuing

        d_tx.send(7).unwrap(); // wake up A, it dequeues itself from c.
        assert_eq!(e.recv(), Some(9)); // A tells us it's done
        c_tx.send(8).unwrap(); // wake up B.
        assert_eq!(b.join().unwrap(), Some(8));
    });
}

/// TestNonblockSelectRace with `Select::try_select`: from the time the second goroutine is
/// created, at least one of c1 and c2 is always ready for receiving, so its non-blocking select
/// must always receive from one or the other.
#[test]
fn nonblock_select_race_dynamic() {
    with_procs(2, 60, || nonblock_select_race(false));
}

/// TestNonblockSelectRace2 with `Select::try_select`: the same, with close(c2) for c2 <- 1.
#[test]
fn nonblock_select_race2_dynamic() {
    with_procs(2, 60, || nonblock_select_race(true));
}

fn nonblock_select_race(close: bool) {
    let n = scaled(100_000, 10_000);
    let (done_tx, done) = gort::chan(1);
    for i in 0..n {
        if i % 10_000 == 0 {
            progress(format!("try {i}"));
        }
        let (c1_tx, c1) = gort::chan::<i32>(1);
        let (c2_tx, c2) = gort::chan::<i32>(if close { 0 } else { 1 });
        c1_tx.send(1).unwrap();
        let (r1, r2, done_tx) = (c1.clone(), c2.clone(), done_tx.clone());
        gort::go(move || {
            let mut sel = Select::new();
            let a = sel.recv(&r1);
            let _ = sel.recv(&r2);
            let ready = match sel.try_select() {
                Some(op) if op.index() == a => {
                    op.recv(&r1);
                    true
                }
                Some(op) => {
                    op.recv(&r2);
                    true
                }
                None => false,
            };
            done_tx.send(ready).unwrap();
        });
        if close {
            c2_tx.close();
        } else {
            c2_tx.send(1).unwrap();
        }
        let mut sel = Select::new();
        sel.recv(&c1);
        if let Some(op) = sel.try_select() {
            op.recv(&c1);
        }
        assert_eq!(done.recv(), Some(true), "no chan is ready");
    }
}

/// chanbarrier_test.go's doRequest with a dynamic select on the replying side: the reply
/// travels through an unbuffered channel from a fresh goroutine's `Select` over sending it and
/// receiving from `done`.
fn do_request() -> Option<String> {
    let (ch_tx, ch) = gort::chan::<String>(0);
    let (_done_tx, done) = gort::chan::<()>(0);
    gort::go(move || {
        let mut sel = Select::new();
        let s = sel.send(&ch_tx);
        let _ = sel.recv(&done);
        let op = sel.select();
        if op.index() == s {
            let _ = op.send(&ch_tx, String::from("reply"));
        } else {
            op.recv(&done);
        }
    });
    let r = ch.recv();
    gort::yield_now();
    r
}

/// TestChanSendSelectBarrier with `gort::Select` for the select.
#[test]
fn chan_send_select_barrier_dynamic() {
    with_procs(2, 120, || {
        let outer = scaled(100, 10);
        let inner = 1000;
        let mut handles = Vec::new();
        for _ in 0..outer {
            handles.push(gort::spawn(move || {
                let mut garbage = Vec::new();
                for _ in 0..inner {
                    assert_eq!(do_request().as_deref(), Some("reply"));
                    garbage = std::hint::black_box(vec![0u8; 1 << 10]);
                }
                drop(garbage);
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// TestMultiConsumer with the workers receiving through selects (a `gort::Select` for odd
/// workers, `select!` for even ones) that also watch a `quit` channel nobody closes, and the
/// feeder sending through `select!`.
#[test]
fn multi_consumer_select() {
    with_procs(2, 120, || {
        const NWORK: usize = 23;
        let niter = scaled(271_828, 50_000);
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];

        let (q_tx, q) = gort::chan::<usize>(NWORK * 3);
        let (r_tx, r) = gort::chan::<usize>(NWORK * 3);
        let (_quit_tx, quit) = gort::chan::<()>(0);

        // workers
        let wg = gort::sync::WaitGroup::new();
        for w in 0..NWORK {
            wg.add(1);
            let (q, r_tx, wg, quit) = (q.clone(), r_tx.clone(), wg.clone(), quit.clone());
            gort::go(move || {
                loop {
                    let v = if w % 2 == 1 {
                        let mut sel = Select::new();
                        let iq = sel.recv(&q);
                        let _ = sel.recv(&quit);
                        let op = sel.select();
                        if op.index() == iq {
                            op.recv(&q)
                        } else {
                            op.recv(&quit);
                            None
                        }
                    } else {
                        gort::select! {
                            recv(q) -> v => v,
                            recv(quit) -> _ => None,
                        }
                    };
                    let Some(v) = v else { break };
                    // mess with the fifo-ish nature of range
                    if PN[w % PN.len()] == v {
                        gort::yield_now();
                    }
                    gort::select! {
                        send(r_tx, v) -> res => res.unwrap(),
                        recv(quit) -> _ => break,
                    }
                }
                wg.done();
            });
        }
        drop(q);

        // feeder & closer
        let feeder = gort::spawn(move || {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                gort::select! {
                    send(q_tx, v) -> res => res.unwrap(),
                }
            }
            q_tx.close(); // no more work
            wg.wait(); // workers done
            r_tx.close(); // ... so there can be no more results
            expect
        });

        // consume & check
        let (mut n, mut s) = (0, 0);
        for v in &r {
            n += 1;
            s += v;
        }
        let expect = feeder.join().unwrap();
        assert!(
            n == niter && s == expect,
            "Expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    });
}

/// TestPseudoRandomSend with `gort::Select`: two send cases on one channel are chosen
/// pseudo-randomly, with room in the channel (cap n) and with the receiver waiting (cap 0).
#[test]
fn pseudo_random_send_dynamic() {
    with_procs(2, 30, || {
        let n = 100;
        for chan_cap in [0, n] {
            let (tx, c) = gort::chan::<usize>(chan_cap);
            let h = gort::spawn(move || {
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    gort::yield_now();
                    l.push(c.recv().unwrap());
                }
                l
            });
            for _ in 0..n {
                let mut sel = Select::new();
                let one = sel.send(&tx);
                let _ = sel.send(&tx);
                let op = sel.select();
                let v = if op.index() == one { 1 } else { 0 };
                op.send(&tx, v).unwrap();
            }
            let l = h.join().unwrap();
            let n1: usize = l.iter().sum();
            let n0 = n - n1;
            assert!(
                n0 > n / 10 && n1 > n / 10,
                "Want pseudorandom, got {n0} zeros and {n1} ones (chan cap {chan_cap})"
            );
        }
    });
}

/// Many goroutines select on both ends of a few shared unbuffered channels at once (each side
/// of each channel appears in several selects, some `select!`, some `gort::Select`): every
/// value sent is received exactly once, and nobody hangs.
#[test]
fn many_selects_on_both_ends_of_shared_channels() {
    with_procs(2, 120, || {
        const CHANS: usize = 3;
        const G: usize = 8;
        let per = scaled(20_000, 2_000);
        let (txs, rxs): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
            (0..CHANS).map(|_| gort::chan(0)).unzip();
        let received = Arc::new(Mutex::new(HashMap::<usize, usize>::new()));
        let sends_left = Arc::new(AtomicUsize::new(G * per));
        let (quit_tx, quit) = gort::chan::<()>(0);
        let hs: Vec<_> = (0..G)
            .map(|g| {
                let (txs, rxs, received, sends_left, quit) = (
                    txs.clone(),
                    rxs.clone(),
                    received.clone(),
                    sends_left.clone(),
                    quit.clone(),
                );
                gort::spawn(move || {
                    let (a, b) = (g % CHANS, (g + 1) % CHANS);
                    let mut next = 0;
                    let mut mine = HashMap::new();
                    // A goroutine with nothing left to send only receives (and quits): its send
                    // case is on a channel nobody receives from (Go: a nil channel).
                    let (dummy, _dummy_rx) = gort::chan::<usize>(0);
                    loop {
                        let v = g * per + next;
                        let sending = next < per;
                        let stx = if sending { &txs[a] } else { &dummy };
                        let (sent, got, quitting) = if g % 2 == 0 {
                            gort::select! {
                                send(stx, v) -> res => { res.unwrap(); (true, None, false) },
                                recv(rxs[a]) -> w => (false, w, false),
                                recv(rxs[b]) -> w => (false, w, false),
                                recv(quit) -> _ => (false, None, true),
                            }
                        } else {
                            let mut sel = Select::new();
                            let is = sel.send(stx);
                            let ia = sel.recv(&rxs[a]);
                            let ib = sel.recv(&rxs[b]);
                            let _ = sel.recv(&quit);
                            let op = sel.select();
                            match op.index() {
                                i if i == is => {
                                    op.send(stx, v).unwrap();
                                    (true, None, false)
                                }
                                i if i == ia => (false, op.recv(&rxs[a]), false),
                                i if i == ib => (false, op.recv(&rxs[b]), false),
                                _ => {
                                    op.recv(&quit);
                                    (false, None, true)
                                }
                            }
                        };
                        if quitting {
                            break;
                        }
                        if sent {
                            next += 1;
                            sends_left.fetch_sub(1, SeqCst);
                        }
                        if let Some(w) = got {
                            *mine.entry(w).or_insert(0) += 1;
                        }
                    }
                    let mut all = received.lock().unwrap();
                    for (k, v) in mine {
                        *all.entry(k).or_insert(0) += v;
                    }
                })
            })
            .collect();
        let mut last = usize::MAX;
        loop {
            let left = sends_left.load(SeqCst);
            if left == 0 {
                break;
            }
            if left != last {
                progress(format!("{left} sends left"));
                last = left;
            }
            gort::sleep(MS);
        }
        quit_tx.close();
        for h in hs {
            h.join().unwrap();
        }
        let all = received.lock().unwrap();
        assert_eq!(all.len(), G * per, "values lost");
        assert!(
            all.values().all(|&c| c == 1),
            "a value was received more than once"
        );
    });
}
