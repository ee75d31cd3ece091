//! Liveness: the probes' record, the control thread and the stall catcher.
//!
//! The probes (see `mix::sched::probes`) and the dyn-pair sides report every wait longer than
//! the bound (`--max-wait-ms`). Two plain OS threads, outside the runtime, help judge them:
//!
//! - the **control thread** sleeps 1 ms in a loop and records its own stalls. When the whole
//!   machine stalls (another build on a 2-core box), that part of a probe's wait is the OS's
//!   doing, not the runtime's, and is subtracted before comparing with the bound. A runtime that
//!   starves its goroutines does not slow this thread down, so the check is not weakened by it.
//! - the control thread also samples every 10 ms how much CPU this process's threads **wanted**
//!   (`/proc/self/task/*/schedstat`: time run plus time spent runnable waiting for a CPU). A
//!   round at procs 4 on a 2-core machine, or with hogs (whose threads the kernel time-slices
//!   against the processors' threads by design), wants more CPUs than there are, and every
//!   thread, the probes' included, then runs only part of the time. The bound is a bound on
//!   the runtime's own scheduling, so it is scaled by that oversubscription (threads wanting a
//!   CPU over CPUs, when above 1). Where there is none — procs at most the CPU count and no
//!   hogs — the bound is unchanged, and a runtime that starves a goroutine outright is caught
//!   at any scale.
//! - the **stall catcher** watches the probes' heartbeats and, when one has not run for longer
//!   than the bound, takes a goroutine dump at that moment (what runs instead of the probe),
//!   printed if the round fails. The probe itself only notices the stall when it runs again.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::check::{lock, ms};
/// A probe's gap that exceeded the bound.
#[derive(Debug, Clone)]
struct Stall {
    probe: &'static str,
    start: Instant,
    end: Instant,
    expected: Duration,
}

/// Stalls of the control thread (a plain OS thread sleeping 1 ms): (start, end).
static CONTROL: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());

/// Per-thread CPU use: tid -> (ns run, ns runnable but waiting for a CPU), cumulative.
type Usage = HashMap<u32, (u64, u64)>;

/// Samples of `Usage`, oldest first, for the last two minutes.
static DEMAND: Mutex<VecDeque<(Instant, Usage)>> = Mutex::new(VecDeque::new());

/// This process's threads' CPU use so far (empty where the kernel has no schedstat).
fn usage() -> Usage {
    let mut u = Usage::new();
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return u;
    };
    for e in dir.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(s) = std::fs::read_to_string(e.path().join("schedstat")) else {
            continue;
        };
        let mut f = s.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
        if let (Some(run), Some(wait)) = (f.next(), f.next()) {
            u.insert(tid, (run, wait));
        }
    }
    u
}

/// How many of this process's threads wanted a CPU, on average, between `a` and `b` (from the
/// samples around them), or None without samples.
fn demand(a: Instant, b: Instant) -> Option<f64> {
    let d = lock(&DEMAND);
    let first = d.iter().rev().find(|s| s.0 <= a).or(d.front())?;
    let last = d.iter().find(|s| s.0 >= b).or(d.back())?;
    let secs = (last.0 - first.0).as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    let wanted: u64 = last
        .1
        .iter()
        .filter_map(|(tid, &(run, wait))| {
            let (run0, wait0) = first.1.get(tid).copied().unwrap_or((0, 0));
            (run + wait).checked_sub(run0 + wait0)
        })
        .sum();
    Some(wanted as f64 / 1e9 / secs)
}

/// The CPUs this process may use.
fn cpus() -> f64 {
    std::thread::available_parallelism().map_or(1, |n| n.get()) as f64
}

/// Starts the control thread (once).
pub fn start_control_thread() {
    std::thread::Builder::new()
        .name("stress-control".into())
        .spawn(|| {
            for i in 0u64.. {
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                let end = Instant::now();
                if end - t > Duration::from_millis(6) {
                    let mut c = lock(&CONTROL);
                    c.retain(|s| end - s.1 < Duration::from_secs(120));
                    c.push((t, end));
                }
                if i % 10 == 0 {
                    let u = usage();
                    let mut d = lock(&DEMAND);
                    while d
                        .front()
                        .is_some_and(|s| end - s.0 > Duration::from_secs(120))
                    {
                        d.pop_front();
                    }
                    d.push_back((end, u));
                }
            }
        })
        .expect("spawning the control thread");
}

/// The liveness record of a round.
#[derive(Debug)]
pub struct Liveness {
    bound: Duration,
    stalls: Mutex<Vec<Stall>>,
    /// Largest oversleep of the sleep probe, ns.
    pub max_sleep_over: AtomicU64,
    /// Largest gap of the yield probe, ns.
    pub max_yield_gap: AtomicU64,
}

impl Liveness {
    pub fn new(bound: Duration) -> Liveness {
        Liveness {
            bound,
            stalls: Mutex::new(Vec::new()),
            max_sleep_over: AtomicU64::new(0),
            max_yield_gap: AtomicU64::new(0),
        }
    }

    /// A probe waited from `start` to `end` for something that should take `expected`.
    pub fn record(&self, probe: &'static str, start: Instant, end: Instant, expected: Duration) {
        let late = (end - start).saturating_sub(expected);
        let max = match probe {
            "sleep probe" => Some(&self.max_sleep_over),
            "yield probe" => Some(&self.max_yield_gap),
            _ => None,
        };
        if let Some(max) = max {
            max.fetch_max(late.as_nanos() as u64, Relaxed);
        }
        if late > self.bound {
            lock(&self.stalls).push(Stall {
                probe,
                start,
                end,
                expected,
            });
        }
    }

    /// Gaps above the bound that the machine's own stalls and oversubscription do not explain.
    pub fn verify(&self) -> Vec<String> {
        let control = lock(&CONTROL).clone();
        let mut out = Vec::new();
        for s in lock(&self.stalls).iter() {
            let os: Duration = control
                .iter()
                .map(|&(a, b)| b.min(s.end).saturating_duration_since(a.max(s.start)))
                .sum();
            let late = (s.end - s.start).saturating_sub(s.expected);
            let wanted = demand(s.start, s.end);
            let scale = wanted.map_or(1.0, |w| (w / cpus()).max(1.0));
            let bound = self.bound.mul_f64(scale);
            if late.saturating_sub(os) > bound {
                out.push(format!(
                    "liveness: {} waited {:.1} ms (expected {:?}); a plain OS thread was \
                     stalled {:.1} ms of that; threads wanting a CPU: {} on {} CPUs; bound {} ms \
                     ({} ms scaled)",
                    s.probe,
                    ms(late),
                    s.expected,
                    ms(os),
                    wanted.map_or("unknown".into(), |w| format!("{w:.1}")),
                    cpus(),
                    self.bound.as_millis(),
                    bound.as_millis()
                ));
            }
        }
        out
    }
}

/// Heartbeats of the two probes (ns since `epoch()`, 0: not running), for the stall catcher.
static BEATS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];
const PROBES: [&str; 2] = ["sleep", "yield"];
static BOUND_NS: AtomicU64 = AtomicU64::new(u64::MAX);
/// The first dump taken while a probe was stalled, since the last `take_stall_dump`.
static STALL_DUMP: Mutex<Option<String>> = Mutex::new(None);

fn epoch() -> Instant {
    static E: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    *E.get_or_init(Instant::now)
}

/// Probe `i` (0: sleep, 1: yield) is alive now; `running` false when it exits.
pub fn beat(i: usize, running: bool) {
    let t = if running {
        (epoch().elapsed().as_nanos() as u64).max(1)
    } else {
        0
    };
    BEATS[i].store(t, Relaxed);
}

/// Starts the stall catcher (once): a plain thread that, when a probe has not run for longer
/// than the bound, takes a goroutine dump at that moment (what is running instead of it), to be
/// printed if the round fails.
pub fn start_stall_catcher(bound: Duration) {
    BOUND_NS.store(bound.as_nanos() as u64, Relaxed);
    let _ = epoch();
    std::thread::Builder::new()
        .name("stress-stall-catcher".into())
        .spawn(|| {
            let mut caught = [0u64; 2];
            loop {
                std::thread::sleep(Duration::from_millis(5));
                let now = epoch().elapsed().as_nanos() as u64;
                for i in 0..2 {
                    let b = BEATS[i].load(Relaxed);
                    let late = now.saturating_sub(b);
                    if b == 0 || caught[i] == b || late <= BOUND_NS.load(Relaxed) {
                        continue;
                    }
                    caught[i] = b;
                    if lock(&STALL_DUMP).is_some() {
                        continue;
                    }
                    let mut buf = format!(
                        "---- dump taken while the {} probe had not run for {:.1} ms ----\n",
                        PROBES[i],
                        late as f64 / 1e6
                    )
                    .into_bytes();
                    let _ = gort::runtime::dump(&mut buf);
                    *lock(&STALL_DUMP) = Some(String::from_utf8_lossy(&buf).into_owned());
                }
            }
        })
        .expect("spawning the stall catcher");
}

/// The dump taken during a probe stall since the last call, if any.
pub fn take_stall_dump() -> Option<String> {
    lock(&STALL_DUMP).take()
}
