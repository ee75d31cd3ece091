//! The architecture contract: the only module that knows which targets exist.
//!
//! A goroutine's execution context is one saved stack pointer. `switch` pushes the callee-saved
//! state of the current context onto its own stack, stores the stack pointer, loads the other
//! context's stack pointer and pops its state: one call, no heap, no syscall. A new context is a
//! stack with a hand-made frame (`init_stack`) whose return address is a trampoline that calls the
//! goroutine entry; the trampoline's CFI marks the end of the call chain, so unwinders and
//! backtraces stop there and a panic can never unwind across a switch (the entry catches it).
//! `call_on_stack` runs a function on another stack and comes back (C calls on the system stack,
//! callbacks back on the goroutine's). `switch_call` is a switch with a call in the middle: it
//! saves the current context, runs a function on another stack, and resumes the context that
//! function returns (`Resume`); a goroutine hands over to the next one through it without a
//! second switch (rt::handoff). ARCHITECTURE.md, "The arch contract", states what a port must
//! provide; every port implements exactly these five functions (`signal_sp` reads the
//! interrupted stack pointer for the overflow handler) and `EntryFn`. `prefetch_write`, a cache
//! hint the scheduler and timers use, lives here with one line per target; a new target may
//! make it do nothing.
//!
//! Supported: x86-64 (System V) and AArch64 (AAPCS64), both on Linux. Other targets fail to
//! compile with a message naming the contract.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use x86_64::{call_on_stack, init_stack, signal_sp, switch, switch_call};

#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
mod aarch64;
#[cfg(all(target_arch = "aarch64", target_os = "linux"))]
pub(crate) use aarch64::{call_on_stack, init_stack, signal_sp, switch, switch_call};

#[cfg(not(all(
    any(target_arch = "x86_64", target_arch = "aarch64"),
    target_os = "linux"
)))]
compile_error!(
    "gort supports x86_64 Linux and aarch64 Linux only. A port to another target implements \
     the arch contract (`switch`, `init_stack`, `call_on_stack`; ARCHITECTURE.md, \"The arch \
     contract\") in gort/src/arch/, plus the target's signal and memory details."
);

/// What the function given to `switch_call` returns: the stack pointer of the context to resume
/// and the argument it gets (two words: returned in registers on both targets).
#[repr(C)]
pub(crate) struct Resume {
    pub(crate) sp: usize,
    pub(crate) arg: usize,
}

/// Hints that the cache line at `p` is about to be written (a hint only: any address is fine,
/// nothing is read or faulted in).
#[inline(always)]
pub(crate) fn prefetch_write(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults and has no architectural effect.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(p.cast())
    };
    #[cfg(target_arch = "aarch64")]
    // SAFETY: as above: `prfm` never faults and changes no architectural state.
    unsafe {
        core::arch::asm!("prfm pstl1keep, [{0}]", in(reg) p, options(nostack, preserves_flags))
    };
}
