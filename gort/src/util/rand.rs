//! Fast non-cryptographic random numbers (Go's `cheaprand`, wyrand here), one state per thread.
//! Used for random steal order, select's poll order and the semaphore treap. The state lives in
//! a thread-local `Cell`; a goroutine that migrates simply draws from the new thread's state,
//! which is harmless for randomness as long as each call finds the thread-local afresh (see
//! `next_u64`).

use std::cell::Cell;

thread_local! {
    static STATE: Cell<u64> = const { Cell::new(0) };
}

/// Returns a pseudo-random u64.
///
/// Never inlined, with the same barrier as `rt::m::current_m`: a goroutine that calls this
/// before and after a switch may be on another thread, and LLVM must not reuse the first
/// call's thread-local address (the state would then be shared, racily, with that thread).
#[inline(never)]
pub(crate) fn next_u64() -> u64 {
    // SAFETY: an empty asm statement with side effects, only there to stop LLVM from hoisting
    // or merging the thread-local access below across calls.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            // Seed from the address of the cell and the clock: distinct per thread.
            x = (s as *const _ as u64) ^ crate::sys::nanotime() as u64 ^ 0x9e37_79b9_7f4a_7c15;
        }
        x = x.wrapping_add(0xa076_1d64_78bd_642f);
        s.set(x);
        let t = (x as u128).wrapping_mul((x ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    })
}

/// Returns a pseudo-random number in `0..n` (`n > 0`), Lemire's multiply-shift.
pub(crate) fn below(n: u32) -> u32 {
    (((next_u64() as u32) as u64 * n as u64) >> 32) as u32
}
