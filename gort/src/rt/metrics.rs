//! Scheduler metrics cheap enough to leave on: the scheduling latency (Go's runtime/metrics
//! `/sched/latencies:seconds`), by sampling. One wake-up in `SAMPLE` (counted per thread)
//! stamps the readied G; when a scheduler runs it, the time from runnable to running goes into
//! a log2 histogram. The switch path pays one load and test of the stamp; the wake-up path a
//! thread-local counter. Go stamps every wake-up with `nanotime`.
//!
//! Time spent in blocking calls (`gort::blocking`, `ffi::call`, `gort::fs`, DNS) is measured
//! off the call's path, which is 11 ns for `ffi::call` (even a sampled count on it cost 11–16%).
//! Sysmon, each time it looks at the processors, adds the time since it last looked for each P
//! that is in a blocking call: a sampling estimate, unbiased as long as calls do not keep step
//! with sysmon's ticks. A call that outlasts a tick loses its P to sysmon (`blocking::retake`),
//! which stamps the M; the call's end adds the time from the stamp exactly.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};

use super::g::G;
use crate::sys::nanotime;

/// One event in `SAMPLE` is measured.
const SAMPLE: u32 = 64;
/// Histogram buckets: bucket `i` counts latencies in [2^i, 2^(i+1)) ns (the last one, longer).
pub(crate) const BUCKETS: usize = 40;

static LATENCY: [AtomicU64; BUCKETS] = [const { AtomicU64::new(0) }; BUCKETS];

std::thread_local! {
    static READIES: Cell<u32> = const { Cell::new(0) };
}

/// Counts an event on `counter`; true once in `SAMPLE`.
#[inline]
fn sampled(counter: &Cell<u32>) -> bool {
    let n = counter.get().wrapping_add(1);
    counter.set(n);
    n.is_multiple_of(SAMPLE)
}

/// `gp` was just made runnable (by `ready`): stamp it, once in `SAMPLE` per thread.
pub(crate) fn readied(gp: &G) {
    if READIES.with(sampled) {
        gp.runnable_at.store(nanotime(), Relaxed);
    }
}

/// `gp` is about to run: record its wait if it was stamped.
#[inline]
pub(crate) fn running(gp: &G) {
    if gp.runnable_at.load(Relaxed) != 0 {
        record_latency(&gp.runnable_at);
    }
}

#[cold]
fn record_latency(at: &AtomicI64) {
    let waited = nanotime().saturating_sub(at.swap(0, Relaxed)).max(1) as u64;
    let bucket = (63 - waited.leading_zeros() as usize).min(BUCKETS - 1);
    LATENCY[bucket].fetch_add(1, Relaxed);
}

/// Estimated nanoseconds spent in blocking calls (module doc).
pub(crate) static BLOCKING_NS: AtomicU64 = AtomicU64::new(0);

/// Sysmon saw `n` processors in blocking calls, `dt` ns after its previous look.
pub(crate) fn blocking_sampled(n: u64, dt: i64) {
    if n > 0 && dt > 0 {
        BLOCKING_NS.fetch_add(n * dt as u64, Relaxed);
    }
}

/// The blocking call on `m` ended without getting its P back: add the time since sysmon took
/// it, if it did.
pub(crate) fn retaken_call_ended(m: &super::m::M) {
    let at = m.retaken_at.swap(0, Relaxed);
    if at != 0 {
        BLOCKING_NS.fetch_add(nanotime().saturating_sub(at).max(0) as u64, Relaxed);
    }
}

/// The latency histogram's buckets.
pub(crate) fn latency() -> [u64; BUCKETS] {
    std::array::from_fn(|i| LATENCY[i].load(Relaxed))
}
