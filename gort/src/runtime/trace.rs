//! The execution tracer (Go's `runtime/trace`): a timeline of what every processor ran.
//!
//! [`start`] begins recording into per-thread buffers; [`stop`] writes the file, in Chrome's
//! trace-event JSON, which [Perfetto](https://ui.perfetto.dev) and `chrome://tracing` open
//! directly. `GORT_TRACE=path` traces a whole run: the file is written as the process exits
//! normally (`main` returns, or `std::process::exit`), and after the report when the deadlock
//! detector or SIGQUIT ends it (a trace started with [`start`] too); a fatal error (an abort)
//! ends the process without it. A file whose name ends in `.gz` is
//! gzip-compressed (about five times smaller; Perfetto and `gort-trace` read it as it is).
//! `gort-trace summary FILE` and `gort-trace svg FILE -o OUT.svg` read it.
//!
//! What the file shows:
//! - a track per processor (P), where each time slice a goroutine ran is a slice named after
//!   it ("G17 worker"), with why it stopped (`"end"`: `"chan receive"`, `"yield"`,
//!   `"preempted"`, `"blocking call"`, ...) and when it had become runnable (`"ready"`);
//! - an arrow from the goroutine that readied another to where that one runs next;
//! - goroutine creation (id, name, spawn site, parent), P starts and stops, hand-offs (of a
//!   blocking call's P, or a hog's), timers fired and netpoll wake-ups, `set_procs`;
//! - a track per scheduler thread with the blocking calls made on it (`gort::blocking`,
//!   `ffi::call`, `gort::fs`, DNS).
//!
//! What happens while `stop` runs is not recorded: a goroutine's last slice, if it ends after a
//! goroutine it woke (say, its joiner) stopped the trace, is not in the file. `stop` does not
//! stop the world, as Go's does.
//!
//! Cost: with no trace running, each recording site is one load and a branch. A running trace
//! costs a clock read and a buffer write per event, and keeps every event in memory (about
//! 64 bytes each) until `stop`.
//!
//! ```
//! let path = std::env::temp_dir().join(format!("gort-doc-trace-{}.json", std::process::id()));
//! gort::runtime::trace::start(&path).unwrap();
//! let (tx, rx) = gort::chan::<u32>(0);
//! let h = gort::Builder::new().name("sender".into()).spawn(move || tx.send(7)).unwrap();
//! assert_eq!(rx.recv(), Some(7));
//! h.join().unwrap().unwrap();
//! gort::runtime::trace::stop().unwrap();
//! let json = std::fs::read_to_string(&path).unwrap();
//! assert!(json.contains("\"create G") && json.contains("\"name\":\"sender\""));
//! # std::fs::remove_file(&path).unwrap();
//! ```

use std::io;
use std::path::Path;

/// Starts tracing into the file at `path` (created or truncated now, written by [`stop`]).
///
/// # Errors
/// If a trace is already running (one at a time, as in Go), or the file cannot be created.
pub fn start(path: impl AsRef<Path>) -> io::Result<()> {
    crate::rt::trace_start(path.as_ref())
}

/// Stops the running trace and writes its file.
///
/// # Errors
/// If no trace is running, or the file cannot be written.
pub fn stop() -> io::Result<()> {
    // As every entry point: a trace `GORT_TRACE` asks for starts with the runtime.
    crate::rt::ensure_started();
    crate::rt::trace_stop()
}
