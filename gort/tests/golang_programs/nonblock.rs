//! test/chan/nonblock.go: non-blocking channel operations on several sizes and types of
//! operands. Go's non-blocking `select` with `default` is `select!` with `default`.

use super::*;
use gort::Receiver;
use std::fmt::Debug;
use std::time::Instant;

fn sleep(ticker: &Receiver<Instant>) {
    ticker.recv();
    ticker.recv();
    gort::yield_now();
    gort::yield_now();
    gort::yield_now();
}

// Go: 10,000 tries, "up to 100ms per test". Each try waits two 10 µs ticks; a loaded machine may
// not run the peer goroutine for far longer than 100 ms, so allow about 10 s.
const MAX_TRIES: usize = 500_000;

/// One block of Go's main for one operand type: `to_receiver` goes to a receiving
/// goroutine through a non-blocking send, `from_sender` comes from a sending goroutine
/// through a non-blocking receive.
fn case<T>(buffer: usize, ticker: &Receiver<Instant>, to_receiver: T, from_sender: T)
where
    T: Clone + PartialEq + Debug + Send + 'static,
{
    let (sync_tx, sync) = gort::chan::<bool>(0);
    let (tx, c) = gort::chan::<T>(buffer);

    let blocked = gort::select! {
        recv(c) -> _ => true,
        default => false,
    };
    assert!(!blocked, "blocked sender buffer={buffer}");

    {
        // go receiver(c, sync)
        let (c, sync_tx, want) = (c.clone(), sync_tx.clone(), to_receiver.clone());
        gort::go(move || {
            let ok = c.recv() == Some(want);
            sync_tx.send(ok).unwrap();
        });
    }
    let mut tries = 0;
    loop {
        let sent = gort::select! {
            send(tx, to_receiver.clone()) -> res => res.is_ok(),
            default => false,
        };
        if sent {
            break;
        }
        tries += 1;
        assert!(tries <= MAX_TRIES, "receiver buffer={buffer}");
        sleep(ticker);
    }
    assert_eq!(sync.recv(), Some(true), "receiver value buffer={buffer}");

    {
        // go sender(c, sync)
        let (tx, sync_tx, v) = (tx.clone(), sync_tx.clone(), from_sender.clone());
        gort::go(move || {
            tx.send(v).unwrap();
            sync_tx.send(true).unwrap();
        });
    }
    if buffer > 0 {
        sync.recv();
    }
    let mut tries = 0;
    let got = loop {
        let got = gort::select! {
            recv(c) -> v => Some(v),
            default => None,
        };
        if let Some(v) = got {
            break v;
        }
        tries += 1;
        assert!(tries <= MAX_TRIES, "sender buffer={buffer}");
        sleep(ticker);
    };
    assert_eq!(got, Some(from_sender), "sender value buffer={buffer}");
    if buffer == 0 {
        sync.recv();
    }
}

#[test]
fn nonblock() {
    let _s = shared();
    go_test(60, || {
        let ticker = gort::tick(Duration::from_micros(10)); // 10 us
        for buffer in 0..2 {
            case::<i32>(buffer, &ticker, 123, 234);
            case::<i64>(buffer, &ticker, 123456, 234567);
            case::<bool>(buffer, &ticker, true, true);
            case::<String>(buffer, &ticker, "hello".into(), "hello again".into());
        }
    });
}
