//! A burst of goroutines with deep stacks does not pin memory: once they have finished and the
//! processors have nothing left to run, the scavenger returns their stacks' pages about a second
//! later, the slots each processor keeps for its next spawns included. Alone in its binary: it
//! measures the process's RSS.

use std::hint::black_box;
use std::time::{Duration, Instant};

use gort_test_support::{bounded, rss_kib};

/// Goroutines in the burst, all alive at once.
const BURST: usize = 256;
/// Stack each one touches: 40 frames of 4 KiB.
const DEPTH: usize = 40;
/// What may stay: the scavenger keeps the top page of up to 1,024 slots (1 MiB here), and the
/// heap may keep a little.
const KEEPS_KIB: u64 = 8 << 10;

/// Touches `depth` frames of 4 KiB of stack.
fn dig(depth: usize) -> u64 {
    let frame = black_box([depth as u8; 4096]);
    if depth == 0 {
        return frame[0] as u64;
    }
    dig(depth - 1) + black_box(&frame)[4095] as u64
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
                    black_box(dig(DEPTH));
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
            peak > start + (BURST * DEPTH * 4 / 2) as u64,
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
