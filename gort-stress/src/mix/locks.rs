//! `gort::sync` pieces.
//!
//! - `mutex_counter`: 2-8 goroutines increment a counter under a `gort::sync::Mutex` with a
//!   read / (sometimes park) / write sequence and an "inside" flag, so a broken exclusion shows
//!   up both as two holders at once and as lost increments; the final count must equal the sum
//!   of the increments each goroutine made. Some acquisitions use `try_lock`; some hold the lock
//!   across a `yield_now` or a `sleep` (waiters park, starvation mode kicks in).
//! - `cond_queue`: a bounded queue under a Mutex with two `Cond`s (not empty / not full), 1-3
//!   producers and 1-3 consumers, values checked by the ledger; a lost wake-up is a hang.
//! - `waitgroup_fanout`: a coordinator repeatedly starts 1-16 short goroutines with `go` and
//!   waits for them with a `WaitGroup`; `wait` must not return before every `done`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::*};

use gort::sync::{Cond, Mutex, WaitGroup};

use super::Ctx;
use crate::check::bump;
use crate::rng::Rng;

#[derive(Default)]
struct Counter {
    value: u64,
    inside: bool,
}

pub fn mutex_counter(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let m = Arc::new(Mutex::new(Counter::default()));
    let total = Arc::new(AtomicU64::new(0));
    let park_pct = rng.pick(&[0, 2, 10]);
    for i in 0..rng.urange(2, 9) {
        let (c, m, total, mut r) = (ctx.clone(), m.clone(), total.clone(), rng.fork());
        ctx.spawn(format!("mutex-{i}"), move || {
            let mut mine = 0;
            while !c.done() {
                let mut g = if r.chance(20) {
                    match m.try_lock() {
                        Some(g) => g,
                        None => {
                            gort::yield_now();
                            continue;
                        }
                    }
                } else {
                    m.lock()
                };
                bump(&c.ops.locks, 1);
                if g.inside {
                    c.fail("mutex: two goroutines hold the Mutex at once".into());
                }
                g.inside = true;
                let v = g.value;
                if r.chance(park_pct) {
                    if r.chance(50) {
                        gort::yield_now();
                    } else {
                        gort::sleep(r.micros(10, 500));
                    }
                }
                g.value = v + 1;
                g.inside = false;
                drop(g);
                mine += 1;
                if r.chance(10) {
                    gort::yield_now();
                }
            }
            total.fetch_add(mine, Relaxed);
        });
    }
    ctx.finally(move |ctx| {
        let (got, want) = (m.lock().value, total.load(Relaxed));
        if got != want {
            ctx.fail(format!(
                "mutex: counter is {got}, but the goroutines made {want} increments"
            ));
        }
    });
}

struct Queue {
    items: VecDeque<u64>,
    cap: usize,
    producers: usize,
}

struct Shared {
    q: Mutex<Queue>,
    not_empty: Cond,
    not_full: Cond,
}

pub fn cond_queue(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let np = rng.urange(1, 4);
    let s = Arc::new(Shared {
        q: Mutex::new(Queue {
            items: VecDeque::new(),
            cap: rng.urange(1, 9),
            producers: np,
        }),
        not_empty: Cond::new(),
        not_full: Cond::new(),
    });
    for i in 0..np {
        let (c, s, mut r) = (ctx.clone(), s.clone(), rng.fork());
        ctx.spawn(format!("cond-producer-{i}"), move || {
            let mut prod = c.ledger.producer("cond");
            while !c.done() {
                let mut g = s.q.lock();
                bump(&c.ops.locks, 1);
                while g.items.len() >= g.cap {
                    g = s.not_full.wait(g);
                    bump(&c.ops.locks, 1);
                }
                g.items.push_back(prod.tag());
                prod.sent();
                drop(g);
                if r.chance(20) {
                    s.not_empty.notify_all();
                } else {
                    s.not_empty.notify_one();
                }
                if r.chance(10) {
                    gort::yield_now();
                }
            }
            s.q.lock().producers -= 1;
            s.not_empty.notify_all();
        });
    }
    for i in 0..rng.urange(1, 4) {
        let (c, s, mut r) = (ctx.clone(), s.clone(), rng.fork());
        ctx.spawn(format!("cond-consumer-{i}"), move || {
            let mut sink = c.ledger.sink("cond");
            let mut g = s.q.lock();
            loop {
                if let Some(v) = g.items.pop_front() {
                    sink.got(v);
                    s.not_full.notify_one();
                    if r.chance(10) {
                        drop(g);
                        gort::yield_now();
                        g = s.q.lock();
                    }
                } else if g.producers == 0 {
                    break;
                } else {
                    g = s.not_empty.wait(g);
                }
                bump(&c.ops.locks, 1);
            }
        });
    }
}

pub fn waitgroup_fanout(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let (c, mut r) = (ctx.clone(), rng.fork());
    ctx.spawn("wg-coordinator".into(), move || {
        while !c.done() {
            let n = r.urange(1, 17);
            let wg = WaitGroup::new();
            let finished = Arc::new(AtomicUsize::new(0));
            wg.add(n);
            for _ in 0..n {
                let (wg, finished, d) = (wg.clone(), finished.clone(), r.micros(0, 2_000));
                let kind = r.below(3);
                gort::go(move || {
                    match kind {
                        0 => gort::sleep(d),
                        1 => gort::yield_now(),
                        _ => {}
                    }
                    finished.fetch_add(1, SeqCst);
                    wg.done();
                });
            }
            bump(&c.ops.spawns, n as u64);
            wg.wait();
            let f = finished.load(SeqCst);
            if f != n {
                c.fail(format!(
                    "waitgroup: wait returned after {f} of {n} goroutines called done"
                ));
            }
        }
    });
}
