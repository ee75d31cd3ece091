//! Channel semantics that gort promises beyond Go's tests (the channel docs): close and drop
//! rules, the value coming back in every send error, timeouts, iteration, `never()`, zero-sized
//! values, and channels shared between plain threads and goroutines. Select is in
//! `select_semantics.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort::{
    Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};
use gort_test_support::{Tracked, bounded, eventually, go_test, wait_for_state};

const MS: Duration = Duration::from_millis(1);

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
            wait_for_state("chan send", 3);
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
        wait_for_state("chan receive", 3);
        wait_for_state("select", 1);
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
        wait_for_state("chan receive", 1);
        wait_for_state("select", 1);
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
            wait_for_state("chan send", 1);
            wait_for_state("select", 1);
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
        wait_for_state("chan send", 1);
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

/// Dropping the last Receiver drops the values still buffered, as std's and crossbeam's
/// channels do: nobody can receive them, and one may own a Sender that someone waits on.
#[test]
fn dropping_the_last_receiver_drops_the_buffered_values() {
    bounded(30, || {
        let v = Arc::new(());
        let (tx, rx) = gort::chan::<Arc<()>>(4);
        tx.send(v.clone()).unwrap();
        tx.send(v.clone()).unwrap();
        let rx2 = rx.clone();
        drop(rx);
        assert_eq!(
            Arc::strong_count(&v),
            3,
            "a receiver is left: the values stay"
        );
        drop(rx2);
        assert_eq!(Arc::strong_count(&v), 1, "the buffered values were kept");
        assert!(tx.send(v.clone()).is_err());
        assert_eq!(Arc::strong_count(&v), 1);

        // The reply pattern: an unserved request's reply Sender goes with the request.
        let (req_tx, req_rx) = gort::chan::<Sender<i32>>(4);
        let (reply_tx, reply_rx) = gort::chan::<i32>(0);
        req_tx.send(reply_tx).unwrap();
        drop(req_rx);
        assert_eq!(
            reply_rx.recv_timeout(5000 * MS),
            Err(RecvTimeoutError::Closed)
        );

        // A value that owns the channel's own last Sender: dropping it closes the channel
        // whose values are being dropped, without deadlocking on its lock.
        let (tx, rx) = gort::chan::<Box<dyn std::any::Any + Send>>(2);
        tx.send(Box::new(tx.clone())).unwrap();
        drop(tx);
        drop(rx);

        // Zero-sized values with a Drop of their own are dropped too, once each.
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct Counted;
        impl Drop for Counted {
            fn drop(&mut self) {
                DROPS.fetch_add(1, SeqCst);
            }
        }
        let (tx, rx) = gort::chan::<Counted>(8);
        for _ in 0..3 {
            tx.send(Counted).unwrap();
        }
        drop(rx);
        assert_eq!(DROPS.load(SeqCst), 3);
        drop(tx);
        assert_eq!(DROPS.load(SeqCst), 3);
    });
}

/// A buffered value whose Drop panics, when the last Receiver goes: the panic reaches the caller
/// after every other buffered value is dropped too, as std's collections do, so none leaks.
#[test]
fn a_panicking_drop_leaks_no_other_buffered_value() {
    bounded(30, || {
        static DROPS: AtomicUsize = AtomicUsize::new(0);
        struct PanicsOnce(bool);
        impl Drop for PanicsOnce {
            fn drop(&mut self) {
                DROPS.fetch_add(1, SeqCst);
                if self.0 {
                    panic!("drop panics");
                }
            }
        }
        let (tx, rx) = gort::chan::<PanicsOnce>(4);
        for i in 0..4 {
            tx.send(PanicsOnce(i == 1)).unwrap();
        }
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(rx)));
        assert!(r.is_err(), "the Drop's panic reaches the caller");
        assert_eq!(DROPS.load(SeqCst), 4, "every buffered value is dropped");
        assert!(tx.send(PanicsOnce(false)).is_err());
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
        wait_for_state("chan send", 1);
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
