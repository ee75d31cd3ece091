//! `num_goroutines` counts live user goroutines, the caller included, never the runtime's own:
//! a goroutine that `join` has returned for is no longer counted, at one processor and at two
//! (where the joiner may run on another processor while the finished goroutine is still leaving
//! its stack), and neither is the goroutine that cancels a context at its deadline. Alone in its
//! binary: other tests' goroutines would change the count.

use std::time::Duration;

use gort::context::Context;
use gort_test_support::with_procs;

const ROUNDS: usize = 20_000;

fn joined_goroutines_are_counted_out(procs: usize) {
    with_procs(procs, 60, move || {
        let base = gort::num_goroutines();
        let mut stale = 0;
        let mut seen = 0;
        for round in 0..ROUNDS {
            // One at a time, then a few at once, so the joiner is sometimes still parked when
            // the goroutine finishes and sometimes not.
            let width = 1 + round % 4;
            let handles: Vec<_> = (0..width).map(|i| gort::spawn(move || i)).collect();
            for h in handles {
                h.join().unwrap();
            }
            let n = gort::num_goroutines();
            if n != base {
                stale += 1;
                seen = n;
            }
        }
        assert_eq!(
            stale, 0,
            "at procs {procs}: {stale} of {ROUNDS} counts after join were off (last {seen}, \
             expected {base})"
        );
    });
}

#[test]
fn a_joined_goroutine_is_no_longer_counted() {
    joined_goroutines_are_counted_out(1);
    joined_goroutines_are_counted_out(2);
}

fn expired_contexts_leave_no_goroutine(procs: usize) {
    with_procs(procs, 60, move || {
        let base = gort::num_goroutines();
        let mut stale = 0;
        for _ in 0..200 {
            let (ctx, _cancel) = Context::background().with_timeout(Duration::from_micros(50));
            // Polled rather than parked on `done`: at two processors the poller sees the
            // cancel as soon as it happens, on another processor than the canceller.
            while ctx.err().is_none() {
                gort::yield_now();
            }
            if gort::num_goroutines() != base {
                stale += 1;
            }
        }
        assert_eq!(
            stale, 0,
            "at procs {procs}: {stale} of 200 counts after a deadline were off"
        );
    });
}

#[test]
fn the_goroutine_that_cancels_at_a_deadline_is_not_counted() {
    expired_contexts_leave_no_goroutine(1);
    expired_contexts_leave_no_goroutine(2);
}
