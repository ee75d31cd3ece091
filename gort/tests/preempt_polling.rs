//! A goroutine that polls a channel in a loop (`try_recv`, `try_send`, `select!` with a
//! `default` arm) gives way when its time slice is up, at its next poll, as at any channel
//! operation: sysmon never has to hand its processor to another thread (which would leave it
//! running beside that thread, two goroutines at once at one processor). Alone in its binary:
//! it reads the runtime's hand-off count.

use std::time::{Duration, Instant};

use gort_test_support::with_procs;

/// How long the poller polls before its value arrives: ten time slices and more.
const POLL_FOR: Duration = Duration::from_millis(150);

/// Runs `poll` (which returns true once it got its value) in a loop in one goroutine, while
/// another sleeps `POLL_FOR` and then delivers through `deliver`; at one processor. Returns the
/// hand-offs sysmon made meanwhile.
fn handoffs_while_polling(
    poll: impl FnMut() -> bool + Send + 'static,
    deliver: impl FnOnce() + Send + 'static,
) -> u64 {
    with_procs(1, 60, move || {
        let before = gort::runtime::stats().handoffs;
        let poller = gort::spawn(move || {
            let mut poll = poll;
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
        gort::runtime::stats().handoffs - before
    })
}

#[test]
fn a_goroutine_polling_with_try_recv_gives_way() {
    let (tx, rx) = gort::chan::<u32>(1);
    let n = handoffs_while_polling(move || rx.try_recv().is_ok(), move || tx.send(7).unwrap());
    assert_eq!(n, 0, "sysmon handed the poller's processor off {n} times");
}

#[test]
fn a_goroutine_polling_with_try_send_gives_way() {
    let (tx, rx) = gort::chan::<u32>(0);
    let n = handoffs_while_polling(
        move || tx.try_send(7).is_ok(),
        move || assert_eq!(rx.recv(), Some(7)),
    );
    assert_eq!(n, 0, "sysmon handed the poller's processor off {n} times");
}

#[test]
fn a_goroutine_polling_with_a_default_select_gives_way() {
    let (tx, rx) = gort::chan::<u32>(1);
    let n = handoffs_while_polling(
        move || {
            gort::select! {
                recv(rx) -> v => v.is_some(),
                default => false,
            }
        },
        move || tx.send(7).unwrap(),
    );
    assert_eq!(n, 0, "sysmon handed the poller's processor off {n} times");
}
