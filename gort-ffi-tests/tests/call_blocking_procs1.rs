//! A C call that blocks in `ffi::call` gives its processor away: with procs = 1, other
//! goroutines keep running while it sleeps. Its own test binary: `set_procs` is process-global.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use gort_ffi_tests::fft_sleep_us;
use gort_test_support::{with_procs, yielders};

const SLEEP: Duration = Duration::from_millis(500);

/// a C call that blocks for 500 ms inside `ffi::call` with procs = 1 does not stop
/// other goroutines: they complete 2 x 1,000 yields well under those 500 ms. A round can be
/// spoiled by the OS descheduling the test's threads on a loaded machine, so the best of three
/// rounds must show it.
#[test]
fn blocking_c_call_does_not_stop_other_goroutines() {
    with_procs(1, 30, || {
        assert_eq!(gort::procs(), 1);
        let mut best = Duration::MAX;
        for _ in 0..3 {
            best = best.min(one_round());
            if best < SLEEP / 2 {
                return;
            }
        }
        panic!("2 x 1,000 yields took at best {best:?} while a C call slept {SLEEP:?}");
    });
}

/// How long 2 x 1,000 yields took beside a C call sleeping `SLEEP` (`MAX` if the call finished
/// first).
fn one_round() -> Duration {
    let lends = gort::runtime::stats().handoffs;
    let in_c = Arc::new(AtomicBool::new(false));
    let c_done = Arc::new(AtomicBool::new(false));
    let sleeper = {
        let (in_c, c_done) = (in_c.clone(), c_done.clone());
        gort::spawn(move || {
            let start = Instant::now();
            gort::ffi::call(|| {
                in_c.store(true, SeqCst);
                // SAFETY: usleep, no pointers.
                unsafe { fft_sleep_us(SLEEP.as_micros() as u32) }
            });
            c_done.store(true, SeqCst);
            start.elapsed()
        })
    };
    // The only processor is ours until we yield; once the sleeper is in C, its processor is
    // retaken and we run again.
    while !in_c.load(SeqCst) {
        gort::yield_now();
    }
    let took = yielders(2);
    // The processor was handed off by `ffi::call`, not lent by sysmon past a blocked thread
    // (which would also let the workers run).
    assert_eq!(
        gort::runtime::stats().handoffs,
        lends,
        "ffi::call kept its processor"
    );
    let c_was_running = !c_done.load(SeqCst);
    let slept = sleeper.join().unwrap();
    assert!(slept >= SLEEP, "the C call slept only {slept:?}");
    if c_was_running { took } else { Duration::MAX }
}
