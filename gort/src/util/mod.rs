//! Small runtime utilities with no knowledge of the scheduler: `fatal!` (Go's `throw`), a fast
//! per-thread random number generator (Go's `cheaprand`), and async-signal-safe output helpers.

pub(crate) mod fatal;
pub(crate) mod lock;
pub(crate) mod loom;
pub(crate) mod rand;

pub(crate) use fatal::{fatal, write_stderr};

/// Rounds `n` up to a multiple of `align` (a power of two).
pub(crate) const fn round_up(n: usize, align: usize) -> usize {
    (n + align - 1) & !(align - 1)
}

/// CPUs this process may run on (read once).
pub(crate) fn ncpu() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static NCPU: AtomicUsize = AtomicUsize::new(0);
    let n = NCPU.load(Relaxed);
    if n != 0 {
        return n;
    }
    let n = std::thread::available_parallelism().map_or(1, |n| n.get());
    NCPU.store(n, Relaxed);
    n
}
