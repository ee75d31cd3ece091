//! `Lock`: the runtime's small mutex for short critical sections (Go's lock_futex.go).
//!
//! States: 0 unlocked, 1 locked, 2 locked with sleepers. `lock` tries a CAS, spins briefly
//! (the holder is running on another CPU and will be done in nanoseconds), then sleeps on a
//! futex; `unlock` wakes one sleeper only if there may be one. It blocks the OS thread, never the
//! scheduler: critical sections under it never park a goroutine (a goroutine's park commit may
//! release it from the scheduler, which is the one place a lock crosses a switch, exactly as in
//! Go's gopark(chanparkcommit)).

use std::sync::atomic::{AtomicU32, Ordering::*};

use crate::sys::futex;

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;
const SLEEPING: u32 = 2;

pub(crate) struct Lock {
    key: AtomicU32,
}

impl Lock {
    pub(crate) const fn new() -> Lock {
        Lock {
            key: AtomicU32::new(UNLOCKED),
        }
    }

    #[inline]
    pub(crate) fn lock(&self) {
        if self
            .key
            .compare_exchange_weak(UNLOCKED, LOCKED, Acquire, Relaxed)
            .is_err()
        {
            self.lock_slow();
        }
    }

    #[cold]
    fn lock_slow(&self) {
        // Go spins 4 rounds of 30 PAUSEs, then yields once, then sleeps.
        for i in 0..5 {
            if i < 4 {
                for _ in 0..30 {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
            if self.key.load(Relaxed) == UNLOCKED
                && self
                    .key
                    .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                    .is_ok()
            {
                return;
            }
        }
        while self.key.swap(SLEEPING, Acquire) != UNLOCKED {
            futex::wait(&self.key, SLEEPING, -1);
        }
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        if self.key.swap(UNLOCKED, Release) == SLEEPING {
            futex::wake(&self.key, 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lock;
    use std::cell::UnsafeCell;

    struct Counter {
        lock: Lock,
        n: UnsafeCell<u64>,
    }
    // SAFETY: `n` is only touched under `lock`.
    unsafe impl Sync for Counter {}

    #[test]
    fn mutual_exclusion() {
        let c = Counter {
            lock: Lock::new(),
            n: UnsafeCell::new(0),
        };
        let c = &c;
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100_000 {
                        c.lock.lock();
                        // SAFETY: under the lock.
                        unsafe { *c.n.get() += 1 };
                        c.lock.unlock();
                    }
                });
            }
        });
        // SAFETY: all threads are joined.
        assert_eq!(unsafe { *c.n.get() }, 400_000);
    }
}
