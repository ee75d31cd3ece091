//! Observability (Go's runtime package introspection): `stats`, `dump` and the execution
//! tracer ([`trace`]). SIGQUIT prints the same dump and exits with status 2;
//! `GORT_DEBUG=schedtrace=N` prints a scheduler line every N ms, and with `scheddetail=1` a
//! line per processor, thread and goroutine, which then also heads every dump; a global
//! deadlock is reported as Go does.
//!
//! # Dumps
//! Each goroutine is listed with its id (and name), state (the wait reason of a parked one, and
//! how long it has waited), spawn site, and its backtrace if it is parked. The runtime's own
//! frames are cut from both ends of a backtrace, so it starts at the gort call the goroutine
//! blocks in. Goroutines with the same state, spawn site and stack are listed once, under a
//! count (`1,000 goroutines [chan receive, 3 minutes]:`), with the first ten by id and the rest
//! as id ranges.
//!
//! `GORT_TRACEBACK` works as Go's GOTRACEBACK: `none` prints no goroutines (SIGQUIT, the
//! deadlock report, fatal errors, and panics, which lose their backtrace); `single`, the
//! default, dumps every goroutine on SIGQUIT and deadlock; `all` also dumps them after a fatal
//! error (except a stack overflow, reported from its signal handler, where no dump can be
//! taken: the report names the goroutine and where it was spawned); `system` is `all` with
//! the runtime's own goroutines listed too; `crash` is `system` that also ends SIGQUIT and
//! the deadlock report with SIGABRT (a core dump where enabled) instead of exit status 2. A
//! stack overflow ends with SIGABRT at every level (its report is written from the signal
//! handler, which can only abort).
//!
//! # The deadlock detector's limits
//! `fatal error: all goroutines are asleep - deadlock!` is reported only when nothing could
//! ever wake anything, checked twice with no progress in between: every processor idle,
//! nothing queued, no timer that could wake anyone, no blocking call or C call in progress, and every OS
//! thread of the process known to gort (its own, or a plain thread parked in a gort call). So
//! it stays silent, and the program simply hangs, while:
//! - a thread gort does not know exists (a thread pool of another crate, a C library's
//!   thread, the tokio runtime of `compat::tokio`): it might still send on a channel;
//! - a goroutine waits for I/O or a signal (`gort::net`, `gort::signal`, `Child::wait`): the
//!   outside world might still wake it;
//! - a goroutine sleeps, or an `after_func` (a context's deadline too) is pending, however
//!   far away.
//!
//! A timer's channel (`Timer`, `Ticker`, `after`, `tick`) keeps it silent only while someone
//! waits on that channel: a goroutine blocked elsewhere beside an unread hour-long `Timer` is
//! reported, as Go 1.23 reports it. Go's detector has the same blind spots for cgo threads and
//! pending timers.
//!
//! ```
//! let (tx, rx) = gort::chan::<()>(0);
//! let h = gort::Builder::new().name("waiter".into()).spawn(move || rx.recv()).unwrap();
//! let s = gort::runtime::stats();
//! assert!(s.goroutines >= 1 && s.procs >= 1);
//! let mut out = Vec::new();
//! gort::runtime::dump(&mut out).unwrap(); // every goroutine, with a backtrace where it parked
//! assert!(String::from_utf8_lossy(&out).contains("goroutine"));
//! drop(tx);
//! h.join().unwrap();
//! ```

use crate::rt;

pub mod trace;

/// A snapshot of the runtime's state.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Stats {
    /// Live user goroutines.
    pub goroutines: usize,
    /// Processors (GOMAXPROCS).
    pub procs: usize,
    /// OS threads the scheduler runs now (Ms), not counting sysmon. Idle ones beyond a
    /// reserve of four exit after ten seconds with nothing to do.
    pub threads: usize,
    /// The most scheduler threads there have been at once.
    pub threads_peak: usize,
    /// Processors with nothing to run.
    pub idle_procs: usize,
    /// Goroutines started since the process began.
    pub spawned_total: u64,
    /// Which guard scheme protects goroutine stacks.
    pub stack_mechanism: &'static str,
    /// Stack slots ever created (each holds one goroutine at a time).
    pub stack_slots: usize,
    /// Free slots in the pool whose memory is still committed.
    pub pooled_hot: usize,
    /// Free slots in the pool whose memory was returned to the kernel.
    pub pooled_cold: usize,
    /// Extra threads: foreign (C) threads that entered through `ffi::callback` bound to an M
    /// (created once per thread that calls back, reused afterwards).
    pub extra_threads: usize,
    /// Threads looking for work (Go's nmspinning).
    pub spinning_threads: usize,
    /// Goroutines on the global run queue.
    pub global_queue: usize,
    /// Processors handed off so far from a goroutine that ran a whole time slice without
    /// calling the runtime (it keeps its thread, the processor goes on with the rest);
    /// non-zero means some goroutine hogs its thread.
    pub handoffs: u64,
    /// Nanoseconds goroutines have spent in blocking calls (`gort::blocking`, `ffi::call`,
    /// `gort::fs`, DNS) since the process began. An estimate: sysmon samples which processors
    /// are in a call each time it looks, and times exactly the rest of any call that outlasts
    /// a look (it then hands that call's processor off). Calls of a few microseconds, too
    /// short for the call path to afford a clock read, are counted only through the samples.
    pub blocking_ns: u64,
    /// How many goroutines are in each state (as [`goroutines_by_state`]; reading it visits
    /// every goroutine).
    pub goroutines_by_state: std::collections::BTreeMap<&'static str, usize>,
    /// Scheduling latency, from runnable to running, of one wake-up in 64 per thread.
    pub sched_latency: Histogram,
    /// Timers waiting to fire: sleeps, timer channels, `after_func`s, and I/O deadlines of
    /// parked operations. A count that keeps growing means timers that are never stopped.
    pub timers: usize,
}

/// Reads the runtime's counters (starts the runtime if needed).
pub fn stats() -> Stats {
    let s = rt::stats();
    Stats {
        goroutines: s.goroutines,
        procs: s.procs,
        threads: s.threads,
        idle_procs: s.idle_procs,
        spawned_total: s.spawned_total,
        stack_mechanism: if s.guard_markers {
            "guard-markers"
        } else {
            "mprotect"
        },
        stack_slots: s.stack_slots,
        pooled_hot: s.pooled_hot,
        pooled_cold: s.pooled_cold,
        extra_threads: s.extra_threads,
        spinning_threads: s.spinning_threads,
        global_queue: s.global_queue,
        handoffs: s.handoffs,
        blocking_ns: s.blocking_ns,
        timers: s.timers,
        threads_peak: s.threads_peak,
        goroutines_by_state: rt::goroutines_by_state(),
        sched_latency: Histogram {
            buckets: s.sched_latency.to_vec(),
        },
    }
}

/// A log2 histogram of durations: `buckets[i]` counts durations in [2^i, 2^(i+1))
/// nanoseconds (the last bucket: that long or longer).
///
/// ```
/// let h = gort::runtime::Histogram { buckets: vec![0, 3, 1] };
/// assert_eq!(h.count(), 4);
/// assert_eq!(h.quantile(0.5), Some(std::time::Duration::from_nanos(4)));
/// assert_eq!(h.quantile(1.0), Some(std::time::Duration::from_nanos(8)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Counts per power-of-two bucket of nanoseconds.
    pub buckets: Vec<u64>,
}

impl Histogram {
    /// How many durations were recorded.
    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// An upper bound of the `q` quantile (0.0–1.0, clamped; NaN counts as 0): the top of the
    /// bucket where the cumulative count reaches `q`; None when empty. The last bucket is
    /// open-ended, so for it the result is only its nominal top, twice its bottom.
    pub fn quantile(&self, q: f64) -> Option<std::time::Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let want = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= want {
                return Some(std::time::Duration::from_nanos(1u64 << (i + 1).min(63)));
            }
        }
        None
    }
}

/// How many goroutines are in each state: `"running"`, `"runnable"`, `"syscall"` (in
/// `blocking` or `ffi::call`), or, for a parked goroutine, its wait reason as the dump prints
/// it (`"chan receive"`, `"chan send"`, `"select"`, `"sleep"`, `"sync.Mutex.Lock"`, ...).
/// States with no goroutine are absent. Like [`crate::num_goroutines`], it counts the
/// program's goroutines, not the runtime's own. It reads every goroutine's descriptor, so it
/// costs time in proportion to the goroutines that exist: meant for tests and diagnostics, for
/// example to wait until a goroutine has parked instead of sleeping and hoping it has. The
/// visit is not one instant: while goroutines start and exit, its sum may differ from
/// `num_goroutines` read just before or after by those that did so meanwhile.
///
/// ```
/// use std::time::Duration;
///
/// let (tx, rx) = gort::chan::<u32>(0);
/// let h = gort::spawn(move || rx.recv());
/// while gort::runtime::goroutines_by_state().get("chan receive").copied().unwrap_or(0) == 0 {
///     gort::sleep(Duration::from_millis(1));
/// }
/// tx.send(7).unwrap(); // the receiver is parked: this send hands the value over directly
/// assert_eq!(h.join().unwrap(), Some(7));
/// ```
pub fn goroutines_by_state() -> std::collections::BTreeMap<&'static str, usize> {
    rt::goroutines_by_state()
}

/// Writes every goroutine: id, state and wait reason, how long, where it was spawned, and its
/// stack backtrace (for parked goroutines and the caller; running ones are listed without one).
/// Plain OS threads waiting in a gort call follow, by name, with what they wait for and how
/// long (their stacks are their own, not shown).
/// The runtime's own goroutines (the signal dispatcher, for one) are left out, as Go leaves out
/// system goroutines, unless `GORT_TRACEBACK` is `system` or `crash`.
pub fn dump(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    rt::dump(w)
}

/// Sets the most OS threads the scheduler may start, and returns the previous limit (Go's
/// `debug.SetMaxThreads`; default 10,000). Every thread counts: each goroutine inside a
/// blocking call (`gort::blocking`, `ffi::call`, `gort::fs`, DNS) or blocking its thread
/// without one, or running without calling the runtime, keeps a thread, beside the
/// processors' own; past the limit the program stops with `fatal error: thread exhaustion` and
/// exit status 2, as Go's does (Go counts threads in system calls too). A limit below the
/// threads already running stops it at once.
///
/// # Panics
/// If `n` is 0.
pub fn set_max_threads(n: usize) -> usize {
    assert!(
        n >= 1,
        "gort::runtime::set_max_threads: the limit must be at least 1, got {n}"
    );
    rt::set_max_threads(n)
}
