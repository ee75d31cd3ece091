//! W15_exec: N processes of `/bin/true`, each started and waited by its own goroutine, at most
//! 32 at once (a buffered channel as the semaphore, as the Go version's); per_op_ns = wall / N.
//! Exercises `gort::process`: spawn as a hand-off call, the wait parked on a pidfd.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W15_exec",
    summary: "N goroutines each run /bin/true to completion, at most 32 at once (per_op = wall / N)",
    default_n: 1_000,
    sweep: &[],
    run,
};

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let ok = Arc::new(AtomicU64::new(0));
        let wg = gort::sync::WaitGroup::new();
        let (sem, free) = gort::chan::<()>(32);
        let start = Instant::now();
        for _ in 0..n {
            wg.add(1);
            sem.send(()).unwrap();
            let (ok, wg, free) = (ok.clone(), wg.clone(), free.clone());
            gort::go(move || {
                let status = gort::process::Command::new("/bin/true").status();
                if status.is_ok_and(|s| s.success()) {
                    ok.fetch_add(1, Relaxed);
                }
                free.recv();
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        let ok = ok.load(Relaxed);
        Outcome {
            ops: n,
            wall,
            ok: ok == n,
            note: format!("gort::process::Command(\"/bin/true\").status(); {ok} of {n} succeeded"),
            ..Outcome::default()
        }
    })
}
