//! An asymmetric memory barrier: a fence that is nearly free on a hot path, paid for by a
//! system call on the rare path it pairs with (membarrier(2), `MEMBARRIER_CMD_PRIVATE_EXPEDITED`;
//! the technique of Linux's own `sys_membarrier` users, folly's asymmetric thread fences and
//! .NET's FlushProcessWriteBuffers).
//!
//! Dekker's pattern, where each of two threads stores one word and then loads the other's, needs
//! a full fence between the store and the load on both sides, or both loads can miss both stores.
//! When one side runs millions of times for each run of the other, the frequent side may order
//! its store and load with `light` (a compiler barrier) if the rare side calls `heavy` between
//! its own store and load: `heavy` returns only after every running thread of the process has
//! executed a full barrier, so whatever the frequent side stored before that barrier is visible
//! to the rare side's load, and whatever it loads after it sees the rare side's store.
//!
//! Invariant: `light` is a compiler barrier only once `heavy` is known to work (registration
//! succeeded), and that never changes afterwards. A `heavy` that cannot use membarrier (kernels
//! before 4.14, a process-wide seccomp filter, an emulator without it) is a full fence, and
//! `light` is then a full fence too: the pattern stays correct, only slower. Go has no
//! counterpart; its runtime lock pays a full read-modify-write to unlock.

use std::sync::atomic::{AtomicU8, Ordering::*, compiler_fence, fence};

/// membarrier(2) commands (linux/membarrier.h; the values are ABI).
const CMD_PRIVATE_EXPEDITED: libc::c_int = 1 << 3;
const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_int = 1 << 4;

const UNKNOWN: u8 = 0;
const READY: u8 = 1;
const MISSING: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// The frequent side's fence between its store and its load.
#[inline(always)]
pub(crate) fn light() {
    if STATE.load(Relaxed) == READY {
        compiler_fence(SeqCst);
    } else {
        fence(SeqCst);
    }
}

/// Registers the process for expedited barriers, so that `light` becomes a compiler barrier
/// (the runtime calls it at start; `heavy` does if nobody has). Returns the state it settled on.
pub(crate) fn init() -> u8 {
    let mut state = STATE.load(Acquire);
    if state == UNKNOWN {
        // Registration is per process and idempotent: threads racing here all succeed or all
        // fail. Only after it succeeded may `light` skip the fence.
        let mine = if call(CMD_REGISTER_PRIVATE_EXPEDITED) {
            READY
        } else {
            MISSING
        };
        // The first answer stands, so READY never turns back.
        state = match STATE.compare_exchange(UNKNOWN, mine, AcqRel, Acquire) {
            Ok(_) => mine,
            Err(first) => first,
        };
    }
    state
}

/// The rare side's fence between its store and its load: every running thread of the process
/// executes a full barrier before this returns. False if the kernel refused the barrier after
/// registering the process (a forked child inherits the registration with `STATE`, as checked
/// on Linux 6.18): `light` callers already skip their fence then, and nothing can restore the
/// ordering they rely on (the caller reports it as fatal).
#[cold]
#[must_use]
pub(crate) fn heavy() -> bool {
    let state = init();
    fence(SeqCst);
    state != READY || call(CMD_PRIVATE_EXPEDITED)
}

fn call(cmd: libc::c_int) -> bool {
    // SAFETY: membarrier takes two integers and touches no memory of ours.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_uint,
            0 as libc::c_int,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::{MISSING, READY, heavy, light};
    use std::sync::atomic::{AtomicU32, Ordering::*};

    /// Dekker's pattern with the light fence on one side and the heavy one on the other, both
    /// sides released together each round: in no round may both miss the other's store.
    #[test]
    fn one_side_always_sees_the_other() {
        const ROUNDS: u32 = 20_000;
        static ARRIVED: AtomicU32 = AtomicU32::new(0);
        static A: AtomicU32 = AtomicU32::new(0);
        static B: AtomicU32 = AtomicU32::new(0);
        assert!(matches!(super::init(), READY | MISSING));
        let fast = std::thread::spawn(|| {
            (1..=ROUNDS)
                .map(|r| {
                    crate::sys::meet(&ARRIVED, r);
                    A.store(r, Relaxed);
                    light();
                    B.load(Relaxed) >= r
                })
                .collect::<Vec<bool>>()
        });
        let slow: Vec<bool> = (1..=ROUNDS)
            .map(|r| {
                crate::sys::meet(&ARRIVED, r);
                B.store(r, Relaxed);
                assert!(heavy());
                A.load(Relaxed) >= r
            })
            .collect();
        let fast = fast.join().unwrap();
        let missed = (0..ROUNDS as usize)
            .filter(|&i| !fast[i] && !slow[i])
            .count();
        assert_eq!(
            missed, 0,
            "rounds where both sides missed the other's store"
        );
    }
}
