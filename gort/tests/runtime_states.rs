//! `runtime::goroutines_by_state`: what tests poll instead of sleeping and hoping another
//! goroutine has blocked by then.

use std::time::Duration;

use gort_test_support::{serial_go_test, wait_for_state as wait_for};

fn count(state: &str) -> usize {
    gort::runtime::goroutines_by_state()
        .get(state)
        .copied()
        .unwrap_or(0)
}

/// Both tests count goroutines runtime-wide, so they run one at a time: the harness runs a
/// binary's tests in parallel on one runtime, and each would count the other's goroutines.
#[test]
fn parked_goroutines_are_counted_by_wait_reason() {
    serial_go_test(30, parked_goroutines_are_counted_by_wait_reason_body);
}

fn parked_goroutines_are_counted_by_wait_reason_body() {
    let (tx, rx) = gort::chan::<u32>(0);
    let (stop_tx, stop_rx) = gort::chan::<()>(0);
    let mu = std::sync::Arc::new(gort::sync::Mutex::new(()));
    let guard = mu.lock();
    let mut hs = Vec::new();
    for _ in 0..5 {
        let rx = rx.clone();
        hs.push(gort::spawn(move || {
            rx.recv();
        }));
    }
    for _ in 0..3 {
        let stop_rx = stop_rx.clone();
        hs.push(gort::spawn(move || {
            gort::select! {
                recv(stop_rx) -> _ => {},
                recv(gort::after(Duration::from_secs(60))) -> _ => {},
            }
        }));
    }
    let mu2 = mu.clone();
    hs.push(gort::spawn(move || drop(mu2.lock())));
    wait_for("chan receive", 5);
    wait_for("select", 3);
    wait_for("sync.Mutex.Lock", 1);
    assert!(count("running") >= 1, "the test's own goroutine runs");
    drop(guard);
    drop(tx);
    drop(stop_tx);
    for h in hs {
        h.join().unwrap();
    }
    let states = gort::runtime::goroutines_by_state();
    assert_eq!(states.get("chan receive"), None, "{states:?}");
    assert_eq!(states.get("select"), None, "{states:?}");
}

/// A goroutine waiting at the end of `gort::scope` shows as "scope", not as the WaitGroup the
/// scope happens to use inside.
#[test]
fn a_goroutine_waiting_for_its_scope_shows_as_scope() {
    serial_go_test(30, a_goroutine_waiting_for_its_scope_shows_as_scope_body);
}

fn a_goroutine_waiting_for_its_scope_shows_as_scope_body() {
    let (tx, rx) = gort::chan::<()>(0);
    let waiter = gort::spawn(move || {
        gort::scope(|s| {
            s.go(|| rx.recv());
        })
    });
    wait_for("scope", 1);
    assert_eq!(count("sync.WaitGroup.Wait"), 0);
    drop(tx);
    waiter.join().unwrap();
}
