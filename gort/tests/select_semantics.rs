//! select! and the dynamic `Select` beyond Go's tests (the `select!` docs): large selects, mixed
//! send and receive cases, send values evaluated once and losing values dropped once, the same
//! channel twice, `after` as a timeout, and `gort::Select`.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort::{Receiver, SendError, Sender, TryRecvError};
use gort_test_support::{Tracked, go_test, wait_for_state};

const MS: Duration = Duration::from_millis(1);

// ---- select! ----

/// `select! {}` blocks for ever, as Go's `select {}` does (its goroutine waits in
/// "select (no cases)"; the deadlock detector counts it as blocked).
#[test]
fn a_select_with_no_arms_blocks_for_ever() {
    go_test(30, || {
        let before = gort::runtime::goroutines_by_state()
            .get("select (no cases)")
            .copied()
            .unwrap_or(0);
        let (tx, rx) = gort::chan::<()>(1);
        gort::go(move || {
            tx.send(()).unwrap();
            gort::select! {}
        });
        rx.recv().unwrap();
        wait_for_state("select (no cases)", before + 1);
        gort::sleep(10 * MS);
        wait_for_state("select (no cases)", before + 1);
    });
}

/// A select with one receive case per listed index of `$rxs`.
macro_rules! recv_from_each {
    ($rxs:ident; $($i:literal)*) => {
        gort::select! {
            $( recv($rxs[$i]) -> v => ($i, v), )*
        }
    };
    ($rxs:ident, default => $d:expr; $($i:literal)*) => {
        gort::select! {
            $( recv($rxs[$i]) -> v => ($i, v), )*
            default => $d,
        }
    };
}

/// A select with a send case to `$txs[i]` (value i) and a receive case from `$rxs[i]` per
/// listed index; returns (index, was a send).
macro_rules! send_and_recv_each {
    ($txs:ident, $rxs:ident; $($i:literal)*) => {
        gort::select! {
            $(
                send($txs[$i], $i) -> res => { res.unwrap(); ($i, true) },
                recv($rxs[$i]) -> v => { assert_eq!(v, Some(1000 + $i)); ($i, false) },
            )*
        }
    };
}

#[test]
fn select_with_70_cases() {
    go_test(60, || {
        let (txs, rxs): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
            (0..70).map(|_| gort::chan(1)).unzip();
        // One ready case at a time: it is the one chosen.
        for (k, tx) in txs.iter().enumerate() {
            tx.send(k * 10).unwrap();
            let got = recv_from_each!(rxs;
                0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
                30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
                57 58 59 60 61 62 63 64 65 66 67 68 69);
            assert_eq!(got, (k, Some(k * 10)));
        }
        // None ready: default.
        let got = recv_from_each!(rxs, default => (usize::MAX, None);
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
            57 58 59 60 61 62 63 64 65 66 67 68 69);
        assert_eq!(got, (usize::MAX, None));
        // All ready: every case gets chosen.
        for (i, tx) in txs.iter().enumerate() {
            tx.send(i).unwrap();
        }
        let mut seen = [0usize; 70];
        for _ in 0..7000 {
            let (i, v) = recv_from_each!(rxs;
                0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
                30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
                57 58 59 60 61 62 63 64 65 66 67 68 69);
            assert_eq!(v, Some(i));
            seen[i] += 1;
            txs[i].send(i).unwrap();
        }
        assert!(
            seen.iter().all(|&n| n > 0),
            "some case was never chosen: {seen:?}"
        );
        // Blocking: a goroutine makes one case ready later.
        for rx in &rxs {
            rx.recv().unwrap();
        }
        let t = txs[42].clone();
        gort::go(move || {
            wait_for_state("select", 1);
            t.send(4242).unwrap();
        });
        let got = recv_from_each!(rxs;
            0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29
            30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53 54 55 56
            57 58 59 60 61 62 63 64 65 66 67 68 69);
        assert_eq!(got, (42, Some(4242)));
    });
}

#[test]
fn select_with_70_mixed_send_and_recv_cases() {
    go_test(60, || {
        // Send cases go to full channels, receive cases come from empty ones; one case at a
        // time is made ready.
        let (stx, srx): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
            (0..35).map(|_| gort::chan(1)).unzip();
        let (rtx, rrx): (Vec<Sender<usize>>, Vec<Receiver<usize>>) =
            (0..35).map(|_| gort::chan(1)).unzip();
        for tx in &stx {
            tx.send(usize::MAX).unwrap();
        }
        for k in 0..70 {
            let want = if k % 2 == 0 {
                srx[k / 2].recv().unwrap(); // make room
                (k / 2, true)
            } else {
                rtx[k / 2].send(1000 + k / 2).unwrap();
                (k / 2, false)
            };
            let got = send_and_recv_each!(stx, rrx;
                0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28
                29 30 31 32 33 34);
            assert_eq!(got, want);
            if want.1 {
                assert_eq!(srx[k / 2].len(), 1);
            }
        }
    });
}

#[test]
fn send_value_is_evaluated_once_and_a_losing_value_dropped_once() {
    go_test(30, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let evals = Cell::new(0);
        let make = |id| {
            evals.set(evals.get() + 1);
            Tracked::new(id, &drops)
        };
        let (full_tx, _full_rx) = gort::chan::<Tracked>(0);

        // default wins
        gort::select! {
            send(full_tx, make(1)) -> _ => panic!("sent to a channel nobody receives from"),
            default => {}
        }
        assert_eq!((evals.get(), drops.load(SeqCst)), (1, 1));

        // a receive case wins
        let (ready_tx, ready) = gort::chan::<i32>(1);
        ready_tx.send(5).unwrap();
        let got = gort::select! {
            send(full_tx, make(2)) -> _ => panic!("sent to a channel nobody receives from"),
            recv(ready) -> v => v,
        };
        assert_eq!(got, Some(5));
        assert_eq!((evals.get(), drops.load(SeqCst)), (2, 2));

        // another send case wins: its value is in the channel, not dropped
        let (room_tx, room) = gort::chan::<Tracked>(1);
        gort::select! {
            send(full_tx, make(3)) -> _ => panic!("sent to a channel nobody receives from"),
            send(room_tx, make(4)) -> res => res.unwrap(),
        }
        assert_eq!((evals.get(), drops.load(SeqCst)), (4, 3));
        let v = room.recv().unwrap();
        assert_eq!(v.id, 4);
        drop(v);
        assert_eq!(drops.load(SeqCst), 4);

        // a closed channel gives the value back in the error
        let (closed_tx, _closed) = gort::chan::<Tracked>(0);
        closed_tx.close();
        let res = gort::select! {
            send(closed_tx, make(5)) -> res => res,
        };
        assert_eq!(evals.get(), 5);
        match res {
            Err(SendError(v)) => {
                assert_eq!(v.id, 5);
                assert_eq!(drops.load(SeqCst), 4);
            }
            Ok(()) => panic!("sent on a closed channel"),
        }
        assert_eq!(drops.load(SeqCst), 5);

        // blocking: the send case loses to a receive that becomes ready later
        let (late_tx, late) = gort::chan::<i32>(0);
        gort::go(move || {
            wait_for_state("select", 1);
            late_tx.send(6).unwrap();
        });
        let got = gort::select! {
            send(full_tx, make(6)) -> _ => panic!("sent to a channel nobody receives from"),
            recv(late) -> v => v,
        };
        assert_eq!(got, Some(6));
        assert_eq!((evals.get(), drops.load(SeqCst)), (6, 6));

        // blocking: the send case wins when a receiver comes
        let (hand_tx, hand) = gort::chan::<Tracked>(0);
        let h = gort::spawn(move || {
            wait_for_state("select", 1);
            hand.recv().map(|v| v.id)
        });
        let (_idle_tx, idle) = gort::chan::<i32>(0);
        gort::select! {
            send(hand_tx, make(7)) -> res => res.unwrap(),
            recv(idle) -> _ => panic!("nobody sends here"),
        }
        assert_eq!(h.join().unwrap(), Some(7));
        assert_eq!((evals.get(), drops.load(SeqCst)), (7, 7));
    });
}

#[test]
fn send_values_are_evaluated_in_case_order() {
    go_test(30, || {
        let log = RefCell::new(Vec::new());
        let note = |what: &'static str| {
            log.borrow_mut().push(what);
            0
        };
        let (a_tx, _a) = gort::chan::<i32>(0);
        let (b_tx, _b) = gort::chan::<i32>(0);
        let (_c_tx, c) = gort::chan::<i32>(0);
        let (d_tx, _d) = gort::chan::<i32>(0);
        gort::select! {
            send(a_tx, note("first")) -> _ => unreachable!(),
            recv(c) -> _ => unreachable!(),
            send(b_tx, note("second")) -> _ => unreachable!(),
            default => {},
            send(d_tx, note("third")) -> _ => unreachable!(),
        }
        assert_eq!(*log.borrow(), ["first", "second", "third"]);
    });
}

#[test]
fn same_channel_twice_in_one_select() {
    go_test(30, || {
        // Two receive cases on one channel: one value, exactly one case.
        let (tx, rx) = gort::chan::<i32>(1);
        let mut counts = [0; 2];
        for i in 0..2000 {
            tx.send(i).unwrap();
            let k = gort::select! {
                recv(rx) -> v => { assert_eq!(v, Some(i)); 0 },
                recv(rx) -> v => { assert_eq!(v, Some(i)); 1 },
            };
            counts[k] += 1;
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        }
        assert!(counts[0] > 600 && counts[1] > 600, "{counts:?}");

        // Send and receive cases on one buffered channel.
        let (tx, rx) = gort::chan::<i32>(1);
        let sent = gort::select! {
            send(tx, 5) -> res => { res.unwrap(); true },
            recv(rx) -> _ => false,
        };
        assert!(sent, "received from an empty channel");
        let got = gort::select! {
            send(tx, 6) -> _ => None,
            recv(rx) -> v => v,
        };
        assert_eq!(got, Some(5), "sent to a full channel");

        // Both ready (one value, one free slot): either may be chosen.
        let (tx, rx) = gort::chan::<i32>(2);
        let mut outcomes = [0; 2];
        for _ in 0..1000 {
            tx.send(1).unwrap();
            let k = gort::select! {
                send(tx, 2) -> res => { res.unwrap(); 0 },
                recv(rx) -> v => { assert_eq!(v, Some(1)); 1 },
            };
            outcomes[k] += 1;
            while rx.try_recv().is_ok() {}
        }
        assert!(outcomes[0] > 300 && outcomes[1] > 300, "{outcomes:?}");

        // Two send cases on one channel with one free slot: one value goes in, one is dropped.
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = gort::chan::<Tracked>(1);
        gort::select! {
            send(tx, Tracked::new(1, &drops)) -> res => res.unwrap(),
            send(tx, Tracked::new(2, &drops)) -> res => res.unwrap(),
        }
        assert_eq!(drops.load(SeqCst), 1);
        assert_eq!(rx.len(), 1);
        let id = rx.recv().unwrap().id;
        assert!(id == 1 || id == 2);
        assert_eq!(drops.load(SeqCst), 2);
    });
}

#[test]
fn after_as_a_select_timeout() {
    go_test(30, || {
        let (_keep, rx) = gort::chan::<i32>(0);
        let d = 50 * MS;
        let start = Instant::now();
        let fired = gort::select! {
            recv(rx) -> _ => None,
            recv(gort::after(d)) -> t => t,
        };
        let took = start.elapsed();
        let fired = fired.expect("the timer channel closed");
        assert!(fired >= start + d, "fired early");
        assert!(
            took >= d && took < d + Duration::from_secs(2),
            "took {took:?}"
        );

        // A ready channel beats a long timeout.
        let (tx, rx) = gort::chan::<i32>(1);
        for i in 0..100 {
            tx.send(i).unwrap();
            let got = gort::select! {
                recv(rx) -> v => v,
                recv(gort::after(Duration::from_secs(3600))) -> _ => None,
            };
            assert_eq!(got, Some(i));
        }
    });
}

// ---- gort::Select ----

#[test]
fn dynamic_select_recv() {
    go_test(30, || {
        let chans: Vec<(Sender<usize>, Receiver<usize>)> = (0..10).map(|_| gort::chan(1)).collect();
        chans[7].0.send(70).unwrap();
        let mut sel = gort::Select::new();
        let idx: Vec<usize> = chans.iter().map(|(_, rx)| sel.recv(rx)).collect();
        let op = sel.select();
        assert_eq!(op.index(), idx[7]);
        assert_eq!(op.recv(&chans[7].1), Some(70));

        // Nothing ready.
        assert!(sel.try_select().is_none());
        let start = Instant::now();
        assert!(sel.select_timeout(30 * MS).is_none());
        assert!(start.elapsed() >= 30 * MS);

        // Ready later: select blocks, select_timeout waits.
        let t = chans[3].0.clone();
        gort::go(move || {
            wait_for_state("select", 1);
            t.send(30).unwrap();
        });
        let op = sel.select();
        assert_eq!(op.index(), idx[3]);
        assert_eq!(op.recv(&chans[3].1), Some(30));
        let t = chans[5].0.clone();
        gort::go(move || {
            wait_for_state("select", 1);
            t.send(50).unwrap();
        });
        let op = sel
            .select_timeout(Duration::from_secs(10))
            .expect("timed out");
        assert_eq!(op.index(), idx[5]);
        assert_eq!(op.recv(&chans[5].1), Some(50));

        // A closed channel is ready, and yields None.
        chans[1].0.close();
        let op = sel.try_select().expect("a closed channel is ready");
        assert_eq!(op.index(), idx[1]);
        assert_eq!(op.recv(&chans[1].1), None);
    });
}

#[test]
fn dynamic_select_send() {
    go_test(30, || {
        let (a_tx, a) = gort::chan::<String>(1);
        let (b_tx, b) = gort::chan::<String>(1);
        a_tx.send("full".into()).unwrap();
        let mut sel = gort::Select::new();
        let ia = sel.send(&a_tx);
        let ib = sel.send(&b_tx);
        assert_ne!(ia, ib);
        let op = sel.try_select().expect("b has room");
        assert_eq!(op.index(), ib);
        op.send(&b_tx, "to b".into()).unwrap();
        assert_eq!(b.recv().as_deref(), Some("to b"));

        // Mixed with receives, blocking until a receiver makes room.
        let (_c_tx, c) = gort::chan::<String>(0);
        b_tx.send("full".into()).unwrap();
        let mut sel = gort::Select::new();
        let ia = sel.send(&a_tx);
        let ib = sel.send(&b_tx);
        let ic = sel.recv(&c);
        let r = a.clone();
        gort::go(move || {
            wait_for_state("select", 1);
            r.recv();
        });
        let op = sel.select();
        assert_eq!(op.index(), ia);
        assert_ne!(op.index(), ic);
        op.send(&a_tx, "to a".into()).unwrap();
        assert_eq!(a.recv().as_deref(), Some("to a"));
        assert_eq!(b.len(), 1);
        let _ = ib;

        // A closed channel's send case is ready and gives the value back.
        let (d_tx, _d) = gort::chan::<String>(0);
        d_tx.close();
        let mut sel = gort::Select::new();
        let id = sel.send(&d_tx);
        let op = sel.select();
        assert_eq!(op.index(), id);
        assert!(matches!(op.send(&d_tx, "back".into()), Err(SendError(v)) if v == "back"));
    });
}

#[test]
fn dynamic_select_is_fair_and_reusable() {
    go_test(30, || {
        let (txs, rxs): (Vec<Sender<u8>>, Vec<Receiver<u8>>) =
            (0..4).map(|_| gort::chan(1)).unzip();
        for tx in &txs {
            tx.send(0).unwrap();
        }
        let mut sel = gort::Select::new();
        let idx: Vec<usize> = rxs.iter().map(|rx| sel.recv(rx)).collect();
        let mut counts = [0usize; 4];
        for _ in 0..40_000 {
            let op = sel.select();
            let i = idx.iter().position(|&x| x == op.index()).unwrap();
            assert_eq!(op.recv(&rxs[i]), Some(0));
            counts[i] += 1;
            txs[i].send(0).unwrap();
        }
        for c in counts {
            assert!((9_000..=11_000).contains(&c), "unfair: {counts:?}");
        }
    });
}

/// Arm syntax as in `match`: no comma needed after a block-like body (`match`, `if`, a
/// block), and a send value coerces to the channel's type as it would in `Sender::send`.
#[test]
fn arm_bodies_and_send_values_read_like_match_arms() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(1);
        tx.send(5).unwrap();
        let r = gort::select! {
            recv(rx) -> v => match v {
                Some(n) => n * 2,
                None => -1,
            }
            recv(gort::never::<i32>()) -> _ => if true { 0 } else { 1 }
            recv(gort::never::<i32>()) -> _ => { -3 }
            default => { -2 }
        };
        assert_eq!(r, 10);

        let (dtx, drx) = gort::chan::<Box<dyn std::fmt::Display + Send>>(1);
        gort::select! {
            send(dtx, Box::new(42)) -> res => res.unwrap(),
        }
        assert_eq!(drx.recv().unwrap().to_string(), "42");
        let (stx, srx) = gort::chan::<&'static str>(1);
        let msg: &'static String = Box::leak(Box::new(String::from("hi")));
        gort::select! {
            send(&stx, msg) -> res => res.unwrap(),
        }
        assert_eq!(srx.recv(), Some("hi"));
    });
}
