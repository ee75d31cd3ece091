//! Trace files: `runtime::trace::start`/`stop` and `GORT_TRACE`, writing rt::trace's events as
//! Chrome trace-event JSON, which Perfetto (ui.perfetto.dev) and chrome://tracing open. Go
//! writes its own binary format for `go tool trace`; a format every trace viewer reads needs
//! no tool of ours to look at.
//!
//! The file has one process, "processors", with a track (thread) per P, where each time slice
//! a goroutine ran is a slice named after the goroutine ("G17 worker") with why it stopped and
//! when it had become runnable in its arguments. A flow arrow joins the goroutine that readied
//! another to the slice where that one runs next. Creations, hand-offs, timer and netpoll
//! batches and P starts and stops are instant events on their P's track (or on "no P" when
//! recorded without one). A second process, "blocking calls", has a track per M with the
//! blocking calls made on it. `gort-trace` reads the same file.
//!
//! A file whose name ends in `.gz` is gzip-compressed as it is written (Perfetto and
//! `gort-trace` open those directly): trace JSON compresses about fivefold.
//!
//! A writer thread collects the buffers while the trace runs; `stop` has it sort the events by
//! time and write the file, so the file is ordered and written once.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;

use flate2::Compression;
use flate2::write::GzEncoder;

use super::trace::{Event, NO_P, Stop};

/// The running trace's writer thread and file.
static WRITER: Mutex<Option<(JoinHandle<io::Result<()>>, PathBuf)>> = Mutex::new(None);

/// `runtime::trace::start`.
pub(crate) fn start(path: &Path) -> io::Result<()> {
    super::ensure_started();
    let mut w = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, running)) = &*w {
        return Err(io::Error::other(format!(
            "gort::runtime::trace::start: a trace to {} is already running",
            running.display()
        )));
    }
    let file = File::create(path).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("gort::runtime::trace::start: {}: {e}", path.display()),
        )
    })?;
    let (tx, rx) = channel();
    let t0 = super::trace::clocks();
    if !super::trace::begin(tx) {
        return Err(io::Error::other(
            "gort::runtime::trace::start: a trace is already running",
        ));
    }
    super::trace::procs(
        super::global::SCHED
            .procs
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    super::trace::snapshot(super::dump::parked_name);
    let gzip = path.extension().is_some_and(|e| e == "gz");
    let spawned = std::thread::Builder::new()
        .name("gort-trace".into())
        .spawn(move || {
            if gzip {
                // The buffer in front of the compressor, which costs per call: the events
                // arrive as many small writes (behind it, a 4M-event trace took 12x longer).
                let z = GzEncoder::new(file, Compression::fast());
                let mut w = BufWriter::with_capacity(1 << 20, z);
                write_trace(rx, &mut w, t0)?;
                w.into_inner()
                    .map_err(|e| e.into_error())?
                    .finish()?
                    .flush()
            } else {
                write_trace(rx, BufWriter::with_capacity(1 << 20, file), t0)
            }
        });
    let thread = match spawned {
        Ok(t) => {
            WRITER_THREADS.fetch_add(1, SeqCst);
            t
        }
        Err(e) => {
            // No writer: stop recording, so that a later `start` can begin afresh.
            super::trace::end();
            return Err(e);
        }
    };
    *w = Some((thread, path.to_path_buf()));
    Ok(())
}

/// Writer threads alive: the deadlock detector counts them among the runtime's own threads
/// (a writer waiting for events is no thread that could wake a goroutine).
pub(crate) static WRITER_THREADS: AtomicUsize = AtomicUsize::new(0);

/// `runtime::trace::stop`.
pub(crate) fn stop() -> io::Result<()> {
    let mut w = WRITER.lock().unwrap_or_else(|e| e.into_inner());
    let Some((thread, path)) = w.take() else {
        return Err(io::Error::other(
            "gort::runtime::trace::stop: no trace is running",
        ));
    };
    // Still holding `WRITER`, which serialises `begin` and `end` (rt::trace): a `start`
    // meanwhile waits until recording has ended and the buffers are collected.
    super::trace::end();
    drop(w);
    let joined = thread.join();
    WRITER_THREADS.fetch_sub(1, SeqCst);
    match joined {
        Ok(r) => r.map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("gort::runtime::trace: writing {}: {e}", path.display()),
            )
        }),
        Err(_) => Err(io::Error::other(
            "gort::runtime::trace: the writer panicked",
        )),
    }
}

/// Finishes a running trace before a deadlock report or SIGQUIT's dump ends the process, so
/// that the file is whole: `stop`, unless a `start` or `stop` holds the writer's lock (the
/// report does not wait for it; the file stays unfinished then).
pub(crate) fn finish_before_exit() {
    let running = match WRITER.try_lock() {
        Ok(w) => w.is_some(),
        Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner().is_some(),
        Err(std::sync::TryLockError::WouldBlock) => false,
    };
    if running && let Err(e) = stop() {
        super::start::warn(&format!("GORT_TRACE: {e}"));
    }
}

/// `GORT_TRACE=path`: traces the whole run, written when the process exits. Called once the
/// runtime has started.
pub(crate) fn start_from_env() {
    let Some(path) = std::env::var_os("GORT_TRACE").filter(|p| !p.is_empty()) else {
        return;
    };
    extern "C" fn at_exit() {
        // Unless the program stopped it itself.
        let running = WRITER.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        if running && let Err(e) = stop() {
            super::start::warn(&format!("GORT_TRACE: {e}"));
        }
    }
    match start(Path::new(&path)) {
        Ok(()) => {
            // SAFETY: registers a plain extern "C" function with no arguments.
            unsafe { libc::atexit(at_exit) };
        }
        Err(e) => super::start::warn(&format!("GORT_TRACE: {e}")),
    }
}

/// The writer thread: gathers every event, then writes them sorted.
fn write_trace(rx: Receiver<Vec<Event>>, mut out: impl Write, t0: (i64, i64)) -> io::Result<()> {
    // Each buffer's events move here and the buffer goes back for reuse, so that the traced
    // threads write to memory that is already mapped (fresh pages cost them a fault each).
    let mut events = Vec::new();
    for mut chunk in rx.iter() {
        events.append(&mut chunk);
        super::trace::recycle(chunk);
    }
    events.sort_by_key(time_of);
    let t1 = super::trace::clocks();
    let mut labels = HashMap::new();
    for ev in &events {
        if let Event::Create { g, name, .. } = ev {
            labels.entry(*g).or_insert_with(|| match name {
                Some(n) => format!("G{g} {}", escape(n)),
                None => format!("G{g}"),
            });
        }
    }
    let mut f = Formatter {
        out: &mut out,
        t0: t0.0,
        // Trace-clock ticks to nanoseconds, from the readings at both ends.
        scale: ((t1.1 - t0.1).max(1) as i128, (t1.0 - t0.0).max(1) as i128),
        labels,
        p_seen: Vec::new(),
        m_seen: Vec::new(),
    };
    f.header()?;
    for ev in &events {
        f.event(ev)?;
    }
    f.footer(events.len())?;
    out.flush()
}

/// When an event happened (a slice: when it began).
fn time_of(ev: &Event) -> i64 {
    match *ev {
        Event::Run { start, .. } | Event::Blocking { start, .. } => start,
        Event::Create { ts, .. }
        | Event::Ready { ts, .. }
        | Event::Handoff { ts, .. }
        | Event::Timers { ts, .. }
        | Event::Netpoll { ts, .. }
        | Event::Procs { ts, .. }
        | Event::Proc { ts, .. } => ts,
    }
}

/// The track of events recorded without a P.
const NO_P_TID: u64 = 100_000;

struct Formatter<'a, W: Write> {
    out: &'a mut W,
    /// The trace clock at the start.
    t0: i64,
    /// Nanoseconds per tick, as a fraction.
    scale: (i128, i128),
    labels: HashMap<u64, String>,
    p_seen: Vec<u32>,
    m_seen: Vec<u64>,
}

impl<W: Write> Formatter<'_, W> {
    fn header(&mut self) -> io::Result<()> {
        writeln!(
            self.out,
            "{{\"traceEvents\":[\n\
             {{\"ph\":\"M\",\"pid\":1,\"name\":\"process_name\",\"args\":{{\"name\":\"processors\"}}}},\n\
             {{\"ph\":\"M\",\"pid\":1,\"name\":\"process_sort_index\",\"args\":{{\"sort_index\":1}}}},\n\
             {{\"ph\":\"M\",\"pid\":2,\"name\":\"process_name\",\"args\":{{\"name\":\"blocking calls\"}}}},\n\
             {{\"ph\":\"M\",\"pid\":2,\"name\":\"process_sort_index\",\"args\":{{\"sort_index\":2}}}},"
        )
    }

    fn footer(&mut self, n: usize) -> io::Result<()> {
        writeln!(
            self.out,
            "{{\"ph\":\"M\",\"pid\":1,\"name\":\"process_labels\",\"args\":{{\"labels\":\"gort\"}}}}\n],\n\
             \"displayTimeUnit\":\"ns\",\n\
             \"otherData\":{{\"producer\":\"gort {}\",\"events\":{n}}}\n}}",
            env!("CARGO_PKG_VERSION")
        )
    }

    /// Nanoseconds since the trace began.
    fn ns(&self, t: i64) -> i64 {
        ((t - self.t0).max(0) as i128 * self.scale.0 / self.scale.1) as i64
    }

    /// A time as microseconds since the trace began, to the nanosecond.
    fn ts(&self, t: i64) -> Micros {
        Micros(self.ns(t))
    }

    /// The length of [`start`, `end`).
    fn dur(&self, start: i64, end: i64) -> Micros {
        Micros((self.ns(end) - self.ns(start)).max(0))
    }

    /// The track of P `p` (or of no P), named on first use.
    fn p_track(&mut self, p: u32) -> io::Result<u64> {
        let tid = if p == NO_P { NO_P_TID } else { p as u64 };
        if !self.p_seen.contains(&p) {
            self.p_seen.push(p);
            let name = if p == NO_P {
                "no P".to_string()
            } else {
                format!("P{p}")
            };
            writeln!(
                self.out,
                "{{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_name\",\"args\":{{\"name\":\"{name}\"}}}},\n\
                 {{\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"name\":\"thread_sort_index\",\"args\":{{\"sort_index\":{tid}}}}},"
            )?;
        }
        Ok(tid)
    }

    fn event(&mut self, ev: &Event) -> io::Result<()> {
        match *ev {
            Event::Run {
                p,
                g,
                start,
                end,
                why,
                ready,
                flow,
            } => {
                let tid = self.p_track(p)?;
                let (ts, dur) = (self.ts(start), self.dur(start, end));
                if flow != 0 {
                    writeln!(
                        self.out,
                        "{{\"ph\":\"f\",\"bp\":\"e\",\"pid\":1,\"tid\":{tid},\"ts\":{ts},\"id\":{flow},\"name\":\"ready\",\"cat\":\"r\"}},"
                    )?;
                }
                write!(
                    self.out,
                    "{{\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\"ts\":{ts},\"dur\":{dur},\"name\":\"{}\",\"args\":{{\"end\":\"{}\"",
                    Label(self.labels.get(&g), g),
                    stop_name(why)
                )?;
                if ready > self.t0 {
                    write!(self.out, ",\"ready\":{}", self.ts(ready))?;
                }
                writeln!(self.out, "}}}},")
            }
            Event::Create {
                p,
                ts,
                g,
                parent,
                existed,
                ref name,
                site,
            } => {
                let tid = self.p_track(p)?;
                let ts = self.ts(ts);
                let what = if existed { "existing" } else { "create" };
                write!(
                    self.out,
                    "{{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{tid},\"ts\":{ts},\"name\":\"{what} G{g}\",\"cat\":\"create\",\"args\":{{\"g\":{g},\"parent\":{parent}"
                )?;
                if let Some(n) = name {
                    write!(self.out, ",\"name\":\"{}\"", escape(n))?;
                }
                if let Some(s) = site {
                    write!(
                        self.out,
                        ",\"site\":\"{}:{}:{}\"",
                        escape(s.file()),
                        s.line(),
                        s.column()
                    )?;
                }
                writeln!(self.out, "}}}},")
            }
            Event::Ready { p, ts, flow } => {
                let tid = self.p_track(p)?;
                writeln!(
                    self.out,
                    "{{\"ph\":\"s\",\"pid\":1,\"tid\":{tid},\"ts\":{},\"id\":{flow},\"name\":\"ready\",\"cat\":\"r\"}},",
                    self.ts(ts)
                )
            }
            Event::Blocking { m, g, start, end } => {
                if !self.m_seen.contains(&m) {
                    self.m_seen.push(m);
                    writeln!(
                        self.out,
                        "{{\"ph\":\"M\",\"pid\":2,\"tid\":{m},\"name\":\"thread_name\",\"args\":{{\"name\":\"M{m}\"}}}},"
                    )?;
                }
                writeln!(
                    self.out,
                    "{{\"ph\":\"X\",\"pid\":2,\"tid\":{m},\"ts\":{},\"dur\":{},\"name\":\"{}\",\"cat\":\"blocking\",\"args\":{{\"g\":{g}}}}},",
                    self.ts(start),
                    self.dur(start, end),
                    Label(self.labels.get(&g), g)
                )
            }
            Event::Handoff { p, ts, hog } => {
                let tid = self.p_track(p)?;
                let kind = if hog { "hog" } else { "blocking call" };
                self.instant(
                    tid,
                    ts,
                    &format!("hand-off ({kind})"),
                    "handoff",
                    &format!("\"kind\":\"{kind}\""),
                )
            }
            Event::Timers { p, ts, n } => {
                let tid = self.p_track(p)?;
                self.instant(tid, ts, "timers", "timer", &format!("\"n\":{n}"))
            }
            Event::Netpoll { p, ts, n } => {
                let tid = self.p_track(p)?;
                self.instant(tid, ts, "netpoll", "netpoll", &format!("\"n\":{n}"))
            }
            Event::Procs { ts, n } => writeln!(
                self.out,
                "{{\"ph\":\"C\",\"pid\":1,\"ts\":{},\"name\":\"procs\",\"args\":{{\"procs\":{n}}}}},",
                self.ts(ts)
            ),
            Event::Proc { p, ts, m, start } => {
                let tid = self.p_track(p)?;
                let name = if start { "proc start" } else { "proc stop" };
                self.instant(tid, ts, name, "proc", &format!("\"m\":{m}"))
            }
        }
    }

    /// An instant event on track `tid`; `args` is the inside of its JSON arguments object.
    fn instant(&mut self, tid: u64, ts: i64, name: &str, cat: &str, args: &str) -> io::Result<()> {
        writeln!(
            self.out,
            "{{\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{tid},\"ts\":{},\"name\":\"{name}\",\"cat\":\"{cat}\",\"args\":{{{args}}}}},",
            self.ts(ts)
        )
    }
}

/// Nanoseconds, shown as microseconds with three decimals (the trace-event format's unit).
struct Micros(i64);

impl std::fmt::Display for Micros {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

/// A goroutine's label: "G17 worker" if its creation named it, else "G17".
struct Label<'a>(Option<&'a String>, u64);

impl std::fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(l) => f.write_str(l),
            None => write!(f, "G{}", self.1),
        }
    }
}

/// The `end` argument of a slice.
fn stop_name(why: Stop) -> &'static str {
    match why {
        Stop::Block(r) => r.as_str(),
        Stop::Yield => "yield",
        Stop::Preempted => "preempted",
        Stop::Exit => "exit",
        Stop::Blocking => "blocking call",
        Stop::Hog => "hog hand-off",
        Stop::TraceEnd => "trace end",
    }
}

/// `s` as the inside of a JSON string.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_microseconds_with_nanosecond_decimals() {
        assert_eq!(Micros(0).to_string(), "0.000");
        assert_eq!(Micros(1_234_567).to_string(), "1234.567");
        assert_eq!(Micros(5).to_string(), "0.005");
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\u000ad");
    }
}
