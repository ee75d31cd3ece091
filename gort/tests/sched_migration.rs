//! Migration stress: with procs = 2, 10,000 goroutines (2,000 in debug builds) yield
//! 100 times each while the scheduler moves them between threads; each checks that its
//! `current_id` and its stack-held state never change. Its own file: `set_procs` is
//! process-wide.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use gort_test_support::{bounded, gettid};

#[test]
fn migration_stress_ids_and_stack_state() {
    bounded(120, || {
        gort::set_procs(2);
        let n = if cfg!(debug_assertions) {
            2_000
        } else {
            10_000
        };
        let wg = gort::sync::WaitGroup::new();
        let bad = Arc::new(AtomicUsize::new(0));
        let migrated = Arc::new(AtomicUsize::new(0));
        for i in 0..n {
            wg.add(1);
            let (wg, bad, migrated) = (wg.clone(), bad.clone(), migrated.clone());
            gort::go(move || {
                let id = gort::current_id().unwrap();
                let mut local = [i as u64; 32];
                let mut tid = gettid();
                for k in 0..100u64 {
                    for v in local.iter_mut() {
                        *v = v.wrapping_add(k);
                    }
                    gort::yield_now();
                    let t = gettid();
                    if t != tid {
                        migrated.fetch_add(1, Relaxed);
                        tid = t;
                    }
                    if gort::current_id() != Some(id) {
                        bad.fetch_add(1, SeqCst);
                    }
                }
                let want = (i as u64).wrapping_add((0..100u64).sum::<u64>());
                if local.iter().any(|&v| v != want) {
                    bad.fetch_add(1, SeqCst);
                }
                wg.done();
            });
        }
        wg.wait();
        assert_eq!(bad.load(SeqCst), 0);
        // Two processors steal from each other's queues: goroutines did change threads.
        assert!(migrated.load(Relaxed) > 0, "no goroutine ever migrated");
    });
}
