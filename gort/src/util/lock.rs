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

/// How long one spin round of `lock_slow` waits before it looks at the lock again.
///
/// Long on purpose: a critical section is over in 20 to 40 ns, but a waiter that looks sooner
/// pulls the lock's cache line away from a holder about to take it again, and the line then
/// moves between CPUs on every operation. Measured at two processors against rounds of 30
/// PAUSEs (Go's count, about 270 ns here): rounds of 4 PAUSEs made the 1 -> 1 channel
/// benchmark 2.3 times slower; rounds of about 1 µs made it 14% faster, the 4 -> 4 one 41%
/// and the 8-goroutine mutex one 36%, the select one 7%. Rounds of 2 µs slowed select.
const ROUND_NS: u64 = 1_000;

/// PAUSEs in one spin round: `ROUND_NS` worth, measured once (a PAUSE takes from a few to 140
/// cycles depending on the CPU; the fastest of three probes, so that a probe the thread was
/// descheduled in does not count), and never fewer than Go's 30. 0 on a single CPU, where the
/// holder cannot run while we spin (Go spins only with more than one CPU too).
fn round_pauses() -> u32 {
    static PAUSES: AtomicU32 = AtomicU32::new(u32::MAX);
    let n = PAUSES.load(Relaxed);
    if n != u32::MAX {
        return n;
    }
    let n = if super::ncpu() <= 1 {
        0
    } else {
        const PROBE: u32 = 256;
        let per = (0..3)
            .map(|_| {
                let start = std::time::Instant::now();
                for _ in 0..PROBE {
                    std::hint::spin_loop();
                }
                start.elapsed().as_nanos() as u64 / u64::from(PROBE)
            })
            .min()
            .unwrap_or(0)
            .max(1);
        (ROUND_NS / per).clamp(30, 1_000) as u32
    };
    PAUSES.store(n, Relaxed);
    n
}

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
        // Go spins 4 rounds of 30 PAUSEs (with more than one CPU), then yields once, then
        // sleeps. Here a round lasts about a microsecond whatever a PAUSE costs (see
        // `round_pauses`).
        let pauses = round_pauses();
        let spins = if pauses == 0 { 0 } else { 4 };
        for i in 0..=spins {
            if i < spins {
                for _ in 0..pauses {
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
    use super::{Lock, round_pauses};
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

    /// A spin round is measured once, within its bounds, and then fixed.
    #[test]
    fn spin_round_is_measured_once() {
        let n = round_pauses();
        if crate::util::ncpu() > 1 {
            assert!((30..=1_000).contains(&n), "{n} PAUSEs a round");
        } else {
            assert_eq!(n, 0, "spinning on a single CPU");
        }
        assert_eq!(round_pauses(), n);
    }
}
