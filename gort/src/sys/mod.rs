//! Thin wrappers over the Linux system calls the runtime uses: futex, membarrier, monotonic
//! time, memory mapping, thread helpers. No policy lives here; callers decide what to do with
//! errors. The counterpart of Go's os_linux.go / sys_linux_amd64.s (futexsleep, nanotime,
//! sysMmap), plus per-thread CPU time and state, which sysmon reads to tell a hog from a
//! descheduled thread.

pub(crate) mod futex;
pub(crate) mod mem;
pub(crate) mod membarrier;

/// Monotonic clock in nanoseconds (CLOCK_MONOTONIC via the vDSO: no syscall).
pub(crate) fn nanotime() -> i64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec * 1_000_000_000 + ts.tv_nsec
}

/// Adds a duration to a nanotime without overflowing: a huge duration saturates to "never".
pub(crate) fn deadline_after(d: std::time::Duration) -> i64 {
    deadline_from(nanotime(), d)
}

/// `now` (a nanotime) plus `d`, saturating to "never" as `deadline_after`.
pub(crate) fn deadline_from(now: i64, d: std::time::Duration) -> i64 {
    now.saturating_add(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// The `Instant` of the nanotime `ns`, never later than now. Both clocks are CLOCK_MONOTONIC,
/// but an `Instant` cannot be made from a clock value, so a pair of readings taken together
/// once (the closest of a few tries) anchors one to the other: every conversion uses the same
/// pair, so times a nanosecond apart in one clock stay so in the other, and the result is late
/// by at most the gap between the two anchoring readings.
pub(crate) fn instant_at(ns: i64) -> std::time::Instant {
    use std::time::{Duration, Instant};
    static ANCHOR: std::sync::OnceLock<(Instant, i64)> = std::sync::OnceLock::new();
    let &(at, anchor) = ANCHOR.get_or_init(|| {
        let reading = || {
            let before = nanotime();
            let at = Instant::now();
            (nanotime() - before, at, before)
        };
        let (_, at, before) = (0..8)
            .map(|_| reading())
            .min_by_key(|r| r.0)
            .expect("eight readings");
        (at, before)
    });
    let t = if ns >= anchor {
        at + Duration::from_nanos((ns - anchor) as u64)
    } else {
        at.checked_sub(Duration::from_nanos((anchor - ns) as u64))
            .unwrap_or(at)
    };
    t.min(Instant::now())
}

/// The page size (4 KiB on x86-64 Linux; read once).
pub(crate) fn page_size() -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PAGE: AtomicUsize = AtomicUsize::new(0);
    let p = PAGE.load(Ordering::Relaxed);
    if p != 0 {
        return p;
    }
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    PAGE.store(p, Ordering::Relaxed);
    p
}

/// Test helper: the `r`th meeting of two threads counting on `arrived` (from 0, one call per
/// thread per round); both leave together, so that what each does next races the other's. A
/// partner that lost its CPU gets it back (test threads may outnumber the CPUs).
#[cfg(test)]
pub(crate) fn meet(arrived: &std::sync::atomic::AtomicU32, r: u32) {
    use std::sync::atomic::Ordering::{AcqRel, Acquire};
    arrived.fetch_add(1, AcqRel);
    let mut spins = 0;
    while arrived.load(Acquire) < 2 * r {
        spins += 1;
        if spins < 1_000 {
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}
