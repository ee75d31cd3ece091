//! Thin wrappers over the Linux system calls the runtime uses: futex, monotonic time, memory
//! mapping, thread helpers. No policy lives here; callers decide what to do with errors. The
//! counterpart of Go's os_linux.go / sys_linux_amd64.s (futexsleep, nanotime, sysMmap), plus
//! per-thread CPU time and state, which sysmon reads to tell a hog from a descheduled thread.

pub(crate) mod futex;
pub(crate) mod mem;

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

/// The calling thread's kernel id. One system call.
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() }
}

/// CPU time in nanoseconds that thread `tid` of this process has used, up to date even while it
/// runs (its thread CPU clock, `MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)` in the kernel's ABI,
/// as glibc's pthread_getcpuclockid builds it); `None` if the thread is gone. One system call.
pub(crate) fn thread_cpu_time(tid: i32) -> Option<i64> {
    let clock: libc::clockid_t = (!tid << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; a clock of a thread that is gone fails (EINVAL).
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    (r == 0).then(|| ts.tv_sec * 1_000_000_000 + ts.tv_nsec)
}

/// Whether thread `tid` of this process is asleep in the kernel (state S or D in
/// `/proc/self/task/<tid>/stat`); `None` if the kernel does not say.
pub(crate) fn thread_is_blocked(tid: i32) -> Option<bool> {
    use std::io::Read;
    let mut f = std::fs::File::open(format!("/proc/self/task/{tid}/stat")).ok()?;
    let mut buf = [0u8; 128];
    let n = f.read(&mut buf).ok()?;
    // "tid (comm) S ...": the name may hold anything, so look after its last ')'.
    let end = buf[..n].iter().rposition(|&c| c == b')')?;
    let state = *buf.get(end + 2)?;
    Some(matches!(state, b'S' | b'D'))
}

/// Adds a duration to a nanotime without overflowing: a huge duration saturates to "never".
pub(crate) fn deadline_after(d: std::time::Duration) -> i64 {
    let d = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    nanotime().saturating_add(d)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// The clock built from the thread id is the thread's own CPU clock.
    #[test]
    fn thread_cpu_time_counts_work_of_the_thread() {
        let own = || {
            let mut ts = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `ts` is a valid, writable timespec.
            unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
            ts.tv_sec * 1_000_000_000 + ts.tv_nsec
        };
        let tid = gettid();
        let (before, own_before) = (thread_cpu_time(tid).expect("thread CPU clock"), own());
        let t = std::time::Instant::now();
        while own() - own_before < 10_000_000 && t.elapsed() < Duration::from_secs(10) {
            std::hint::spin_loop();
        }
        let used = thread_cpu_time(tid).unwrap() - before;
        assert!(used >= 10_000_000, "10 ms of CPU read as {used} ns");
    }

    #[test]
    fn thread_state_tells_sleeping_from_running() {
        assert_eq!(thread_is_blocked(gettid()), Some(false));
        let (tx, rx) = mpsc::channel();
        let (release, wait) = mpsc::channel::<()>();
        let sleeper = std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            let _ = wait.recv();
        });
        let tid = rx.recv().unwrap();
        let t = std::time::Instant::now();
        while thread_is_blocked(tid) != Some(true) {
            assert!(t.elapsed() < Duration::from_secs(10), "never seen asleep");
            std::thread::sleep(Duration::from_millis(1));
        }
        let cpu = thread_cpu_time(tid).unwrap();
        assert!(cpu < 1_000_000_000, "a sleeping thread used {cpu} ns");
        release.send(()).unwrap();
        sleeper.join().unwrap();
    }
}
