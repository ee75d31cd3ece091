//! `recv_async` and `send_async`: channels awaited by async code (the `futures` executor on
//! plain threads, `block_on` on goroutines) meeting goroutines, `select!` and the dynamic
//! `Select`; cancel safety (a dropped receive loses no value, a dropped woken receiver passes
//! the value on, a dropped send either was received or drops its value); an async sender's
//! place in line; and a stress run that cancels receives and sends at random while values flow,
//! at procs 1 and 2.

use std::collections::HashSet;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::executor::block_on as fblock_on;
use gort::{Receiver, Select, Sender, TryRecvError};
use gort_test_support::{bounded, go_test, with_procs};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn values_cross_between_async_tasks_and_goroutines() {
    for cap in [0, 1, 16] {
        bounded(60, move || {
            // goroutine → async task on a plain thread
            let (tx, rx) = gort::chan::<u32>(cap);
            let g = gort::spawn(move || (0..1000).for_each(|i| tx.send(i).unwrap()));
            let got: Vec<u32> = std::iter::from_fn(|| fblock_on(rx.recv_async())).collect();
            assert_eq!(got, (0..1000).collect::<Vec<_>>());
            g.join().unwrap();

            // async task → goroutine
            let (tx, rx) = gort::chan::<u32>(cap);
            let g = gort::spawn(move || rx.iter().collect::<Vec<_>>());
            fblock_on(async {
                for i in 0..1000 {
                    tx.send_async(i).await.unwrap();
                }
            });
            drop(tx);
            assert_eq!(g.join().unwrap(), (0..1000).collect::<Vec<_>>());

            // async task → async task, each on its own thread
            let (tx, rx) = gort::chan::<u32>(cap);
            let t = std::thread::spawn(move || {
                fblock_on(async {
                    for i in 0..1000 {
                        tx.send_async(i).await.unwrap();
                    }
                })
            });
            let mut got = Vec::new();
            while let Some(v) = fblock_on(rx.recv_async()) {
                got.push(v);
            }
            t.join().unwrap();
            assert_eq!(got, (0..1000).collect::<Vec<_>>());
        });
    }
}

#[test]
fn goroutines_await_channels_with_block_on() {
    go_test(60, || {
        let (tx, rx) = gort::chan::<u64>(0);
        let hs: Vec<_> = (0..100)
            .map(|i| {
                let tx = tx.clone();
                gort::spawn(move || gort::block_on(tx.send_async(i)).unwrap())
            })
            .collect();
        drop(tx);
        let sum: u64 = std::iter::from_fn(|| gort::block_on(rx.recv_async())).sum();
        assert_eq!(sum, (0..100).sum());
        hs.into_iter().for_each(|h| h.join().unwrap());
    });
}

#[test]
fn closing_ends_pending_receives_and_fails_sends() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<String>(0);
        let mut recv = pin!(rx.recv_async());
        assert!(poll_once(recv.as_mut()).is_pending());
        let t = std::thread::spawn(move || {
            let (tx2, rx2) = gort::chan::<String>(0);
            let mut send = pin!(tx2.send_async("kept".to_string()));
            assert!(poll_once(send.as_mut()).is_pending());
            drop(rx2);
            fblock_on(send)
        });
        assert_eq!(t.join().unwrap().unwrap_err().0, "kept");
        tx.close();
        assert_eq!(fblock_on(recv), None);
        let err = fblock_on(tx.send_async("late".to_string())).unwrap_err();
        assert_eq!(err.0, "late");
    });
}

#[test]
fn a_dropped_receive_loses_no_value() {
    for cap in [0, 1] {
        bounded(30, move || {
            let (tx, rx) = gort::chan::<u32>(cap);
            {
                let mut recv = pin!(rx.recv_async());
                assert!(poll_once(recv.as_mut()).is_pending());
                // A `try_send` that finds the async receiver first in line leaves the value in
                // the channel for it, even on the unbuffered channel.
                tx.try_send(5).unwrap();
            }
            assert_eq!(rx.len(), 1);
            assert_eq!(rx.try_recv(), Ok(5));
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        });
    }
}

/// An async receiver woken for a value left for it, then dropped, passes the value on to a
/// goroutine parked behind it.
#[test]
fn a_dropped_woken_receive_passes_the_value_on() {
    for cap in [0, 1] {
        go_test(30, move || {
            let (tx, rx) = gort::chan::<u32>(cap);
            let rx = Arc::new(rx);
            let mut recv = Box::pin(rx.recv_async());
            assert!(poll_once(recv.as_mut()).is_pending());
            let rx2 = rx.clone();
            let parked = gort::spawn(move || rx2.recv());
            while !gort::runtime::goroutines_by_state().contains_key("chan receive") {
                gort::sleep(Duration::from_millis(1));
            }
            tx.try_send(9).unwrap();
            drop(recv);
            assert_eq!(parked.join().unwrap(), Some(9));
        });
    }
}

#[test]
fn a_dropped_send_drops_its_value() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<Arc<()>>(0);
        let v = Arc::new(());
        {
            let mut send = pin!(tx.send_async(v.clone()));
            assert!(poll_once(send.as_mut()).is_pending());
            assert_eq!(Arc::strong_count(&v), 2);
        }
        assert_eq!(Arc::strong_count(&v), 1, "the unsent value was dropped");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    });
}

/// Every pairing of an async end with a blocking one, a `select!` and a dynamic `Select`, on an
/// unbuffered channel, where both ends must meet.
#[test]
fn async_ends_meet_selects() {
    go_test(60, || {
        for round in 0..200 {
            let (tx, rx) = gort::chan::<u32>(0);
            let (tx, rx) = (Arc::new(tx), Arc::new(rx));
            let (tx2, rx2) = (tx.clone(), rx.clone());
            // recv_async against a dynamic Select's send.
            let g = gort::spawn(move || {
                let mut sel = Select::new();
                sel.send(&tx2);
                let op = sel.select();
                op.send(&tx2, round).unwrap();
            });
            if round % 2 == 0 {
                gort::yield_now();
            }
            assert_eq!(gort::block_on(rx.recv_async()), Some(round));
            g.join().unwrap();
            // send_async against select!'s receive.
            let g = gort::spawn(move || {
                gort::select! {
                    recv(rx2) -> v => v,
                }
            });
            if round % 2 == 1 {
                gort::yield_now();
            }
            gort::block_on(tx.send_async(round)).unwrap();
            assert_eq!(g.join().unwrap(), Some(round));
        }
    });
}

/// Values flow from blocking and async senders to blocking and async receivers while half of
/// the async operations are cancelled by a timer: every value arrives at most once, every
/// value whose send returned `Ok` arrives, and every value that did not arrive was dropped
/// (a cancelled send may still have been received: a receiver took its value after its last
/// poll).
fn cancellation_stress(procs: usize) {
    with_procs(procs, 120, || {
        const PER: u32 = 5000;
        for cap in [0, 4] {
            let (tx, rx) = gort::chan::<Counted>(cap);
            let dropped = Arc::new(AtomicUsize::new(0));
            let senders: Vec<_> = (0..4)
                .map(|s| {
                    let (tx, dropped) = (tx.clone(), dropped.clone());
                    gort::spawn(move || send_all(&tx, s, PER, &dropped))
                })
                .collect();
            drop(tx);
            let receivers: Vec<_> = (0..4)
                .map(|r| {
                    let rx = rx.clone();
                    gort::spawn(move || recv_all(&rx, r % 2 == 0))
                })
                .collect();
            drop(rx);
            let sent: Vec<u32> = senders
                .into_iter()
                .flat_map(|h| h.join().unwrap())
                .collect();
            let mut seen = HashSet::new();
            for h in receivers {
                for v in h.join().unwrap() {
                    assert!(seen.insert(v), "value {v} received twice");
                }
            }
            if let Some(v) = sent.iter().find(|v| !seen.contains(v)) {
                panic!("value {v} was sent and never received");
            }
            assert_eq!(
                dropped.load(Relaxed) + seen.len(),
                4 * PER as usize,
                "values neither received nor dropped"
            );
        }
    });
}

#[derive(Debug)]
struct Counted(u32, Option<Arc<AtomicUsize>>);

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(d) = &self.1 {
            d.fetch_add(1, Relaxed);
        }
    }
}

/// Sends values `s*per ..`, every other one with `send_async` raced against a short timer;
/// returns those whose send returned `Ok`.
fn send_all(tx: &Sender<Counted>, s: u32, per: u32, dropped: &Arc<AtomicUsize>) -> Vec<u32> {
    let mut sent = Vec::new();
    for i in 0..per {
        let n = s * per + i;
        let v = Counted(n, Some(dropped.clone()));
        if i % 2 == 0 {
            tx.send(v).unwrap();
            sent.push(n);
            continue;
        }
        let ok = gort::block_on(async {
            futures::select_biased! {
                r = tx.send_async(v).fuse() => r.is_ok(),
                _ = futures_timer::Delay::new(Duration::from_micros(50)).fuse() => false,
            }
        });
        if ok {
            sent.push(n);
        }
    }
    sent
}

/// Receives until the channel closes, with `recv_async` raced against a short timer (`racing`)
/// or with plain `recv`.
fn recv_all(rx: &Receiver<Counted>, racing: bool) -> Vec<u32> {
    let mut got = Vec::new();
    loop {
        let v = if racing {
            let r = gort::block_on(async {
                futures::select_biased! {
                    v = rx.recv_async().fuse() => Some(v),
                    _ = futures_timer::Delay::new(Duration::from_micros(30)).fuse() => None,
                }
            });
            match r {
                None => continue,
                Some(v) => v,
            }
        } else {
            rx.recv()
        };
        match v {
            Some(mut c) => {
                c.1 = None;
                got.push(c.0);
            }
            None => return got,
        }
    }
}

use futures::FutureExt;

#[test]
fn cancellation_stress_procs1() {
    cancellation_stress(1);
}

#[test]
fn cancellation_stress_procs2() {
    cancellation_stress(2);
}

/// Values left in the channel for async receivers that were then dropped keep their order:
/// the stash beyond a full buffer is the buffer's tail.
#[test]
fn values_left_for_dropped_receivers_keep_their_order() {
    for cap in [0, 1, 2] {
        bounded(30, move || {
            let (tx, rx) = gort::chan::<u32>(cap);
            {
                let mut a = Box::pin(rx.recv_async());
                let mut b = Box::pin(rx.recv_async());
                let mut c = Box::pin(rx.recv_async());
                assert!(poll_once(a.as_mut()).is_pending());
                assert!(poll_once(b.as_mut()).is_pending());
                assert!(poll_once(c.as_mut()).is_pending());
                // A dynamic `Select`'s reserved send cannot wait for the receivers' tasks to
                // come for the values.
                for v in 1..=3 {
                    let mut sel = Select::new();
                    sel.send(&tx);
                    sel.select().send(&tx, v).unwrap();
                }
            }
            assert_eq!(rx.len(), 3);
            // A sender parked behind the stash comes after it.
            let tx2 = tx.clone();
            let h = std::thread::spawn(move || tx2.send(4).unwrap());
            let got: Vec<u32> = (0..4).map(|_| rx.recv().unwrap()).collect();
            h.join().unwrap();
            assert_eq!(got, [1, 2, 3, 4], "cap {cap}");
        });
    }
}

/// A waker that counts its wakes.
struct Counts(AtomicUsize);

impl std::task::Wake for Counts {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// An unbuffered send completes only when the value is taken, by an async receiver too: the
/// sender wakes it and waits (a blocking `send`, `send_timeout` and a `select!` without
/// `default` alike), from a goroutine and from a plain thread.
#[test]
fn an_unbuffered_send_waits_until_an_async_receiver_takes_the_value() {
    type SendFn = fn(&Sender<u32>, u32) -> bool;
    let sends: [SendFn; 3] = [
        |tx, v| tx.send(v).is_ok(),
        |tx, v| tx.send_timeout(v, Duration::from_secs(20)).is_ok(),
        |tx, v| gort::select! { send(tx, v) -> r => r.is_ok() },
    ];
    for (i, send) in sends.into_iter().enumerate() {
        for on_thread in [false, true] {
            bounded(30, move || {
                let (tx, rx) = gort::chan::<u32>(0);
                let mut recv = Box::pin(rx.recv_async());
                assert!(poll_once(recv.as_mut()).is_pending());
                let done = Arc::new(AtomicUsize::new(0));
                let d = done.clone();
                let sender = move || {
                    assert!(send(&tx, 7));
                    d.store(1, SeqCst);
                };
                let h = if on_thread {
                    std::thread::spawn(sender)
                } else {
                    let g = gort::spawn(sender);
                    std::thread::spawn(move || g.join().unwrap())
                };
                std::thread::sleep(Duration::from_millis(30));
                assert_eq!(
                    done.load(SeqCst),
                    0,
                    "send {i} returned before the value was taken"
                );
                assert_eq!(rx.len(), 0, "send {i} left its value in the channel");
                assert_eq!(fblock_on(recv.as_mut()), Some(7));
                h.join().unwrap();
                assert_eq!(done.load(SeqCst), 1);
            });
        }
    }
}

/// A sender waiting for the async receiver it woke: if that receiver goes away, the next async
/// receiver is woken and takes the value; if the last receiver goes, the send fails and gives
/// the value back.
#[test]
fn a_waiting_send_outlives_the_async_receiver_it_woke() {
    bounded(30, || {
        let wait_for = |c: &Counts| {
            let t = std::time::Instant::now();
            while c.0.load(SeqCst) == 0 {
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "a receiver was not woken"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
        };
        let (tx, rx) = gort::chan::<u32>(0);
        let (a, b) = (
            Arc::new(Counts(AtomicUsize::new(0))),
            Arc::new(Counts(AtomicUsize::new(0))),
        );
        let (wa, wb) = (Waker::from(a.clone()), Waker::from(b.clone()));
        let mut first = Box::pin(rx.recv_async());
        let mut second = Box::pin(rx.recv_async());
        assert!(
            first
                .as_mut()
                .poll(&mut Context::from_waker(&wa))
                .is_pending()
        );
        assert!(
            second
                .as_mut()
                .poll(&mut Context::from_waker(&wb))
                .is_pending()
        );
        let h = gort::spawn(move || tx.send(3).map_err(|e| e.0));
        // The sender woke the first receiver from its park, once it waited in the channel.
        wait_for(&a);
        assert_eq!(b.0.load(SeqCst), 0);
        drop(first);
        wait_for(&b);
        assert_eq!(fblock_on(second.as_mut()), Some(3));
        assert_eq!(h.join().unwrap(), Ok(()));

        let (tx, rx) = gort::chan::<u32>(0);
        let c = Arc::new(Counts(AtomicUsize::new(0)));
        let wc = Waker::from(c.clone());
        let mut only = Box::pin(rx.recv_async());
        assert!(
            only.as_mut()
                .poll(&mut Context::from_waker(&wc))
                .is_pending()
        );
        let h = gort::spawn(move || tx.send(4).map_err(|e| e.0));
        wait_for(&c);
        drop(only);
        drop(rx);
        assert_eq!(h.join().unwrap(), Err(4), "the value came back");
    });
}

/// An async sender waits in line with the other senders: a receive, `try_recv` included,
/// takes the value of the first sender waiting straight out of its future (before, it only
/// woke the task to try again, so `try_recv` never saw such a value on an unbuffered channel,
/// and a blocking sender queued behind it was served first). On a full buffer the async
/// sender's value goes to the buffer's tail, as a blocked goroutine's does.
#[test]
fn receives_take_waiting_async_senders_values_in_order() {
    bounded(30, || {
        for cap in [0, 1] {
            let (tx, rx) = gort::chan::<u32>(cap);
            if cap == 1 {
                tx.send(0).unwrap();
            }
            let mut a = Box::pin(tx.send_async(1));
            let mut b = Box::pin(tx.send_async(2));
            assert!(poll_once(a.as_mut()).is_pending());
            assert!(poll_once(b.as_mut()).is_pending());
            let first = if cap == 1 { 0 } else { 1 };
            assert_eq!(rx.try_recv(), Ok(first), "cap {cap}");
            assert!(matches!(poll_once(a.as_mut()), Poll::Ready(Ok(()))));
            assert_eq!(rx.recv(), Some(first + 1), "cap {cap}");
            assert!(matches!(poll_once(b.as_mut()), Poll::Ready(Ok(()))));
            if cap == 1 {
                assert_eq!(rx.try_recv(), Ok(2));
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "cap {cap}");
        }
    });
}

/// A send future dropped after a receiver took its value: the value was sent, and only its
/// receiver drops it.
#[test]
fn a_send_dropped_after_its_value_was_taken_was_sent() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<Arc<()>>(0);
        let v = Arc::new(());
        let mut send = Box::pin(tx.send_async(v.clone()));
        assert!(poll_once(send.as_mut()).is_pending());
        let got = rx.try_recv().expect("the waiting async sender's value");
        drop(send);
        assert_eq!(
            Arc::strong_count(&v),
            2,
            "the future dropped a value it sent"
        );
        drop(got);
        assert_eq!(Arc::strong_count(&v), 1);
    });
}

/// One `send_async` among goroutines that send as fast as they can on an unbuffered channel:
/// it is served in its turn, within a few receives of its queueing (before, each receive woke it and took a
/// blocking sender's value instead, and it was never served while they kept sending).
fn an_async_sender_is_not_starved(procs: usize) {
    with_procs(procs, 60, || {
        const MOST: usize = 1_000;
        let (tx, rx) = gort::chan::<u32>(0);
        let stop = Arc::new(AtomicUsize::new(0));
        let hammers: Vec<_> = (0..4)
            .map(|_| {
                let (tx, stop) = (tx.clone(), stop.clone());
                gort::spawn(move || {
                    while stop.load(Relaxed) == 0 {
                        let _ = tx.send_timeout(0, Duration::from_millis(100));
                    }
                })
            })
            .collect();
        let queued = Arc::new(AtomicUsize::new(0));
        let q = queued.clone();
        let receiver = gort::spawn(move || {
            // Receives counted from when the async sender has queued.
            let mut n = 0;
            while n < MOST {
                n += q.load(SeqCst);
                if rx.recv() == Some(1) {
                    return Some(n);
                }
            }
            None
        });
        gort::sleep(Duration::from_millis(5));
        let async_send = gort::spawn(move || {
            let mut send = pin!(tx.send_async(1));
            let sent = std::future::poll_fn(|cx| {
                let r = send.as_mut().poll(cx);
                queued.store(1, SeqCst);
                r
            });
            gort::block_on(sent).is_ok()
        });
        let got = receiver.join().unwrap();
        stop.store(1, Relaxed);
        hammers.into_iter().for_each(|h| h.join().unwrap());
        assert!(
            got.is_some(),
            "the async send was not served in {MOST} receives"
        );
        assert!(async_send.join().unwrap());
    });
}

#[test]
fn an_async_sender_is_not_starved_procs1() {
    an_async_sender_is_not_starved(1);
}

#[test]
fn an_async_sender_is_not_starved_procs2() {
    an_async_sender_is_not_starved(2);
}

/// An unbuffered `send_async` that finds an async receiver waiting wakes it and waits for it,
/// as a blocking send does: it completes only once the value is taken (before, it left the
/// value in the channel and returned `Ok` at once).
#[test]
fn an_unbuffered_async_send_waits_until_an_async_receiver_takes_the_value() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<u32>(0);
        let mut recv = Box::pin(rx.recv_async());
        assert!(poll_once(recv.as_mut()).is_pending());
        let mut send = Box::pin(tx.send_async(7));
        assert!(poll_once(send.as_mut()).is_pending(), "sent before taken");
        assert_eq!(rx.len(), 0, "the send left its value in the channel");
        assert_eq!(poll_once(recv.as_mut()), Poll::Ready(Some(7)));
        assert!(matches!(poll_once(send.as_mut()), Poll::Ready(Ok(()))));
    });
}

/// A sender waits on an empty buffer while its one free slot is promised to a dynamic
/// `Select`: `try_recv` takes the waiting sender's value, as a blocking receive would (its fast
/// path looked only at the empty buffer).
#[test]
fn try_recv_takes_a_waiting_senders_value_beside_a_reserved_slot() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<u32>(1);
        let mut sel = Select::new();
        sel.send(&tx);
        let op = sel.select();
        let mut send = Box::pin(tx.send_async(5));
        assert!(poll_once(send.as_mut()).is_pending());
        assert_eq!(rx.try_recv(), Ok(5));
        assert!(matches!(poll_once(send.as_mut()), Poll::Ready(Ok(()))));
        op.send(&tx, 6).unwrap();
        assert_eq!(rx.try_recv(), Ok(6));
    });
}
