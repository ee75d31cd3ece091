//! A small deterministic PRNG (splitmix64) and the seed derivation for rounds.
//!
//! Every random choice of a round (which workload pieces run, their sizes, every goroutine's
//! own stream of delays and operation kinds) comes from one `Rng` seeded with the round seed,
//! split with [`Rng::fork`] before goroutines start, so the workload of a round is a pure
//! function of (round seed, procs, round length). The interleaving the scheduler picks is not.

use std::time::Duration;

/// splitmix64: tiny, fast, and good enough to drive a workload.
#[derive(Clone, Debug)]
pub struct Rng(u64);

const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// The splitmix64 output function.
fn finish(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The seed of round `round` of a run started with `master`. Round 0 uses the master seed
/// itself, so `--seed <a round's seed> --rounds 1` replays exactly that round's workload.
pub fn round_seed(master: u64, round: u64) -> u64 {
    if round == 0 {
        master
    } else {
        finish(master ^ finish(round.wrapping_mul(GOLDEN)))
    }
}

/// A seed when none is given: the clock and the pid, mixed.
pub fn random_seed() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    finish(t ^ (u64::from(std::process::id()) << 32))
}

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        finish(self.0)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..hi` (hi > lo).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo)
    }

    /// Uniform in `lo..hi` as a usize.
    pub fn urange(&mut self, lo: usize, hi: usize) -> usize {
        self.range(lo as u64, hi as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A duration uniform in `lo..hi` microseconds.
    pub fn micros(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_micros(self.range(lo, hi))
    }

    /// An independent stream for a goroutine.
    pub fn fork(&mut self) -> Rng {
        Rng(finish(self.next_u64()))
    }

    /// One of `items`, uniformly.
    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_zero_is_the_master_seed_and_rounds_differ() {
        assert_eq!(round_seed(42, 0), 42);
        assert_ne!(round_seed(42, 1), round_seed(42, 2));
        assert_ne!(round_seed(42, 1), 42);
    }

    #[test]
    fn below_stays_in_range() {
        let mut r = Rng::new(7);
        for n in 1..50 {
            assert!(r.below(n) < n);
        }
        let a: Vec<u64> = (0..4).map(|_| Rng::new(9).next_u64()).collect();
        assert!(a.windows(2).all(|w| w[0] == w[1]));
    }
}
