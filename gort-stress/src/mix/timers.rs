//! Timer pieces: 1-2 goroutines each loop over random timer operations and check Go 1.23's
//! timer semantics (the runtime's timers and `Instant` read the same monotonic clock, so "never
//! early" is checked exactly):
//!
//! - `after(d)`, `sleep(d)`, `Timer`, `tick(d)`: nothing fires before its due time, and the
//!   value is the firing time (so at least the due time); the k-th tick is at least k periods
//!   after the ticker started.
//! - `Timer::stop` before the due time returns true and nothing is ever received afterwards;
//!   `Timer::reset` delivers at least `d` after the reset, never a value of the earlier arming;
//!   `stop`/`reset` after the value was received return false.
//! - `Ticker::reset`/`stop`: no tick from before the call is received afterwards.
//! - `after_func`: a function runs (once, not before its time) iff `stop` did not return true.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gort::time::{Ticker, Timer};

use super::{Ctx, LOST};
use crate::check::{bump, lock};
use crate::rng::Rng;

pub fn timer_churn(ctx: &Arc<Ctx>, rng: &mut Rng) {
    for i in 0..rng.urange(1, 3) {
        let (c, mut r) = (ctx.clone(), rng.fork());
        ctx.spawn(format!("timer-{i}"), move || {
            while !c.done() {
                match r.below(8) {
                    0 => after_once(&c, &mut r),
                    1 => stop_before_due(&c, &mut r),
                    2 => reset(&c, &mut r),
                    3 => tick(&c, &mut r),
                    4 => ticker(&c, &mut r),
                    5 => after_funcs(&c, &mut r),
                    _ => {
                        let d = r.micros(10, 3_000);
                        let t0 = Instant::now();
                        gort::sleep(d);
                        early(&c, "sleep", t0 + d, Instant::now());
                    }
                }
                bump(&c.ops.timers, 1);
            }
        });
    }
}

/// Fails if `what` happened at `at`, before `due`.
fn early(ctx: &Ctx, what: &str, due: Instant, at: Instant) {
    if at < due {
        ctx.fail(format!("timer: {what} fired {:?} early", due - at));
    }
}

/// Receives from a timer channel that must deliver; None (and a failure) if it does not.
fn must_recv(ctx: &Ctx, what: &str, rx: &gort::Receiver<Instant>) -> Option<Instant> {
    match rx.recv_timeout(LOST) {
        Ok(v) => Some(v),
        Err(e) => {
            ctx.fail(format!(
                "timer: {what} did not deliver within {LOST:?}: {e:?}"
            ));
            None
        }
    }
}

fn after_once(ctx: &Ctx, r: &mut Rng) {
    let d = r.micros(100, 5_000);
    let t0 = Instant::now();
    if let Some(v) = must_recv(ctx, "after", &gort::after(d)) {
        early(ctx, "after (its value)", t0 + d, v);
        early(ctx, "after (its receive)", t0 + d, Instant::now());
    }
}

fn stop_before_due(ctx: &Ctx, r: &mut Rng) {
    let d = r.micros(20_000, 60_000);
    let t0 = Instant::now();
    let t = Timer::new(d);
    if r.chance(50) {
        gort::yield_now();
    }
    let stopped = t.stop();
    let after_stop = Instant::now();
    if !stopped && after_stop < t0 + d {
        ctx.fail(format!(
            "timer: stop() returned false {:?} before the timer was due",
            t0 + d - after_stop
        ));
    }
    gort::sleep((t0 + d + Duration::from_millis(2)).saturating_duration_since(Instant::now()));
    if let Ok(v) = t.receiver().try_recv() {
        ctx.fail(format!(
            "timer: a stopped timer delivered a value {:?} after the stop",
            v.saturating_duration_since(after_stop)
        ));
    }
}

fn reset(ctx: &Ctx, r: &mut Rng) {
    let d1 = r.micros(1_000, 20_000);
    let t = Timer::new(d1);
    if r.chance(30) {
        // Let the first arming fire (maybe) and stay unreceived: reset must drain it.
        gort::sleep(d1.mul_f64(r.below(200) as f64 / 100.0));
    }
    let d2 = r.micros(100, 10_000);
    let tr = Instant::now();
    t.reset(d2);
    if let Some(v) = must_recv(ctx, "a reset Timer", t.receiver()) {
        early(
            ctx,
            "a reset Timer (value from before the reset?)",
            tr + d2,
            v,
        );
        if t.stop() {
            ctx.fail("timer: stop() returned true after the value was received".into());
        }
        if t.reset(Duration::from_millis(1)) {
            ctx.fail("timer: reset() returned true on a stopped timer".into());
        }
    }
}

fn tick(ctx: &Ctx, r: &mut Rng) {
    let d = r.micros(500, 3_000);
    let t0 = Instant::now();
    let rx = gort::tick(d);
    let mut prev = t0;
    for k in 1..=r.range(1, 5) as u32 {
        let Some(v) = must_recv(ctx, "tick", &rx) else {
            return;
        };
        early(ctx, &format!("tick {k}"), t0 + d * k, v);
        if v <= prev && k > 1 {
            ctx.fail(format!("timer: tick {k} is not later than tick {}", k - 1));
        }
        prev = v;
        if r.chance(20) {
            // A slow reader: ticks are dropped, never queued beyond one.
            gort::sleep(d * 3);
        }
    }
}

fn ticker(ctx: &Ctx, r: &mut Rng) {
    let d = r.micros(500, 3_000);
    let t0 = Instant::now();
    let tk = Ticker::new(d);
    let Some(v) = must_recv(ctx, "Ticker", tk.receiver()) else {
        return;
    };
    early(ctx, "Ticker", t0 + d, v);
    if r.chance(50) {
        gort::sleep(d * 2);
    }
    let d2 = r.micros(500, 3_000);
    let tr = Instant::now();
    tk.reset(d2);
    let Some(v) = must_recv(ctx, "a reset Ticker", tk.receiver()) else {
        return;
    };
    early(
        ctx,
        "a reset Ticker (tick from before the reset?)",
        tr + d2,
        v,
    );
    if r.chance(50) {
        gort::sleep(d2 * 2);
    }
    let ts = Instant::now();
    tk.stop();
    gort::sleep(d2 + Duration::from_millis(1));
    if let Ok(v) = tk.receiver().try_recv() {
        ctx.fail(format!(
            "timer: a stopped Ticker delivered a tick from {:?} before the stop",
            ts.saturating_duration_since(v)
        ));
    }
}

fn after_funcs(ctx: &Ctx, r: &mut Rng) {
    let n = r.urange(1, 9);
    let ran: Arc<Mutex<Vec<Vec<Instant>>>> = Arc::new(Mutex::new(vec![Vec::new(); n]));
    let mut plan = Vec::new();
    let t0 = Instant::now();
    for i in 0..n {
        let d = r.micros(100, 20_000);
        let ran = ran.clone();
        let h = gort::time::after_func(d, move || lock(&ran)[i].push(Instant::now()));
        plan.push((d, h));
    }
    bump(&ctx.ops.spawns, n as u64);
    let mut stopped = vec![None; n];
    for (i, (_, h)) in plan.iter().enumerate() {
        if r.chance(40) {
            if r.chance(50) {
                gort::sleep(r.micros(0, 5_000));
            }
            stopped[i] = Some(h.stop());
        }
    }
    // Every function that was not stopped must run; give them until LOST after the latest due.
    let last_due = t0 + plan.iter().map(|p| p.0).max().unwrap_or_default();
    let expect =
        |ran: &Vec<Vec<Instant>>| (0..n).all(|i| stopped[i] == Some(true) || !ran[i].is_empty());
    while !expect(&lock(&ran)) && Instant::now() < last_due + LOST {
        gort::sleep(Duration::from_millis(1));
    }
    gort::sleep(Duration::from_millis(2));
    let ran = lock(&ran).clone();
    for (i, (d, _)) in plan.iter().enumerate() {
        let runs = &ran[i];
        match (stopped[i], runs.len()) {
            (Some(true), 0) | (None | Some(false), 1) => {}
            (Some(true), k) => ctx.fail(format!(
                "after_func: stop() returned true but the function ran {k} times"
            )),
            (s, k) => ctx.fail(format!(
                "after_func: ran {k} times (expected once; stop() returned {s:?})"
            )),
        }
        if let Some(&at) = runs.first() {
            early(ctx, "after_func", t0 + *d, at);
        }
    }
}
