//! Invariant bookkeeping: operation counters, the failure list, the exactly-once ledger for
//! channel values, and the record of panics (liveness is in `live`).
//!
//! - **Exactly once.** Every value sent on a checked channel is a tag `(producer id, seq)`
//!   (`u64`: id in the high half). A [`Producer`] uses sequence numbers 0, 1, 2, ... and moves
//!   to the next one only when a send reported success; a value that came back (`SendError`,
//!   `TrySendError`, `SendTimeoutError`, or a select whose other arm won) is not counted, and its
//!   sequence number is reused. So producer `id` has sent exactly `0..n`. A [`Sink`] records
//!   what one receiver got, in order. At the end of the round the ledger checks that every
//!   `0..n` was received exactly once (duplicates, losses and values never sent are reported)
//!   and that each receiver saw each producer's values in increasing order (channels are FIFO
//!   and a producer only ever sends on one channel).
//! - **Panics.** A panic hook records every panic (goroutines started with `go!` report theirs
//!   only through the hook); `JoinHandle::join` results are checked as well.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Operation counters of a round (printed on its line).
#[derive(Default, Debug)]
pub struct Ops {
    /// Values delivered through checked channels.
    pub msgs: AtomicU64,
    /// `select!` / `Select` operations completed (any arm, timeouts included).
    pub selects: AtomicU64,
    /// Goroutines spawned.
    pub spawns: AtomicU64,
    /// Mutex acquisitions (Cond waits included).
    pub locks: AtomicU64,
    /// Timer, ticker, after, after_func and sleep events.
    pub timers: AtomicU64,
    /// `blocking`, `ffi::call` and plain thread sleeps.
    pub blocking: AtomicU64,
    /// Hog bursts (5-30 ms of CPU without calling the runtime).
    pub hogs: AtomicU64,
    /// `set_procs` calls made in the middle of the round.
    pub procs: AtomicU64,
}

/// Adds `n` to a counter.
pub fn bump(c: &AtomicU64, n: u64) {
    c.fetch_add(n, Relaxed);
}

impl Ops {
    pub fn line(&self) -> String {
        let g = |c: &AtomicU64| c.load(Relaxed);
        format!(
            "msgs {} sel {} spawn {} lock {} timer {} block {} hog {} setprocs {}",
            g(&self.msgs),
            g(&self.selects),
            g(&self.spawns),
            g(&self.locks),
            g(&self.timers),
            g(&self.blocking),
            g(&self.hogs),
            g(&self.procs)
        )
    }
}

/// Failures found during a round, in the order they were noticed.
#[derive(Default, Debug)]
pub struct Failures(Mutex<Vec<String>>);

impl Failures {
    pub fn push(&self, msg: String) {
        lock(&self.0).push(msg);
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.0))
    }
}

/// Locks a std mutex, ignoring poison (a panic is reported on its own).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The exactly-once ledger of a round.
#[derive(Default, Debug)]
pub struct Ledger {
    next_id: AtomicU32,
    /// (producer id, what it is, values sent).
    sent: Mutex<Vec<(u32, &'static str, u32)>>,
    /// Each receiver's values, in the order received.
    received: Mutex<Vec<(&'static str, Vec<u64>)>>,
}

/// One sender's view: the tag to send next, and how many sends succeeded.
pub struct Producer {
    ledger: Arc<Ledger>,
    id: u32,
    what: &'static str,
    seq: u32,
}

impl Producer {
    /// The value to send now.
    pub fn tag(&self) -> u64 {
        (u64::from(self.id) << 32) | u64::from(self.seq)
    }

    /// The send of `tag()` succeeded.
    pub fn sent(&mut self) {
        self.seq += 1;
    }

    /// A failed send gave `v` back: it must be the value we tried to send.
    pub fn returned(&self, v: u64, fails: &Failures) {
        if v != self.tag() {
            fails.push(format!(
                "{}: a failed send returned {} instead of the value sent, {}",
                self.what,
                show(v),
                show(self.tag())
            ));
        }
    }
}

impl Drop for Producer {
    fn drop(&mut self) {
        lock(&self.ledger.sent).push((self.id, self.what, self.seq));
    }
}

/// One receiver's record.
pub struct Sink {
    ledger: Arc<Ledger>,
    what: &'static str,
    got: Vec<u64>,
}

impl Sink {
    pub fn got(&mut self, v: u64) {
        self.got.push(v);
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let got = std::mem::take(&mut self.got);
        lock(&self.ledger.received).push((self.what, got));
    }
}

/// `(id, seq)` of a tag, for messages.
pub fn show(v: u64) -> String {
    format!("(producer {}, seq {})", v >> 32, v & 0xffff_ffff)
}

impl Ledger {
    pub fn producer(self: &Arc<Self>, what: &'static str) -> Producer {
        Producer {
            ledger: self.clone(),
            id: self.next_id.fetch_add(1, Relaxed),
            what,
            seq: 0,
        }
    }

    pub fn sink(self: &Arc<Self>, what: &'static str) -> Sink {
        Sink {
            ledger: self.clone(),
            what,
            got: Vec::new(),
        }
    }

    /// Checks exactly-once delivery and per-receiver order; returns the problems found (at most
    /// a few per kind) and the number of values delivered.
    pub fn verify(&self) -> (Vec<String>, u64) {
        let mut out = Vec::new();
        let sent = lock(&self.sent).clone();
        let received = std::mem::take(&mut *lock(&self.received));
        let mut by_id: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut total = 0u64;
        for (what, got) in &received {
            let mut last: HashMap<u32, u32> = HashMap::new();
            for &v in got {
                let (id, seq) = ((v >> 32) as u32, v as u32);
                if let Some(&prev) = last.get(&id)
                    && seq <= prev
                    && out.len() < 8
                {
                    out.push(format!(
                        "order: receiver {what} got seq {seq} after seq {prev} from producer {id} \
                         (a channel is FIFO; each producer sends on one channel)"
                    ));
                }
                last.insert(id, seq);
                by_id.entry(id).or_default().push(seq);
                total += 1;
            }
        }
        let registered = self.next_id.load(Relaxed) as usize;
        if sent.len() != registered {
            out.push(format!(
                "ledger: {} producers registered but {} finished (a producer goroutine is stuck)",
                registered,
                sent.len()
            ));
        }
        for (id, what, n) in sent {
            let mut seqs = by_id.remove(&id).unwrap_or_default();
            seqs.sort_unstable();
            let mut problems = Vec::new();
            let mut expect = 0u32;
            for (i, &s) in seqs.iter().enumerate() {
                if i > 0 && seqs[i - 1] == s {
                    problems.push(format!("seq {s} delivered twice"));
                } else if s >= n {
                    problems.push(format!("seq {s} delivered but never sent"));
                } else {
                    if s > expect {
                        problems.push(format!("seq {expect}..{s} lost"));
                    }
                    expect = s + 1;
                }
            }
            if expect < n {
                problems.push(format!("seq {expect}..{n} lost"));
            }
            if !problems.is_empty() {
                problems.truncate(4);
                out.push(format!(
                    "exactly-once: producer {id} ({what}) sent {n}, received {}: {}",
                    seqs.len(),
                    problems.join(", ")
                ));
            }
        }
        for (id, seqs) in by_id {
            out.push(format!(
                "exactly-once: {} values from producer {id}, which never registered",
                seqs.len()
            ));
        }
        (out, total)
    }
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Panics seen by the hook since the last `take_panics`.
static PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Installs a panic hook that records every panic, then runs the default hook.
pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let who = gort::current_id()
            .map(|id| format!("goroutine {id}"))
            .unwrap_or_else(|| {
                format!("thread {:?}", std::thread::current().name().unwrap_or("?"))
            });
        lock(&PANICS).push(format!("{who} panicked: {info}"));
        default(info);
    }));
}

pub fn take_panics() -> Vec<String> {
    std::mem::take(&mut *lock(&PANICS))
}

/// The message of a panic payload.
pub fn payload_msg(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-string panic payload)".to_string()
    }
}
