//! A goroutine that polls a channel in a loop (`try_recv`, `try_send`, `select!` with a
//! `default` arm) gives way when its time slice is up, at its next poll, as at any channel
//! operation: sysmon never has to hand its processor to another thread (which would leave it
//! running beside that thread, two goroutines at once at one processor). Alone in its binary:
//! it reads the runtime's hand-off count.

use std::time::{Duration, Instant};

use gort_test_support::with_procs;

/// How long the poller polls before its value arrives: ten time slices and more.
const POLL_FOR: Duration = Duration::from_millis(150);

/// A poll (true once it got its value) and the delivery that ends it.
type Round = (Box<dyn FnMut() -> bool + Send>, Box<dyn FnOnce() + Send>);

/// Runs a round of `setup` at one processor: one goroutine polls in a loop, while another sleeps
/// `POLL_FOR` and then delivers. Returns the fewest hand-offs sysmon made in a round, of up to
/// three: the poller has until sysmon's next look (about 1 ms) to answer its flag, and an OS
/// that deschedules its thread for longer on a loaded machine spoils a round (a poller that
/// never checks is handed off in every round).
fn handoffs_while_polling(setup: impl Fn() -> Round + Send + 'static) -> u64 {
    with_procs(1, 60, move || {
        let mut fewest = u64::MAX;
        for _ in 0..3 {
            let (mut poll, deliver) = setup();
            let before = gort::runtime::stats().handoffs;
            let poller = gort::spawn(move || {
                let t = Instant::now();
                while !poll() {
                    assert!(
                        t.elapsed() < Duration::from_secs(20),
                        "the value never came"
                    );
                }
            });
            gort::sleep(POLL_FOR);
            deliver();
            poller.join().unwrap();
            fewest = fewest.min(gort::runtime::stats().handoffs - before);
            if fewest == 0 {
                break;
            }
        }
        fewest
    })
}

#[test]
fn a_goroutine_polling_with_try_recv_gives_way() {
    let n = handoffs_while_polling(|| {
        let (tx, rx) = gort::chan::<u32>(1);
        (
            Box::new(move || rx.try_recv().is_ok()),
            Box::new(move || tx.send(7).unwrap()),
        )
    });
    assert_eq!(
        n, 0,
        "sysmon handed the poller's processor off in every round"
    );
}

#[test]
fn a_goroutine_polling_with_try_send_gives_way() {
    let n = handoffs_while_polling(|| {
        let (tx, rx) = gort::chan::<u32>(0);
        (
            Box::new(move || tx.try_send(7).is_ok()),
            Box::new(move || assert_eq!(rx.recv(), Some(7))),
        )
    });
    assert_eq!(
        n, 0,
        "sysmon handed the poller's processor off in every round"
    );
}

#[test]
fn a_goroutine_polling_with_a_default_select_gives_way() {
    let n = handoffs_while_polling(|| {
        let (tx, rx) = gort::chan::<u32>(1);
        (
            Box::new(move || {
                gort::select! {
                    recv(rx) -> v => v.is_some(),
                    default => false,
                }
            }),
            Box::new(move || tx.send(7).unwrap()),
        )
    });
    assert_eq!(
        n, 0,
        "sysmon handed the poller's processor off in every round"
    );
}
