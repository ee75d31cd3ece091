//! Scheduler pieces and the liveness probes.
//!
//! - `probes` (every round): `probe-sleep` loops `gort::sleep(1 ms)` and records its oversleep;
//!   `probe-yield` loops `gort::yield_now()` and records the gap until it runs again. A gap above
//!   `--max-wait-ms` (that the machine's own stalls do not explain, see `check`) fails the round:
//!   however the other pieces load the scheduler (hogs included: sysmon is supposed to hand a
//!   hog's processor to another thread), runnable goroutines must get to run.
//! - `spawn_chain`: Go's perpetuumMobile: each link spawns its successor and exits, until the
//!   deadline. The successor sits in `runnext`; it must not starve everyone else.
//! - `procs_toggler`: `set_procs` to 1, 2, 3 or the round's count every 5-80 ms.
//! - `hogs`: 1-3 goroutines that spin 5-30 ms on the CPU without calling the runtime (pure loops
//!   on `Instant::elapsed`), then yield or sleep.
//! - `blocking_calls`: `gort::blocking(|| std::thread::sleep(..))`, `gort::ffi::call` (sleeping
//!   or computing), and sometimes a plain `std::thread::sleep` that holds the processor.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Ctx;
use crate::check::bump;
use crate::live;
use crate::rng::Rng;

pub fn probes(ctx: &Arc<Ctx>) {
    let c = ctx.clone();
    ctx.spawn("probe-sleep".into(), move || {
        let d = Duration::from_millis(1);
        while !c.done() {
            live::beat(0, true);
            let t = Instant::now();
            gort::sleep(d);
            let end = Instant::now();
            bump(&c.ops.timers, 1);
            if end - t < d {
                c.fail(format!(
                    "sleep: gort::sleep({d:?}) returned after {:?}",
                    end - t
                ));
                break;
            }
            c.live.record("sleep probe", t, end, d);
        }
        live::beat(0, false);
    });
    let c = ctx.clone();
    ctx.spawn("probe-yield".into(), move || {
        while !c.done() {
            live::beat(1, true);
            let t = Instant::now();
            gort::yield_now();
            c.live
                .record("yield probe", t, Instant::now(), Duration::ZERO);
        }
        live::beat(1, false);
    });
}

pub fn spawn_chain(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let n = rng.urange(1, 4);
    let wg = gort::sync::WaitGroup::new();
    wg.add(n);
    for i in 0..n {
        let (c, wg, yield_every) = (ctx.clone(), wg.clone(), rng.pick(&[0, 0, 10, 100]));
        ctx.spawn(format!("chain-{i}"), move || link(c, wg, 0, yield_every));
    }
    ctx.spawn("chain-wait".into(), move || wg.wait());
}

fn link(ctx: Arc<Ctx>, wg: gort::sync::WaitGroup, n: u64, yield_every: u64) {
    if ctx.done() {
        wg.done();
        return;
    }
    if yield_every > 0 && n.is_multiple_of(yield_every) {
        gort::yield_now();
    }
    bump(&ctx.ops.spawns, 1);
    gort::go(move || link(ctx, wg, n + 1, yield_every));
}

pub fn procs_toggler(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let (c, mut r) = (ctx.clone(), rng.fork());
    ctx.spawn("procs-toggler".into(), move || {
        let p = c.procs;
        let mut last = gort::procs();
        while !c.done() {
            gort::sleep(r.micros(5_000, 80_000).min(c.remaining()));
            let to = r.pick(&[1, 2, 3, p]);
            let prev = gort::set_procs(to);
            bump(&c.ops.procs, 1);
            if prev != last || gort::procs() != to {
                c.fail(format!(
                    "set_procs: set {last} then {to}: set_procs returned {prev}, procs() is {}",
                    gort::procs()
                ));
            }
            last = to;
        }
        gort::set_procs(p);
    });
}

/// Spins on the CPU for `d` without calling the runtime.
fn spin(d: Duration) -> u64 {
    let t = Instant::now();
    let mut x = 1u64;
    while t.elapsed() < d {
        for _ in 0..64 {
            x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
        }
    }
    x
}

pub fn hogs(ctx: &Arc<Ctx>, rng: &mut Rng) {
    for i in 0..rng.urange(1, 4) {
        let (c, mut r) = (ctx.clone(), rng.fork());
        ctx.spawn(format!("hog-{i}"), move || {
            while !c.done() {
                std::hint::black_box(spin(r.micros(5_000, 30_000)));
                bump(&c.ops.hogs, 1);
                if r.chance(50) {
                    gort::yield_now();
                } else {
                    gort::sleep(r.micros(500, 20_000));
                }
            }
        });
    }
}

pub fn blocking_calls(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let plain_pct = rng.pick(&[0, 5, 15]);
    for i in 0..rng.urange(1, 4) {
        let (c, mut r) = (ctx.clone(), rng.fork());
        ctx.spawn(format!("block-{i}"), move || {
            while !c.done() {
                let x = r.below(100);
                let d = r.micros(100, 5_000);
                let t = Instant::now();
                if x < plain_pct {
                    // Holds the processor: sysmon must notice and lend one past it.
                    std::thread::sleep(d);
                } else if x < 50 {
                    let v = gort::blocking(move || {
                        std::thread::sleep(d);
                        x
                    });
                    if v != x || t.elapsed() < d {
                        c.fail(format!(
                            "blocking: returned {v} (expected {x}) after {:?} (slept {d:?})",
                            t.elapsed()
                        ));
                    }
                } else if x < 75 {
                    gort::ffi::call(|| std::thread::sleep(d));
                } else {
                    let k = r.below(10_000);
                    let v = gort::ffi::call(|| (0..k).map(std::hint::black_box).sum::<u64>());
                    if v != k * k.saturating_sub(1) / 2 {
                        c.fail(format!("ffi::call: sum of 0..{k} came back as {v}"));
                    }
                }
                bump(&c.ops.blocking, 1);
                if r.chance(50) {
                    gort::yield_now();
                } else {
                    gort::sleep(r.micros(50, 2_000));
                }
            }
        });
    }
}
