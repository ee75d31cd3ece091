//! "Every blocking call works everywhere", case 3: a blocking call made before anything
//! else starts the runtime lazily. This file's only test is the process's first gort call.

use std::time::Duration;

use gort_test_support::bounded;

#[test]
fn first_call_is_a_blocking_call_on_a_plain_thread() {
    bounded(30, || {
        let (tx, rx) = gort::chan::<u32>(0);
        let (timed_out_tx, timed_out) = std::sync::mpsc::channel();
        // The very first gort operations: a plain thread blocks on a receive with a timeout
        // (needs the runtime's timers), then another plain thread sends.
        let waiter = std::thread::spawn(move || {
            assert_eq!(
                rx.recv_timeout(Duration::from_millis(20)),
                Err(gort::RecvTimeoutError::Timeout)
            );
            timed_out_tx.send(()).unwrap();
            rx.recv()
        });
        timed_out.recv().unwrap();
        tx.send(5).unwrap();
        assert_eq!(waiter.join().unwrap(), Some(5));
        // The runtime is up: goroutines run and can be joined from this plain thread.
        assert!(gort::runtime::stats().procs >= 1);
        let h = gort::spawn(|| {
            gort::sleep(Duration::from_millis(5));
            gort::current_id().is_some()
        });
        assert!(h.join().unwrap());
        assert!(gort::current_id().is_none());
    });
}
