//! Futures from the `futures` crate, driven by `gort::block_on` in 10,000 goroutines at procs 1
//! and 2: its channels (within one goroutine and between goroutines), `join!`, `select!`, and
//! `futures-timer` timers, whose waker is called from the timer crate's own thread. And wakers
//! called after their `block_on` returned, from a foreign thread and from a goroutine, are
//! harmless.

use std::task::Waker;
use std::time::Duration;

use futures::channel::{mpsc, oneshot};
use futures::{FutureExt, SinkExt, StreamExt};
use futures_timer::Delay;
use gort_test_support::{scaled, with_procs};

fn futures_in_goroutines(procs: usize) {
    with_procs(procs, 120, || {
        let n = scaled(10_000, 2_000) as u64;
        // Every goroutine also sends its number to a collector goroutine over a futures channel.
        let (to_collector, mut collected) = mpsc::unbounded::<u64>();
        let collector = gort::spawn(move || {
            gort::block_on(async move {
                let mut sum = 0;
                while let Some(v) = collected.next().await {
                    sum += v;
                }
                sum
            })
        });
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let to_collector = to_collector.clone();
                gort::spawn(move || gort::block_on(one_goroutine(i, to_collector)))
            })
            .collect();
        drop(to_collector);
        let mut total = 0;
        for (i, h) in hs.into_iter().enumerate() {
            let v = h.join().unwrap();
            assert_eq!(v, i as u64 + 3 + 1, "goroutine {i}");
            total += v;
        }
        assert_eq!(total, n * (n - 1) / 2 + 4 * n);
        assert_eq!(collector.join().unwrap(), n * (n - 1) / 2);
    });
}

/// Within one goroutine: a producer and a consumer joined over a bounded channel (0 + 1 + 2),
/// a oneshot, and a select between a short timer and a future that never completes.
async fn one_goroutine(i: u64, to_collector: mpsc::UnboundedSender<u64>) -> u64 {
    let (done_tx, done_rx) = oneshot::channel::<u64>();
    let (mut tx, mut rx) = mpsc::channel::<u64>(1);
    let producer = async move {
        for k in 0..3 {
            tx.send(k).await.unwrap();
        }
        done_tx.send(i).unwrap();
    };
    let consumer = async move {
        let mut sum = 0;
        while let Some(v) = rx.next().await {
            sum += v;
        }
        sum
    };
    let ((), sum) = futures::join!(producer, consumer);
    let v = done_rx.await.unwrap();
    let timed = futures::select! {
        _ = Delay::new(Duration::from_micros(100 + i % 900)).fuse() => 1,
        _ = futures::future::pending::<()>().fuse() => 0,
    };
    to_collector.unbounded_send(i).unwrap();
    v + sum + timed
}

#[test]
fn futures_crate_in_10000_goroutines_procs1() {
    futures_in_goroutines(1);
}

#[test]
fn futures_crate_in_10000_goroutines_procs2() {
    futures_in_goroutines(2);
}

/// Wakers kept past the end of their `block_on` and woken later, from a foreign thread and from
/// another goroutine, while the goroutine that polled them goes on parking and running: nothing
/// is readied twice, nothing is lost.
#[test]
fn wakers_woken_after_completion() {
    with_procs(2, 60, || {
        let (keep, kept) = gort::chan::<Waker>(1000);
        let h = gort::spawn(move || {
            let mut sum = 0u64;
            for i in 0..1000u64 {
                sum += gort::block_on(futures::future::poll_fn(|cx| {
                    keep.send(cx.waker().clone()).unwrap();
                    std::task::Poll::Ready(i)
                }));
                gort::yield_now();
                gort::sleep(Duration::from_micros(10));
            }
            sum
        });
        let (half_tx, half_rx) = gort::chan::<Waker>(1000);
        let thread = std::thread::spawn(move || {
            let mut n = 0;
            while let Some(w) = half_rx.recv() {
                w.wake();
                n += 1;
            }
            n
        });
        let mut n = 0;
        for (k, w) in kept.iter().enumerate() {
            if k % 2 == 0 {
                half_tx.send(w).unwrap();
            } else {
                w.wake_by_ref();
                w.wake();
                n += 1;
            }
            if k == 999 {
                break;
            }
        }
        drop(half_tx);
        assert_eq!(h.join().unwrap(), 999 * 1000 / 2);
        assert_eq!(n + thread.join().unwrap(), 1000);
    });
}

/// Goroutines awaited from the `futures` executor on plain threads, several at once with
/// `join_all`, including one that panics.
#[test]
fn join_handles_awaited_from_the_futures_executor() {
    gort_test_support::bounded(60, || {
        let hs: Vec<_> = (0..100u64)
            .map(|i| {
                gort::spawn(move || {
                    gort::sleep(Duration::from_micros(i * 10));
                    i * 2
                })
            })
            .collect();
        let futs = hs.into_iter().map(std::future::IntoFuture::into_future);
        let results = futures::executor::block_on(futures::future::join_all(futs));
        let sum: u64 = results.into_iter().map(|r| r.unwrap()).sum();
        assert_eq!(sum, 99 * 100);
        let h = gort::spawn(|| -> u8 { panic!("awaited") });
        let failed = futures::executor::block_on(std::future::IntoFuture::into_future(h));
        assert_eq!(
            gort_test_support::panic_message(&*failed.unwrap_err()),
            "awaited"
        );
    });
}
