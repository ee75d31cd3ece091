//! AArch64 (AAPCS64, Linux) context switch: the same contract as `x86_64.rs` (see `arch`).
//!
//! Callee-saved state under AAPCS64: x19–x28, the frame pointer x29, the link register x30, the
//! stack pointer, the low 64 bits of v8–v15 (d8–d15), and the FPCR control bits (rounding mode,
//! flush-to-zero, default NaN). `switch` saves exactly that set; everything else is
//! caller-saved and the compiler has already spilled what it needs before the call. The stack
//! pointer is 16-byte aligned at every instruction that uses it (the hardware checks it).
//!
//! Saved frame, at the saved stack pointer `sp` (16-byte aligned), lowest address first:
//! ```text
//! sp+0    x19, x20
//! sp+16   x21, x22
//! sp+32   x23, x24
//! sp+48   x25, x26
//! sp+64   x27, x28
//! sp+80   x29 (fp), x30 (lr: where `switch` returns to)
//! sp+96   d8, d9
//! sp+112  d10, d11
//! sp+128  d12, d13
//! sp+144  d14, d15
//! sp+160  FPCR, pad
//! ```

/// Bytes of the frame above.
const FRAME: usize = 176;

/// The first Rust function a new context runs: `entry(arg, data)` where `arg` is the value passed
/// to the `switch` that started it and `data` the word given to `init_stack`. Never returns.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: usize, data: usize) -> !;

/// Stores the saved frame (module doc) of the current context below sp: the callee-saved
/// registers (x29/x30 too: `ret` after a restore goes back through x30) and FPCR. Shared by
/// `switch` and `switch_call`, which must save exactly the same frame. sp stays 16-byte aligned
/// (FRAME is a multiple of 16).
macro_rules! save_frame {
    () => {
        concat!(
            "sub sp, sp, #176\n",
            "stp x19, x20, [sp, #0]\n",
            "stp x21, x22, [sp, #16]\n",
            "stp x23, x24, [sp, #32]\n",
            "stp x25, x26, [sp, #48]\n",
            "stp x27, x28, [sp, #64]\n",
            "stp x29, x30, [sp, #80]\n",
            "stp d8, d9, [sp, #96]\n",
            "stp d10, d11, [sp, #112]\n",
            "stp d12, d13, [sp, #128]\n",
            "stp d14, d15, [sp, #144]\n",
            "mrs x9, fpcr\n",
            "str x9, [sp, #160]\n",
        )
    };
}

/// Loads the saved frame at sp and pops it (the inverse of `save_frame`). Writing FPCR can stall
/// the pipeline, and it nearly always holds the same value already: it is written only when it
/// differs. Uses x9 and x10 (caller-saved scratch).
macro_rules! restore_frame {
    () => {
        concat!(
            "ldr x9, [sp, #160]\n",
            "mrs x10, fpcr\n",
            "cmp x9, x10\n",
            "b.eq 2f\n",
            "msr fpcr, x9\n",
            "2:\n",
            "ldp d14, d15, [sp, #144]\n",
            "ldp d12, d13, [sp, #128]\n",
            "ldp d10, d11, [sp, #112]\n",
            "ldp d8, d9, [sp, #96]\n",
            "ldp x29, x30, [sp, #80]\n",
            "ldp x27, x28, [sp, #64]\n",
            "ldp x25, x26, [sp, #48]\n",
            "ldp x23, x24, [sp, #32]\n",
            "ldp x21, x22, [sp, #16]\n",
            "ldp x19, x20, [sp, #0]\n",
            "add sp, sp, #176\n",
        )
    };
}

/// Saves the current context into `*save`, resumes the context whose stack pointer is `to`, and
/// hands it `arg` (returned from its own `switch` call, or passed to its entry on first run).
/// Returns the `arg` of whichever `switch` later resumes this context.
///
/// # Safety
/// `to` must be a stack pointer saved by `switch` or made by `init_stack`, whose context is not
/// running anywhere else; `save` must be writable and stay valid until this context is resumed.
// ABI contract: x0 = save, x1 = to, x2 = arg; returns x0 = arg of the resuming switch. x9 and
// x10 are caller-saved scratch registers.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    core::arch::naked_asm!(
        save_frame!(),
        // Publish our sp (sp cannot be stored directly: go through x9), then move to the other
        // stack.
        "mov x9, sp",
        "str x9, [x0]",
        "mov sp, x1",
        restore_frame!(),
        // The resumed side sees `arg` as switch's return value; a fresh context's trampoline
        // finds it in x0 as its first argument.
        "mov x0, x2",
        // To the resumed context's caller (or, for a fresh one, the trampoline).
        "ret",
    )
}

/// Saves the current context into `*save` as `switch` does, then calls `f(data)` on the stack
/// whose top is `top` (16-byte aligned), and resumes the context `f` returns, handing it the
/// argument `f` returns with it. Returns the `arg` of whichever `switch` later resumes this
/// context (see x86_64.rs).
///
/// # Safety
/// `save` as for `switch`; `[top - n, top)` must be unused stack memory large enough for `f`;
/// `f` must not unwind and must return a context that `switch` could resume.
// ABI contract: x0 = save, x1 = data, x2 = f, x3 = top; `f` returns `Resume` in x0 (sp) and x1
// (arg). The frame saved is exactly `switch`'s, so either primitive resumes a context the other
// saved.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch_call(
    save: *mut usize,
    data: usize,
    f: unsafe extern "C" fn(usize) -> super::Resume,
    top: usize,
) -> usize {
    core::arch::naked_asm!(
        save_frame!(),
        "mov x9, sp",
        "str x9, [x0]",
        // f(data) on the other stack.
        "mov sp, x3",
        "mov x0, x1",
        "blr x2",
        // Into the context it chose (x0), as `switch` enters one; x1 holds its argument.
        "mov sp, x0",
        restore_frame!(),
        "mov x0, x1",
        "ret",
    )
}

/// First instruction of every goroutine: x19 = data, x20 = entry, x0 = arg (from `switch`).
/// Its CFI says the return address (x30) is undefined: the end of the call chain for unwinders
/// and debuggers. At entry sp is the 16-byte aligned stack top.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() -> ! {
    core::arch::naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined x30",
        // A zero frame pointer ends frame-pointer walks too.
        "mov x29, #0",
        // entry(arg, data): x0 is already `arg`.
        "mov x1, x19",
        "blr x20",
        // The entry never returns.
        "brk #1",
        ".cfi_endproc",
    )
}

/// Writes the initial frame of a new context just below `top` (16-byte aligned) and returns its
/// stack pointer, to be passed to `switch`.
///
/// # Safety
/// `[top - 176, top)` must be writable memory of a stack that nothing else uses.
pub(crate) unsafe fn init_stack(top: usize, entry: EntryFn, data: usize) -> usize {
    debug_assert_eq!(top % 16, 0);
    let sp = top - FRAME;
    let frame = sp as *mut usize;
    let mut words = [0usize; FRAME / 8];
    words[0] = data; // x19
    words[1] = entry as *const () as usize; // x20
    words[11] = trampoline as *const () as usize; // x30: `switch` returns into the trampoline
    // FPCR 0 (words[20]): round to nearest, no flush-to-zero, as a fresh thread has it. x29 and
    // d8–d15 start at zero.
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the caller guarantees [sp, top) is writable stack memory.
        unsafe { frame.add(i).write(*w) };
    }
    sp
}

/// Calls `f(data)` on another stack whose top is `top` (16-byte aligned), after storing the
/// current stack pointer in `*save`; returns to the current stack when `f` returns. This is how
/// C code runs on an M's system stack (Go's asmcgocall) and how a C→Rust callback runs on the
/// calling goroutine's stack again (Go's cgocallback).
///
/// # Safety
/// `[top - n, top)` must be unused stack memory large enough for `f`; `save` must be writable;
/// `f` must not unwind (it catches panics itself).
// ABI contract: x0 = data, x1 = f, x2 = top, x3 = save. x29 (callee-saved) keeps the old stack
// pointer across the call; the CFI describes the frame through x29, so backtraces taken in `f`
// walk back onto the original stack.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn call_on_stack(
    data: usize,
    f: unsafe extern "C" fn(usize),
    top: usize,
    save: *mut usize,
) {
    core::arch::naked_asm!(
        ".cfi_startproc",
        // Push the caller's frame pointer and our return address.
        "stp x29, x30, [sp, #-16]!",
        ".cfi_def_cfa_offset 16",
        ".cfi_offset x29, -16",
        ".cfi_offset x30, -8",
        // x29 marks this frame; the CFA is now described through it.
        "mov x29, sp",
        ".cfi_def_cfa_register x29",
        // Publish the current stack pointer, then switch to the other stack.
        "mov x9, sp",
        "str x9, [x3]",
        "mov sp, x2",
        // f(data): x0 is already `data`.
        "blr x1",
        // Back to our own stack, through the frame pointer kept across the call.
        "mov sp, x29",
        ".cfi_def_cfa_register sp",
        // Pop the frame and return.
        "ldp x29, x30, [sp], #16",
        ".cfi_def_cfa_offset 0",
        ".cfi_restore x29",
        ".cfi_restore x30",
        "ret",
        ".cfi_endproc",
    )
}

/// The interrupted stack pointer in a signal handler's context (`sp` in the ucontext's
/// `mcontext_t`), or `None` if the kernel passed no context.
///
/// # Safety
/// `ctx` is the third argument of an `SA_SIGINFO` handler.
pub(crate) unsafe fn signal_sp(ctx: *mut core::ffi::c_void) -> Option<usize> {
    let uc = ctx as *const libc::ucontext_t;
    // SAFETY: a non-null `ctx` is the kernel's ucontext for this signal (caller's contract).
    unsafe { uc.as_ref() }.map(|uc| uc.uc_mcontext.sp as usize)
}
