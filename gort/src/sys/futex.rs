//! futex(2) wrappers and `Note`, Go's one-shot sleep/wakeup (`lock_futex.go`: notesleep,
//! notetsleep, notewakeup, noteclear). Idle Ms and blocked plain threads sleep on these.

use std::sync::atomic::{AtomicU32, Ordering};

/// Sleeps while `*word == val`, at most `timeout_ns` (negative: forever). Spurious wakeups happen.
pub(crate) fn wait(word: &AtomicU32, val: u32, timeout_ns: i64) {
    let ts;
    let tsp = if timeout_ns >= 0 {
        ts = libc::timespec {
            tv_sec: timeout_ns / 1_000_000_000,
            tv_nsec: timeout_ns % 1_000_000_000,
        };
        &ts as *const libc::timespec
    } else {
        std::ptr::null()
    };
    // SAFETY: `word` is a valid aligned u32 for the call; `tsp` is null or points to `ts`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            val,
            tsp,
        )
    };
}

/// Wakes up to `n` threads sleeping on `word`.
pub(crate) fn wake(word: &AtomicU32, n: i32) {
    wake_addr(word.as_ptr(), n);
}

/// Wakes up to `n` threads sleeping on the word at `addr`, which may be gone by now: the kernel
/// only hashes the address (a reused address gets a spurious wakeup, which every sleeper
/// tolerates).
pub(crate) fn wake_addr(addr: *const u32, n: i32) {
    // SAFETY: FUTEX_WAKE dereferences nothing; it looks the address up among the sleepers.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            addr,
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            n,
        )
    };
}

/// A one-shot event: one sleeper, one waker, then `clear` before reuse (Go's `note`).
pub(crate) struct Note {
    key: AtomicU32,
}

impl Note {
    pub(crate) const fn new() -> Note {
        Note {
            key: AtomicU32::new(0),
        }
    }

    pub(crate) fn clear(&self) {
        self.key.store(0, Ordering::Relaxed);
    }

    pub(crate) fn wakeup(&self) {
        if self.key.swap(1, Ordering::Release) == 0 {
            wake(&self.key, 1);
        }
    }

    /// Sleeps until woken or until `deadline` (a nanotime; negative: forever). Returns whether
    /// the note was woken.
    pub(crate) fn sleep_until(&self, deadline: i64) -> bool {
        loop {
            if self.key.load(Ordering::Acquire) != 0 {
                return true;
            }
            let timeout = if deadline < 0 {
                -1
            } else {
                let left = deadline - super::nanotime();
                if left <= 0 {
                    return self.key.load(Ordering::Acquire) != 0;
                }
                left
            };
            wait(&self.key, 0, timeout);
        }
    }
}
