//! The workload of one round: a seeded random choice of pieces, run side by side until the
//! round's deadline, then joined and checked.
//!
//! A round runs as one goroutine (`gort::run` from `main`). It sets the processor count, starts
//! the liveness probes (always), then walks the piece table: each piece is chosen with its
//! probability and gets its own forked `Rng` (drawn whether or not the piece is skipped with
//! `--skip`/`--only`, so the other pieces keep their workload). A piece starts its goroutines
//! through [`Ctx::spawn`] (named, so a dump says what each one is) and may leave a finalizer
//! that runs after every goroutine has been joined (drain a buffered channel, compare a counter).
//!
//! Every loop in every piece ends at the round deadline, so the join is bounded: goroutines still
//! running [`GRACE`] after the deadline are reported as a hang, with their names.

mod chans;
mod locks;
mod sched;
mod timers;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::check::{self, Failures, Ledger, Ops, bump, lock};
use crate::live::Liveness;
use crate::rng::Rng;

/// How long after the round deadline its goroutines may take to finish.
pub const GRACE: Duration = Duration::from_secs(8);

/// How long a due timer may take to be delivered before a piece calls it lost (below GRACE).
pub const LOST: Duration = Duration::from_secs(5);

/// A workload piece: starts its goroutines.
type Piece = fn(&Arc<Ctx>, &mut Rng);

/// (short name for the round line, what it exercises, chance in percent, start function).
pub const PIECES: &[(&str, &str, u64, Piece)] = &[
    (
        "pair",
        "select! send+recv arms on one shared channel, two goroutines, timer arms",
        60,
        chans::select_pair,
    ),
    (
        "mpmc",
        "producers/consumers: send, try_send, send_timeout, select!, Select, close",
        60,
        chans::mpmc,
    ),
    (
        "dyn",
        "two dynamic Selects on opposite ends of unbuffered channels",
        40,
        chans::dyn_pair,
    ),
    (
        "chain",
        "spawn chains: each goroutine spawns its successor and exits",
        40,
        sched::spawn_chain,
    ),
    (
        "procs",
        "set_procs toggled in the middle of the round",
        30,
        sched::procs_toggler,
    ),
    (
        "hog",
        "goroutines spinning 5-30 ms without calling the runtime",
        40,
        sched::hogs,
    ),
    (
        "block",
        "blocking(), ffi::call(), and plain thread sleeps",
        50,
        sched::blocking_calls,
    ),
    (
        "mutex",
        "Mutex-protected counter, lock held across parks",
        50,
        locks::mutex_counter,
    ),
    (
        "cond",
        "Cond-based bounded producer/consumer queue",
        40,
        locks::cond_queue,
    ),
    (
        "wg",
        "WaitGroup fan-out of short goroutines",
        40,
        locks::waitgroup_fanout,
    ),
    (
        "timer",
        "Timer stop/reset, after, tick, Ticker, after_func, sleep",
        50,
        timers::timer_churn,
    ),
];

/// What one round runs.
#[derive(Clone, Debug)]
pub struct Config {
    pub seed: u64,
    pub procs: usize,
    /// Fixed round length; None: 300-2000 ms chosen by the seed.
    pub round_ms: Option<u64>,
    /// The liveness bound.
    pub max_wait: Duration,
    /// Piece names not to run.
    pub skip: Vec<String>,
}

/// What a round found.
#[derive(Debug)]
pub struct Outcome {
    pub failures: Vec<String>,
    pub len: Duration,
    pub plan: Vec<&'static str>,
    pub ops: String,
    pub max_sleep_over: Duration,
    pub max_yield_gap: Duration,
}

/// Finalizers run after all goroutines of the round are joined.
type Finalizer = Box<dyn FnOnce(&Ctx) + Send>;

/// The state shared by every goroutine of a round.
pub struct Ctx {
    pub deadline: Instant,
    pub procs: usize,
    pub ops: Ops,
    pub ledger: Arc<Ledger>,
    pub fails: Failures,
    pub live: Liveness,
    handles: Mutex<Vec<(String, gort::JoinHandle<()>)>>,
    finalizers: Mutex<Vec<Finalizer>>,
}

impl Ctx {
    /// Starts a named goroutine that the round joins (a dump names it while it is parked, and
    /// gives the piece's line as where it was spawned).
    #[track_caller]
    pub fn spawn(self: &Arc<Self>, name: String, f: impl FnOnce() + Send + 'static) {
        bump(&self.ops.spawns, 1);
        match gort::Builder::new().name(name.clone()).spawn(f) {
            Ok(h) => lock(&self.handles).push((name, h)),
            Err(e) => self.fail(format!("spawn of {name} failed: {e}")),
        }
    }

    /// Runs `f` after every goroutine of the round has been joined.
    pub fn finally(&self, f: impl FnOnce(&Ctx) + Send + 'static) {
        lock(&self.finalizers).push(Box::new(f));
    }

    /// The round deadline has passed.
    pub fn done(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Time left until the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn fail(&self, msg: String) {
        self.fails.push(msg);
    }
}

/// Runs one round (call it as a goroutine).
pub fn run_round(cfg: &Config) -> Outcome {
    gort::set_procs(cfg.procs);
    let mut rng = Rng::new(cfg.seed);
    let len = Duration::from_millis(cfg.round_ms.unwrap_or_else(|| rng.range(300, 2000)));
    let ctx = Arc::new(Ctx {
        deadline: Instant::now() + len,
        procs: cfg.procs,
        ops: Ops::default(),
        ledger: Arc::default(),
        fails: Failures::default(),
        live: Liveness::new(cfg.max_wait),
        handles: Mutex::new(Vec::new()),
        finalizers: Mutex::new(Vec::new()),
    });
    sched::probes(&ctx);
    let mut plan = Vec::new();
    for &(name, _, chance, start) in PIECES {
        let chosen = rng.chance(chance);
        let mut own = rng.fork();
        if chosen && !cfg.skip.iter().any(|s| s == name) {
            plan.push(name);
            start(&ctx, &mut own);
        }
    }
    if join_all(&ctx) {
        for f in std::mem::take(&mut *lock(&ctx.finalizers)) {
            f(&ctx);
        }
        let (problems, delivered) = ctx.ledger.verify();
        bump(&ctx.ops.msgs, delivered);
        for p in problems {
            ctx.fail(p);
        }
    }
    if gort::procs() != cfg.procs {
        gort::set_procs(cfg.procs);
    }
    for p in ctx.live.verify() {
        ctx.fail(p);
    }
    let ns = |a: &std::sync::atomic::AtomicU64| {
        Duration::from_nanos(a.load(std::sync::atomic::Ordering::Relaxed))
    };
    Outcome {
        failures: ctx.fails.take(),
        len,
        plan,
        ops: ctx.ops.line(),
        max_sleep_over: ns(&ctx.live.max_sleep_over),
        max_yield_gap: ns(&ctx.live.max_yield_gap),
    }
}

/// Joins every goroutine the round started (including ones started while waiting), reporting
/// panics; false if some are still running `GRACE` after the deadline (a hang).
fn join_all(ctx: &Arc<Ctx>) -> bool {
    let limit = ctx.deadline + GRACE;
    let mut pending: Vec<(String, gort::JoinHandle<()>)> = Vec::new();
    loop {
        pending.append(&mut lock(&ctx.handles));
        let mut still = Vec::new();
        for (name, h) in pending.drain(..) {
            if !h.is_finished() {
                still.push((name, h));
            } else if let Err(p) = h.join() {
                ctx.fail(format!(
                    "panic: goroutine {name} panicked: {}",
                    check::payload_msg(&*p)
                ));
            }
        }
        pending = still;
        if pending.is_empty() && lock(&ctx.handles).is_empty() {
            return true;
        }
        if Instant::now() > limit {
            let names: Vec<String> = pending
                .iter()
                .map(|(n, h)| format!("{n} (goroutine {})", h.id()))
                .collect();
            ctx.fail(format!(
                "hang: {} goroutines still running {} s after the round's end: {}",
                names.len(),
                GRACE.as_secs(),
                names.join(", ")
            ));
            return false;
        }
        gort::sleep(Duration::from_millis(2));
    }
}
