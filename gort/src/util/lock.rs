//! `Lock`: the runtime's small mutex for short critical sections (Go's lock_futex.go).
//!
//! `key` is 0 unlocked or 1 locked; `sleepers` counts the threads asleep (or about to sleep) on
//! `key`. `lock` tries a CAS, spins briefly (the holder is running on another CPU and will be
//! done in nanoseconds), yields, then sleeps on a futex; `unlock` wakes one sleeper only if
//! there may be one. It blocks the OS thread, never the scheduler: critical sections under it
//! never park a goroutine (a goroutine's park commit may release it from the scheduler, which is
//! the one place a lock crosses a switch, exactly as in Go's gopark(chanparkcommit)).
//!
//! # Deviation from Go: an unlock without a read-modify-write
//! ARCHITECTURE.md, decision "Runtime locks unlock with a plain store". Go keeps the sleepers in
//! the key (state 2) and unlocks with an atomic exchange, which is how the unlocker learns there
//! is someone to wake. That exchange and the locking CAS are the two locked instructions of
//! every channel operation, and on x86 each costs about as much as the rest of a buffered send.
//! Here `unlock` is a plain release store of 0 followed by a load of `sleepers`, and a thread
//! about to sleep increments `sleepers` before it tries the key a last time. That is Dekker's
//! pattern: without a fence between each side's store and load, the unlocker could miss the new
//! sleeper while the sleeper misses the unlock, and sleep forever. The fence is asymmetric
//! (`sys::membarrier`): a compiler barrier in `unlock`, a membarrier(2) call on the way to sleep,
//! which is rare and slow anyway. Measured on an uncontended lock/unlock pair: 12 -> 7 ns.
//!
//! `unlock` reads the lock after releasing it, so its caller must keep the lock alive until it
//! returns, as a borrow does. A park commit cannot: once it releases the lock a waker may ready
//! the parked goroutine, which may return and free the lock's owner before the commit's next
//! instruction. Commits use `unlock_final`, which reads a process-wide count of sleepers
//! (`ASLEEP`, static) instead of the lock's own, and passes the futex wake only the key's
//! address. While any thread sleeps on any runtime lock, a commit may thus make a futex call
//! for nothing; sleeping is rare (see `YIELDS`). Go's exchange in commits made the channel
//! ping-pong 16% slower at one processor.
//!
//! Invariants: a thread sleeps on `key` only after counting itself in `sleepers` and `ASLEEP`,
//! fencing with `membarrier::heavy`, and finding the key locked; `unlock` and `unlock_final`
//! store 0 and fence with `membarrier::light`, then `unlock` reads `sleepers` and
//! `unlock_final` reads `ASLEEP`, and touches nothing of the lock but its address.

use std::sync::atomic::{AtomicU32, Ordering::*};

use crate::sys::{futex, membarrier};

const UNLOCKED: u32 = 0;
const LOCKED: u32 = 1;

/// Threads asleep (or about to sleep) on any `Lock`: what `unlock_final` reads.
static ASLEEP: AtomicU32 = AtomicU32::new(0);

/// How long one spin round of `lock_slow` waits before it looks at the lock again.
///
/// Long on purpose: a critical section is over in 20 to 40 ns, but a waiter that looks sooner
/// pulls the lock's cache line away from a holder about to take it again, and the line then
/// moves between CPUs on every operation. Measured at two processors against rounds of 30
/// PAUSEs (Go's count, about 270 ns here): rounds of 4 PAUSEs made the 1 -> 1 channel
/// benchmark 2.3 times slower; rounds of about 1 µs made it 14% faster, the 4 -> 4 one 41%
/// and the 8-goroutine mutex one 36%, the select one 7%. Rounds of 2 µs slowed select.
const ROUND_NS: u64 = 1_000;

/// Yields before a waiter sleeps (Go yields once).
///
/// A holder never parks or makes a system call under this lock (at most it waits for another
/// runtime lock, held as briefly), so one that keeps it for microseconds has lost its CPU to
/// another thread (sysmon waking, a thread leaving a system call); yielding lets it back on,
/// and the lock is usually free within a few yields. Sleeping costs the sleeper a membarrier
/// (see the module doc) and the unlocker a futex wake, and lets the preempted holder's peers
/// sleep in turn. Measured on the 4 -> 4 channel benchmark at two processors: with one yield,
/// about 10,000 of 78,000 contended acquisitions slept and membarrier's cross-CPU calls took a
/// quarter of the CPU (48 ns an item); with 16 yields 1,000 to 2,000 slept (33 ns); with 32,
/// fewer than 1,000 (30 ns).
const YIELDS: u32 = 32;

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
    /// Threads that counted themselves to sleep on `key` and have not taken the lock since.
    sleepers: AtomicU32,
}

impl Lock {
    pub(crate) const fn new() -> Lock {
        Lock {
            key: AtomicU32::new(UNLOCKED),
            sleepers: AtomicU32::new(0),
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
        // `round_pauses`), and `YIELDS` yields come before the sleep.
        let pauses = round_pauses();
        let spins = if pauses == 0 { 0 } else { 4 };
        for i in 0..spins + YIELDS {
            if i < spins {
                for _ in 0..pauses {
                    std::hint::spin_loop();
                }
            } else {
                std::thread::yield_now();
            }
            if self.try_take() {
                return;
            }
        }
        self.sleep();
    }

    /// Counts itself among the sleepers and sleeps until it takes the lock.
    fn sleep(&self) {
        self.sleepers.fetch_add(1, Relaxed);
        ASLEEP.fetch_add(1, Relaxed);
        // Pairs with the unlocks' light fence: either such an unlock sees us counted, or our
        // CAS below sees its store of 0.
        if !membarrier::heavy() {
            super::fatal!("membarrier(PRIVATE_EXPEDITED) failed after registration");
        }
        while !self.try_take() {
            futex::wait(&self.key, LOCKED, -1);
        }
        ASLEEP.fetch_sub(1, Relaxed);
        self.sleepers.fetch_sub(1, Relaxed);
    }

    fn try_take(&self) -> bool {
        self.key.load(Relaxed) == UNLOCKED
            && self
                .key
                .compare_exchange(UNLOCKED, LOCKED, Acquire, Relaxed)
                .is_ok()
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        self.key.store(UNLOCKED, Release);
        membarrier::light();
        if self.sleepers.load(Relaxed) != 0 {
            futex::wake(&self.key, 1);
        }
    }

    /// Unlocks without touching the lock afterwards, for a park commit whose release may let
    /// the lock's owner be freed at once (see the module doc).
    pub(crate) fn unlock_final(&self) {
        let key = self.key.as_ptr();
        self.key.store(UNLOCKED, Release);
        membarrier::light();
        if ASLEEP.load(Relaxed) != 0 {
            futex::wake_addr(key, 1);
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

    /// A thread that goes to sleep on the lock just as its holder unlocks is never left asleep:
    /// in every round one thread holds the lock, both threads meet, and then the holder unlocks
    /// (with `unlock` and `unlock_final` in turn) after a varying delay while the other heads
    /// straight for `sleep`; the holder then waits for it to take the lock.
    #[test]
    fn a_sleeper_is_not_missed_by_a_racing_unlock() {
        use std::sync::atomic::{AtomicU32, Ordering::*};
        use std::time::{Duration, Instant};
        const ROUNDS: u32 = 20_000;
        static ARRIVED: AtomicU32 = AtomicU32::new(0);
        static TAKEN: AtomicU32 = AtomicU32::new(0);
        static LOCK: Lock = Lock::new();
        let sleeper = std::thread::spawn(|| {
            for r in 1..=ROUNDS {
                crate::sys::meet(&ARRIVED, r);
                LOCK.sleep();
                LOCK.unlock();
                TAKEN.store(r, Release);
            }
        });
        for r in 1..=ROUNDS {
            LOCK.lock();
            crate::sys::meet(&ARRIVED, r);
            // From at once to well after the sleeper's membarrier: it races the unlock in
            // some rounds and is asleep in others.
            let hold = Instant::now();
            while hold.elapsed() < Duration::from_micros(u64::from(r % 8) * 8) {
                std::hint::spin_loop();
            }
            if r % 2 == 0 {
                LOCK.unlock();
            } else {
                LOCK.unlock_final();
            }
            let start = Instant::now();
            while TAKEN.load(Acquire) != r {
                assert!(
                    start.elapsed() < Duration::from_secs(5),
                    "round {r}: the sleeper was never woken"
                );
                std::thread::yield_now();
            }
        }
        sleeper.join().unwrap();
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
