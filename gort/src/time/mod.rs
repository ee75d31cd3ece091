//! Time (Go's `time` package): `sleep`, on the per-P timer heaps of the scheduler.

use std::time::Duration;

mod timer;

pub use timer::{AfterFunc, Ticker, Timer, after, after_func, tick};
pub(crate) use timer::{after_func_system, go_or_retry};

/// Pauses the current goroutine for at least `d` (Go's time.Sleep): the goroutine parks with a
/// timer on its P; the thread runs other goroutines. On a plain thread, sleeps the thread.
/// A zero duration returns at once.
pub fn sleep(d: Duration) {
    crate::rt::sleep(d)
}
