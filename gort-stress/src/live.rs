//! Liveness: the probes' record, the control thread and the stall catcher.
//!
//! The probes (see `mix::sched::probes`) and the dyn-pair sides report every wait longer than
//! the bound (`--max-wait-ms`). Two plain OS threads, outside the runtime, help judge them:
//!
//! - the **control thread** sleeps 1 ms in a loop and records its own stalls. When the whole
//!   machine stalls (another build on a 2-core box), that part of a probe's wait is the OS's
//!   doing, not the runtime's, and is subtracted before comparing with the bound. A runtime that
//!   starves its goroutines does not slow this thread down, so the check is not weakened by it.
//! - the **stall catcher** watches the probes' heartbeats and, when one has not run for longer
//!   than the bound, takes a goroutine dump at that moment (what runs instead of the probe),
//!   printed if the round fails. The probe itself only notices the stall when it runs again.

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

/// Starts the control thread (once).
pub fn start_control_thread() {
    std::thread::Builder::new()
        .name("stress-control".into())
        .spawn(|| {
            loop {
                let t = Instant::now();
                std::thread::sleep(Duration::from_millis(1));
                let end = Instant::now();
                if end - t > Duration::from_millis(6) {
                    let mut c = lock(&CONTROL);
                    c.retain(|s| end - s.1 < Duration::from_secs(120));
                    c.push((t, end));
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

    /// Gaps above the bound that the machine's own stalls do not explain.
    pub fn verify(&self) -> Vec<String> {
        let control = lock(&CONTROL).clone();
        let mut out = Vec::new();
        for s in lock(&self.stalls).iter() {
            let os: Duration = control
                .iter()
                .map(|&(a, b)| b.min(s.end).saturating_duration_since(a.max(s.start)))
                .sum();
            let late = (s.end - s.start).saturating_sub(s.expected);
            if late.saturating_sub(os) > self.bound {
                out.push(format!(
                    "liveness: {} waited {:.1} ms (expected {:?}); a plain OS thread was \
                     stalled {:.1} ms of that; bound {} ms",
                    s.probe,
                    ms(late),
                    s.expected,
                    ms(os),
                    self.bound.as_millis()
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
