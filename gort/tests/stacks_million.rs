//! A million goroutines parked at once under the default kernel settings
//! (vm.max_map_count = 65530), then released; a million more spawned in batches; and the memory
//! comes back: RSS ends within 64 MiB of the start plus what the pool keeps by design.
//!
//! What the pool keeps by design: `WARM_KEEP` = 1024 scavenged slots keep their top page
//! (4 MiB), and each P's cache holds up to 64 slots with their pages (a few MiB at most). We allow
//! 8 MiB for it. Runs with 1,000,000 goroutines in release builds; debug builds (unoptimised
//! frames are much larger) use 100,000.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort_test_support::{bounded, rss_kib};

const POOL_KEEPS_KIB: u64 = 8 << 10;

#[test]
fn million_parked_then_memory_returns() {
    bounded(300, || {
        let n: usize = if cfg!(debug_assertions) {
            100_000
        } else {
            1_000_000
        };
        // Warm the runtime so its fixed costs are in the baseline.
        gort::run(|| ());
        let start = rss_kib();

        let parked = Arc::new(AtomicUsize::new(0));
        let gate = gort::sync::WaitGroup::new();
        let finished = gort::sync::WaitGroup::new();
        gate.add(1);
        finished.add(n);
        for _ in 0..n {
            let (parked, gate, finished) = (parked.clone(), gate.clone(), finished.clone());
            gort::Builder::new()
                .spawn(move || {
                    parked.fetch_add(1, Relaxed);
                    gate.wait();
                    finished.done();
                })
                .expect("spawn failed");
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while parked.load(Relaxed) < n {
            assert!(
                Instant::now() < deadline,
                "only {} parked",
                parked.load(Relaxed)
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let peak = rss_kib();
        let per_g = (peak.saturating_sub(start) * 1024) as f64 / n as f64;
        eprintln!(
            "{n} parked goroutines: {per_g:.0} bytes each; stats: {:?}",
            gort::runtime::stats()
        );
        assert!(gort::num_goroutines() >= n);
        gate.done();
        finished.wait();

        // A million more, in batches.
        let batch = n / 10;
        for _ in 0..10 {
            let wg = gort::sync::WaitGroup::new();
            wg.add(batch);
            for _ in 0..batch {
                let wg = wg.clone();
                gort::go(move || {
                    gort::yield_now();
                    wg.done();
                });
            }
            wg.wait();
        }

        // The scavenger returns idle stacks after ~1 s.
        let limit = start + (64 << 10) + POOL_KEEPS_KIB;
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut rss = rss_kib();
        while rss > limit && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
            rss = rss_kib();
        }
        eprintln!(
            "RSS start {start} KiB, peak {peak} KiB, end {rss} KiB (limit {limit}); stats: {:?}",
            gort::runtime::stats()
        );
        assert!(rss <= limit, "RSS {rss} KiB > {limit} KiB");
    });
}
