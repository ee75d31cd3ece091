//! W2_idle: spawn N goroutines that each park until released; once all are parked, read VmRSS;
//! bytes_per_g = (RSS_after - RSS_before) / N. Then release and join.
//!
//! As the Go version, the goroutines block receiving from one shared channel, which is closed to
//! release them. They are started as Go's are, with `gort::go`: no join handle, so no result
//! packet on the heap per goroutine. `go` panics when no stack can be had; the panic is caught
//! and reported (ok:false, its text and the largest N that worked). per_op_ns =
//! spawn-until-all-started / N, as in the Go version.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use super::Workload;
use crate::report::{Outcome, vm_rss_bytes};

pub const WORKLOAD: Workload = Workload {
    name: "W2_idle",
    summary: "N parked goroutines: resident bytes per goroutine (bytes_per_g)",
    default_n: 10_000,
    sweep: &[10_000, 100_000, 1_000_000],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let (release, gate) = gort::chan::<()>(0);
        let started = gort::sync::WaitGroup::new();
        let exited = gort::sync::WaitGroup::new();
        let before = vm_rss_bytes().unwrap_or(-1);
        let start = Instant::now();
        let mut spawned: u64 = 0;
        let mut spawn_error = None;
        while spawned < n {
            started.add(1);
            exited.add(1);
            let (gate, started_, exited_) = (gate.clone(), started.clone(), exited.clone());
            let r = catch_unwind(AssertUnwindSafe(|| {
                gort::go(move || {
                    started_.done();
                    gate.recv();
                    exited_.done();
                })
            }));
            match r {
                Ok(()) => spawned += 1,
                Err(payload) => {
                    started.done();
                    exited.done();
                    spawn_error = Some(panic_text(payload));
                    break;
                }
            }
        }
        started.wait();
        let wall = start.elapsed();

        // Every goroutine has called started.done(); give the last ones time to reach their park
        // (the Go version sleeps 50 ms), then check that the scheduler has gone quiet.
        gort::sleep(Duration::from_millis(50));
        let settled = gort::blocking(all_procs_idle);
        let after = vm_rss_bytes().unwrap_or(-1);
        let stats = gort::runtime::stats();

        release.close();
        exited.wait();

        let bytes_per_g = if spawned > 0 && before >= 0 && after >= 0 {
            Some((after - before) as f64 / spawned as f64)
        } else {
            None
        };
        let mut note = format!(
            "parked on one shared channel; VmRSS before={before} after={after} bytes; \
             per_op_ns=spawn-until-all-started/N; stacks: {} ({} slots); live goroutines while parked={}",
            stats.stack_mechanism, stats.stack_slots, stats.goroutines
        );
        if !settled {
            note.push_str(
                "; processors not all idle after 5 s (some goroutines may not be parked)",
            );
        }
        let ok = spawn_error.is_none() && bytes_per_g.is_some();
        if let Some(e) = &spawn_error {
            note = format!(
                "spawn failed after {spawned} goroutines (largest N that worked: {spawned}): {e}; {note}"
            );
        }
        if before < 0 || after < 0 {
            note.push_str("; could not read VmRSS from /proc/self/status");
        }
        Outcome {
            ops: if spawn_error.is_some() { n } else { spawned },
            wall,
            per_op_ns: (spawned > 0).then(|| wall.as_nanos() as f64 / spawned as f64),
            ok,
            note,
            bytes_per_g,
            value: Some(spawned as i64),
        }
    })
}

/// The message of a caught panic (`go` panics with the spawn error's text).
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast_ref::<&str>()
            .map_or_else(|| "a non-text panic".to_string(), |s| s.to_string()),
    }
}

/// Waits (blocking this OS thread, inside `gort::blocking`, so that our own polling wakes no
/// processor) until every processor is idle: nothing runnable anywhere, so every spawned
/// goroutine is parked on the gate. Sampled from here rather than from a goroutine: a goroutine
/// that sleeps and wakes makes the scheduler start a spinning thread, which holds a processor for
/// a moment and would make the check race with its own wake-up. Gives up after 5 s.
fn all_procs_idle() -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut calm = 0;
    while Instant::now() < deadline {
        let s = gort::runtime::stats();
        if s.idle_procs >= s.procs {
            calm += 1;
            if calm == 3 {
                return true;
            }
        } else {
            calm = 0;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    false
}
