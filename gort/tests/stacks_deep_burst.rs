//! A burst of goroutines with deep stacks does not pin memory: once they have finished and the
//! processors have nothing left to run, the scavenger returns their stacks' pages about a second
//! later, the slots each processor keeps for its next spawns included. Alone in its binary: it
//! measures the process's RSS.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gort_test_support::{bounded, rss_kib};

/// Goroutines in the burst, all alive at once.
const BURST: usize = 256;
/// Stack each one touches, in KiB: one frame, the same size in debug and release builds.
const DEEP_KIB: usize = 160;
/// What may stay: the scavenger keeps the top page of up to 1,024 slots (1 MiB here), and the
/// heap may keep a little.
const KEEPS_KIB: u64 = 8 << 10;

/// Touches `DEEP_KIB` of stack.
#[inline(never)]
fn dig() -> u8 {
    let mut frame = [1u8; DEEP_KIB << 10];
    black_box(&mut frame);
    frame[DEEP_KIB << 9]
}

#[test]
fn deep_stacks_are_returned_after_a_burst() {
    bounded(120, || {
        gort::set_procs(2);
        // Warm the runtime so its fixed costs are in the baseline.
        gort::run(|| ());
        let start = rss_kib();
        gort::run(|| {
            let dug = gort::sync::WaitGroup::new();
            let (gate_tx, gate_rx) = gort::chan::<()>(0);
            let done = gort::sync::WaitGroup::new();
            dug.add(BURST);
            done.add(BURST);
            for _ in 0..BURST {
                let (dug, done, gate) = (dug.clone(), done.clone(), gate_rx.clone());
                gort::go(move || {
                    black_box(dig());
                    dug.done();
                    // Stay alive until every stack is deep, so no slot serves twice.
                    let _ = gate.recv();
                    done.done();
                });
            }
            dug.wait();
            drop(gate_tx);
            done.wait();
        });
        let peak = rss_kib();
        assert!(
            peak > start + (BURST * DEEP_KIB / 2) as u64,
            "the burst did not touch its stacks: RSS {start} -> {peak} KiB"
        );
        let limit = start + KEEPS_KIB;
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut rss = peak;
        while rss > limit && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            rss = rss_kib();
        }
        assert!(
            rss <= limit,
            "RSS start {start} KiB, after the burst {peak} KiB, 20 s later {rss} KiB \
             (limit {limit}): stacks stayed committed"
        );
    });
}
