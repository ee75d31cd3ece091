//! set_procs grows and shrinks the number of processors while goroutines run.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::Duration;

use gort_test_support::bounded;

#[test]
fn set_procs_up_and_down_while_running() {
    bounded(120, || {
        let before = gort::procs();
        let done = Arc::new(AtomicUsize::new(0));
        let wg = gort::sync::WaitGroup::new();
        for i in 0..1000 {
            wg.add(1);
            let (wg, done) = (wg.clone(), done.clone());
            gort::go(move || {
                for k in 0..200 {
                    if (i + k) % 7 == 0 {
                        gort::sleep(Duration::from_micros(200));
                    } else {
                        gort::yield_now();
                    }
                }
                done.fetch_add(1, SeqCst);
                wg.done();
            });
        }
        for n in [4, 1, 3, 2, 8, 1, 2] {
            gort::set_procs(n);
            assert_eq!(gort::procs(), n);
            std::thread::sleep(Duration::from_millis(20));
        }
        wg.wait();
        assert_eq!(done.load(SeqCst), 1000);
        assert_eq!(gort::set_procs(before), 2);
        assert_eq!(gort::runtime::stats().procs, before);
    });
}

#[test]
fn set_procs_zero_panics_clearly() {
    let err = std::panic::catch_unwind(|| gort::set_procs(0)).unwrap_err();
    let msg = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap();
    assert!(msg.contains("at least 1"), "{msg}");
}
