//! Channel and select semantics that gort promises beyond Go's tests (API.md "Channels" and
//! "select!"): close and drop rules, the value coming back in every send error, timeouts,
//! iteration, `never()`, zero-sized values, large selects, send-value evaluation, the dynamic
//! `Select`, and channels shared between plain threads and goroutines.

mod common;

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use common::bounded;
use gort::{
    Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};

/// Runs `f` as a goroutine, failing the test if it takes longer than `secs` seconds.
fn go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded(secs, move || gort::run(f))
}

const MS: Duration = Duration::from_millis(1);

/// Polls `cond` every millisecond for up to 5 s.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        gort::sleep(MS);
    }
}

/// A value that counts its drops.
#[derive(Debug)]
struct Tracked {
    id: usize,
    drops: Arc<AtomicUsize>,
}

impl Tracked {
    fn new(id: usize, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, SeqCst);
    }
}

#[test]
fn handles_are_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Sender<String>>();
    check::<Receiver<String>>();
    check::<Sender<()>>();
    check::<Receiver<Instant>>();
}

// ---- close ----

#[test]
fn close_delivers_buffered_values_then_none() {
    go_test(30, || {
        let (tx, rx) = gort::chan(5);
        for i in 0..3 {
            tx.send(i).unwrap();
        }
        tx.close();
        assert!(tx.is_closed() && rx.is_closed());
        assert_eq!(rx.len(), 3);
        for i in 0..3 {
            assert_eq!(rx.recv(), Some(i));
        }
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(rx.recv_timeout(MS), Err(RecvTimeoutError::Closed));
    });
}

#[test]
fn send_after_close_returns_the_value() {
    go_test(30, || {
        for cap in [0, 1, 4] {
            let (tx, rx) = gort::chan::<String>(cap);
            tx.close();
            match tx.send("kept".to_string()) {
                Err(SendError(v)) => assert_eq!(v, "kept"),
                Ok(()) => panic!("send on a closed channel succeeded"),
            }
            assert!(matches!(tx.try_send("a".into()), Err(TrySendError::Closed(v)) if v == "a"));
            assert!(matches!(
                tx.send_timeout("b".into(), MS),
                Err(SendTimeoutError::Closed(v)) if v == "b"
            ));
            let res = gort::select! {
                send(tx, "c".to_string()) -> res => res,
            };
            assert!(matches!(res, Err(SendError(v)) if v == "c"));
            assert_eq!(rx.recv(), None);
        }
    });
}

#[test]
fn close_twice_is_harmless() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(1);
        tx.send(1).unwrap();
        let tx2 = tx.clone();
        tx.close();
        tx.close();
        tx2.close();
        assert_eq!(rx.recv(), Some(1));
        assert_eq!(rx.recv(), None);
        drop(tx);
        drop(tx2);
        assert_eq!(rx.recv(), None);
    });
}

#[test]
fn close_wakes_blocked_senders_with_their_values() {
    go_test(30, || {
        for cap in [0, 1] {
            let (tx, rx) = gort::chan::<String>(cap);
            if cap == 1 {
                tx.send("buffered".into()).unwrap();
            }
            let senders: Vec<_> = (0..3)
                .map(|i| {
                    let tx = tx.clone();
                    gort::spawn(move || tx.send(format!("v{i}")))
                })
                .collect();
            gort::sleep(20 * MS);
            tx.close();
            for (i, h) in senders.into_iter().enumerate() {
                match h.join().unwrap() {
                    Err(SendError(v)) => assert_eq!(v, format!("v{i}")),
                    Ok(()) => panic!("send completed on a channel nobody received from"),
                }
            }
            if cap == 1 {
                assert_eq!(rx.recv().as_deref(), Some("buffered"));
            }
            assert_eq!(rx.recv(), None);
        }
    });
}

#[test]
fn close_wakes_blocked_receivers() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(0);
        let receivers: Vec<_> = (0..3)
            .map(|_| {
                let rx = rx.clone();
                gort::spawn(move || rx.recv())
            })
            .collect();
        let selector = {
            let rx = rx.clone();
            gort::spawn(move || {
                gort::select! {
                    recv(rx) -> v => v,
                }
            })
        };
        gort::sleep(20 * MS);
        tx.close();
        for h in receivers {
            assert_eq!(h.join().unwrap(), None);
        }
        assert_eq!(selector.join().unwrap(), None);
    });
}

// ---- dropping the ends ----

#[test]
fn dropping_the_last_sender_closes() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(2);
        let tx2 = tx.clone();
        tx.send(7).unwrap();
        drop(tx);
        assert!(!rx.is_closed());
        assert_eq!(rx.recv(), Some(7));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx2.send(8).unwrap();
        drop(tx2);
        assert!(rx.is_closed());
        assert_eq!(rx.recv(), Some(8)); // buffered values are still delivered
        assert_eq!(rx.recv(), None);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
    });
}

#[test]
fn dropping_the_last_sender_wakes_receivers() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(0);
        let h = gort::spawn(move || rx.recv());
        let (tx2, rx2) = gort::chan::<i32>(0);
        let s = gort::spawn(move || {
            gort::select! {
                recv(rx2) -> v => v,
            }
        });
        gort::sleep(20 * MS);
        drop(tx);
        drop(tx2);
        assert_eq!(h.join().unwrap(), None);
        assert_eq!(s.join().unwrap(), None);
    });
}

#[test]
fn dropping_the_last_receiver_fails_blocked_and_future_sends() {
    go_test(30, || {
        for cap in [0, 1] {
            let (tx, rx) = gort::chan::<String>(cap);
            let rx2 = rx.clone();
            if cap == 1 {
                tx.send("fill".into()).unwrap();
            }
            let blocked = {
                let tx = tx.clone();
                gort::spawn(move || tx.send("blocked".into()))
            };
            let selecting = {
                let tx = tx.clone();
                gort::spawn(move || {
                    gort::select! {
                        send(tx, "selecting".to_string()) -> res => res,
                    }
                })
            };
            gort::sleep(20 * MS);
            drop(rx);
            gort::sleep(10 * MS);
            assert!(!blocked.is_finished(), "a receiver is still alive");
            drop(rx2);
            assert!(matches!(blocked.join().unwrap(), Err(SendError(v)) if v == "blocked"));
            assert!(matches!(selecting.join().unwrap(), Err(SendError(v)) if v == "selecting"));
            assert!(matches!(tx.send("later".into()), Err(SendError(v)) if v == "later"));
            assert!(
                matches!(tx.try_send("try".into()), Err(TrySendError::Closed(v)) if v == "try")
            );
            assert!(matches!(
                tx.send_timeout("timeout".into(), Duration::from_secs(10)),
                Err(SendTimeoutError::Closed(v)) if v == "timeout"
            ));
        }
    });
}

#[test]
fn buffered_values_are_dropped_with_the_channel() {
    go_test(30, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = gort::chan(8);
        for i in 0..5 {
            tx.send(Tracked::new(i, &drops)).unwrap();
        }
        drop(rx.recv());
        assert_eq!(drops.load(SeqCst), 1);
        drop(rx);
        // Nobody can receive any more: the 4 buffered values go, now or with the last handle.
        drop(tx);
        assert_eq!(drops.load(SeqCst), 5);
    });
}

// ---- try_send / try_recv ----

#[test]
fn try_send_full_and_closed() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(1);
        assert_eq!(tx.try_send(1), Ok(()));
        assert!(matches!(tx.try_send(2), Err(TrySendError::Full(2))));
        assert_eq!(rx.try_recv(), Ok(1));
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        tx.close();
        assert!(matches!(tx.try_send(3), Err(TrySendError::Closed(3))));

        // Unbuffered: full unless a receiver is waiting.
        let (tx, rx) = gort::chan::<i32>(0);
        assert!(matches!(tx.try_send(4), Err(TrySendError::Full(4))));
        let h = gort::spawn(move || rx.recv());
        let mut v = 5;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match tx.try_send(v) {
                Ok(()) => break,
                Err(TrySendError::Full(back)) => v = back,
                Err(TrySendError::Closed(_)) => panic!("closed"),
            }
            assert!(Instant::now() < deadline, "the receiver never became ready");
            gort::sleep(MS);
        }
        assert_eq!(h.join().unwrap(), Some(5));
    });
}

// ---- timeouts ----

#[test]
fn recv_timeout_times_out_receives_and_sees_close() {
    go_test(30, || {
        let d = Duration::from_millis(50);
        let (tx, rx) = gort::chan::<i32>(0);

        let start = Instant::now();
        assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Timeout));
        let took = start.elapsed();
        assert!(
            took >= d && took < d + Duration::from_secs(2),
            "took {took:?}"
        );

        assert_eq!(
            rx.recv_timeout(Duration::ZERO),
            Err(RecvTimeoutError::Timeout)
        );

        let t = tx.clone();
        gort::go(move || {
            gort::sleep(10 * MS);
            t.send(1).unwrap();
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(10)), Ok(1));

        let t = tx.clone();
        gort::go(move || {
            gort::sleep(10 * MS);
            t.close();
        });
        let start = Instant::now();
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Err(RecvTimeoutError::Closed)
        );
        assert!(start.elapsed() < Duration::from_secs(5));
        assert_eq!(rx.recv_timeout(d), Err(RecvTimeoutError::Closed));
    });
}

#[test]
fn send_timeout_times_out_sends_and_sees_close() {
    go_test(30, || {
        let d = Duration::from_millis(50);
        let (tx, rx) = gort::chan::<String>(1);
        tx.send("fill".into()).unwrap();

        let start = Instant::now();
        match tx.send_timeout("late".into(), d) {
            Err(SendTimeoutError::Timeout(v)) => assert_eq!(v, "late"),
            other => panic!("expected a timeout, got {:?}", other.is_ok()),
        }
        let took = start.elapsed();
        assert!(
            took >= d && took < d + Duration::from_secs(2),
            "took {took:?}"
        );

        let r = rx.clone();
        let h = gort::spawn(move || {
            gort::sleep(10 * MS);
            (r.recv(), r.recv())
        });
        assert!(
            tx.send_timeout("in time".into(), Duration::from_secs(10))
                .is_ok()
        );
        let (a, b) = h.join().unwrap();
        assert_eq!(
            (a.as_deref(), b.as_deref()),
            (Some("fill"), Some("in time"))
        );

        // The last receiver goes away while we wait.
        tx.send("fill".into()).unwrap();
        gort::go(move || {
            gort::sleep(10 * MS);
            drop(rx);
        });
        let start = Instant::now();
        match tx.send_timeout("orphan".into(), Duration::from_secs(10)) {
            Err(SendTimeoutError::Closed(v)) => assert_eq!(v, "orphan"),
            other => panic!("expected Closed, got ok={:?}", other.is_ok()),
        }
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

// ---- iteration, len, capacity ----

#[test]
fn iter_ends_when_closed_and_drained() {
    go_test(30, || {
        let (tx, rx) = gort::chan(3);
        gort::go(move || {
            for i in 0..100 {
                tx.send(i).unwrap();
            }
        });
        let got: Vec<i32> = rx.iter().collect();
        assert_eq!(got, (0..100).collect::<Vec<_>>());

        let (tx, rx) = gort::chan(0);
        gort::go(move || {
            for i in 0..10 {
                tx.send(i).unwrap();
            }
            tx.close();
        });
        let mut sum = 0;
        for v in &rx {
            sum += v;
        }
        assert_eq!(sum, 45);
        assert_eq!(rx.iter().next(), None);
    });
}

#[test]
fn len_capacity_is_closed() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<u8>(3);
        assert_eq!(
            (tx.len(), tx.capacity(), rx.len(), rx.capacity()),
            (0, 3, 0, 3)
        );
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!((tx.len(), rx.len()), (2, 2));
        assert!(!tx.is_closed() && !rx.is_closed());
        tx.close();
        assert!(tx.is_closed() && rx.is_closed());
        assert_eq!(rx.len(), 2);
        rx.recv();
        assert_eq!(rx.len(), 1);

        // An unbuffered channel holds nothing, even with a sender waiting.
        let (tx, rx) = gort::chan::<u8>(0);
        assert_eq!((tx.capacity(), rx.capacity()), (0, 0));
        let t = tx.clone();
        gort::go(move || {
            let _ = t.send(1);
        });
        gort::sleep(10 * MS);
        assert_eq!((tx.len(), rx.len()), (0, 0));
        assert_eq!(rx.recv(), Some(1));
    });
}

// ---- never ----

#[test]
fn never_is_never_ready() {
    go_test(30, || {
        let n = gort::never::<i32>();
        let took_default = gort::select! {
            recv(n) -> _ => false,
            default => true,
        };
        assert!(took_default);
        assert_eq!(n.try_recv(), Err(TryRecvError::Empty));
        let start = Instant::now();
        assert_eq!(n.recv_timeout(50 * MS), Err(RecvTimeoutError::Timeout));
        assert!(start.elapsed() >= 50 * MS);
        assert!(!n.is_closed());
        assert_eq!(n.len(), 0);
        let timed_out = gort::select! {
            recv(n) -> _ => false,
            recv(gort::never::<String>()) -> _ => false,
            recv(gort::after(20 * MS)) -> _ => true,
        };
        assert!(timed_out);
        let n2 = n.clone();
        drop(n);
        assert_eq!(n2.recv_timeout(10 * MS), Err(RecvTimeoutError::Timeout));
    });
}

// ---- zero-sized values ----

#[test]
fn zero_sized_values() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<()>(0);
        let h = gort::spawn(move || {
            for _ in 0..100 {
                tx.send(()).unwrap();
            }
        });
        assert_eq!(rx.iter().count(), 100);
        h.join().unwrap();

        let (tx, rx) = gort::chan::<[u64; 0]>(3);
        for _ in 0..3 {
            tx.send([]).unwrap();
        }
        assert!(matches!(tx.try_send([]), Err(TrySendError::Full(_))));
        assert_eq!(rx.len(), 3);

        // No buffer memory: a huge capacity is fine (as in Go).
        let cap = 1usize << 40;
        let (tx, rx) = gort::chan::<()>(cap);
        for _ in 0..1000 {
            tx.send(()).unwrap();
        }
        assert_eq!((rx.len(), rx.capacity()), (1000, cap));
        tx.close();
        assert_eq!(rx.iter().count(), 1000);

        // Zero-sized values that count their drops are dropped exactly once.
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Z;
        impl Drop for Z {
            fn drop(&mut self) {
                DROPS.fetch_add(1, SeqCst);
            }
        }
        let (tx, rx) = gort::chan::<Z>(10);
        for _ in 0..5 {
            tx.send(Z).unwrap();
        }
        drop(rx.recv());
        assert_eq!(DROPS.load(SeqCst), 1);
        drop(tx);
        drop(rx);
        assert_eq!(DROPS.load(SeqCst), 5);
    });
}

#[test]
fn capacity_too_large_panics_naming_the_capacity() {
    go_test(30, || {
        let cap = usize::MAX / 4;
        let err = std::panic::catch_unwind(|| gort::chan::<u64>(cap)).unwrap_err();
        let msg = err
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        assert!(msg.contains(&cap.to_string()), "message: {msg:?}");
    });
}

// ---- unbuffered hand-off and order ----

#[test]
fn unbuffered_send_completes_only_when_received() {
    go_test(30, || {
        let (tx, rx) = gort::chan::<i32>(0);
        assert!(matches!(tx.try_send(1), Err(TrySendError::Full(1))));
        assert!(matches!(
            tx.send_timeout(2, 20 * MS),
            Err(SendTimeoutError::Timeout(2))
        ));

        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        gort::go(move || {
            tx.send(3).unwrap();
            d.store(true, SeqCst);
        });
        gort::sleep(50 * MS);
        assert!(!done.load(SeqCst), "send returned with nobody receiving");
        assert_eq!(rx.recv(), Some(3));
        eventually("the send to return", || done.load(SeqCst));
    });
}

#[test]
fn fifo_per_channel() {
    go_test(30, || {
        let (tx, rx) = gort::chan(1000);
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
        for i in 0..1000 {
            assert_eq!(rx.recv(), Some(i));
        }

        // Each sender's values arrive in the order it sent them.
        for cap in [0, 7] {
            let (tx, rx) = gort::chan::<(usize, usize)>(cap);
            for s in 0..4 {
                let tx = tx.clone();
                gort::go(move || {
                    for i in 0..2000 {
                        tx.send((s, i)).unwrap();
                    }
                });
            }
            drop(tx);
            let mut next = [0; 4];
            for (s, i) in &rx {
                assert_eq!(i, next[s], "sender {s} out of order");
                next[s] += 1;
            }
            assert_eq!(next, [2000; 4]);
        }
    });
}

// ---- plain threads and goroutines ----

#[test]
fn thread_to_goroutine() {
    bounded(30, || {
        for cap in [0, 16] {
            let (tx, rx) = gort::chan::<u32>(cap);
            let t = std::thread::spawn(move || {
                for i in 0..1000 {
                    tx.send(i).unwrap();
                }
            });
            let sum = gort::run(move || {
                let mut sum = 0;
                for (i, v) in rx.iter().enumerate() {
                    assert_eq!(v, i as u32);
                    sum += v;
                }
                sum
            });
            assert_eq!(sum, 999 * 1000 / 2);
            t.join().unwrap();
        }
    });
}

#[test]
fn goroutine_to_thread() {
    bounded(30, || {
        for cap in [0, 16] {
            let (tx, rx) = gort::chan::<u32>(cap);
            gort::go(move || {
                for i in 0..1000 {
                    tx.send(i).unwrap();
                }
            });
            // This is a plain thread: recv blocks it.
            for i in 0..1000 {
                assert_eq!(rx.recv(), Some(i));
            }
            assert_eq!(rx.recv(), None);
        }
    });
}

#[test]
fn thread_and_goroutine_ping_pong() {
    bounded(30, || {
        let (ping_tx, ping) = gort::chan::<u32>(0);
        let (pong_tx, pong) = gort::chan::<u32>(0);
        gort::go(move || {
            for v in &ping {
                pong_tx.send(v + 1).unwrap();
            }
        });
        let t = std::thread::spawn(move || {
            let mut v = 0;
            for _ in 0..10_000 {
                ping_tx.send(v).unwrap();
                v = pong.recv().unwrap();
            }
            v
        });
        assert_eq!(t.join().unwrap(), 10_000);
    });
}

#[test]
fn select_on_a_plain_thread() {
    bounded(30, || {
        let (a_tx, a) = gort::chan::<i32>(0);
        let (_b_tx, b) = gort::chan::<i32>(0);
        gort::go(move || {
            gort::sleep(20 * MS);
            a_tx.send(1).unwrap();
        });
        let got = gort::select! {
            recv(a) -> v => v,
            recv(b) -> _ => None,
        };
        assert_eq!(got, Some(1));

        // A thread blocked in select and in recv is woken by a goroutine's close.
        let (c_tx, c) = gort::chan::<i32>(0);
        gort::go(move || {
            gort::sleep(20 * MS);
            c_tx.close();
        });
        let got = gort::select! {
            recv(c) -> v => v,
            recv(gort::after(Duration::from_secs(10))) -> _ => Some(-1),
        };
        assert_eq!(got, None);

        // A goroutine receives what a blocked thread sends.
        let (d_tx, d) = gort::chan::<i32>(0);
        let h = gort::spawn(move || {
            gort::sleep(20 * MS);
            d.recv()
        });
        d_tx.send(5).unwrap();
        assert_eq!(h.join().unwrap(), Some(5));
    });
}

// ---- select! ----

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
            gort::sleep(10 * MS);
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
            gort::sleep(10 * MS);
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
            gort::sleep(10 * MS);
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
            gort::sleep(10 * MS);
            t.send(30).unwrap();
        });
        let op = sel.select();
        assert_eq!(op.index(), idx[3]);
        assert_eq!(op.recv(&chans[3].1), Some(30));
        let t = chans[5].0.clone();
        gort::go(move || {
            gort::sleep(10 * MS);
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
            gort::sleep(10 * MS);
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
