//! The architecture contract: the only module that knows which targets exist.
//!
//! A goroutine's execution context is one saved stack pointer. `switch` pushes the callee-saved
//! state of the current context onto its own stack, stores the stack pointer, loads the other
//! context's stack pointer and pops its state: one call, no heap, no syscall. A new context is a
//! stack with a hand-made frame (`init_stack`) whose return address is a trampoline that calls the
//! goroutine entry; the trampoline's CFI marks the end of the call chain, so unwinders and
//! backtraces stop there and a panic can never unwind across a switch (the entry catches it).
//!
//! Supported: x86-64 SysV (Linux). aarch64 is planned; other targets fail to compile.

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
mod x86_64;
#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
pub(crate) use x86_64::{call_on_stack, init_stack, switch};

#[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
compile_error!(
    "gort supports x86_64 Linux (System V ABI) only; aarch64 Linux is planned. \
     The context switch, stacks and signal handling are target-specific."
);
