//! Helpers for the `sync_*` tests: a stand-in for Go's channels that does not depend on the
//! primitives under test (std's mpsc, received inside `gort::blocking` so that a goroutine
//! waiting on it hands its processor away), and a runner that fixes the processor count.
#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

/// An unbounded multi-producer channel; `recv` may be called from any goroutine or thread.
pub struct Chan<T> {
    tx: std::sync::Mutex<mpsc::Sender<T>>,
    rx: std::sync::Mutex<mpsc::Receiver<T>>,
}

impl<T: Send> Chan<T> {
    pub fn new() -> Chan<T> {
        let (tx, rx) = mpsc::channel();
        Chan {
            tx: std::sync::Mutex::new(tx),
            rx: std::sync::Mutex::new(rx),
        }
    }

    pub fn send(&self, v: T) {
        self.tx.lock().unwrap().send(v).unwrap();
    }

    /// Blocks (handing the processor away) until a value arrives.
    pub fn recv(&self) -> T {
        gort::blocking(|| self.rx.lock().unwrap().recv().unwrap())
    }

    /// Go's `select { case v := <-c: ...; default: }`.
    pub fn try_recv(&self) -> Option<T> {
        self.rx.lock().unwrap().try_recv().ok()
    }

    pub fn recv_timeout(&self, d: Duration) -> Option<T> {
        gort::blocking(|| self.rx.lock().unwrap().recv_timeout(d).ok())
    }
}

/// Sets the processor count, then runs `f` as a goroutine under the time bound `secs`.
/// The processor count is process-wide: every test in a file that uses this must ask for the
/// same count, or hold a file-wide lock.
pub fn run_procs<R: Send + 'static>(
    procs: usize,
    secs: u64,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    gort::set_procs(procs);
    crate::common::bounded(secs, move || gort::run(f))
}

/// Scales an iteration count down in debug builds (as Go's tests do with testing.Short()).
pub fn scaled(n: usize) -> usize {
    if cfg!(debug_assertions) { n / 10 } else { n }
}
