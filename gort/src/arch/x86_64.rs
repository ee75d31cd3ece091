//! x86-64 System V context switch (model: corosensei's `arch/x86_64.rs`).
//!
//! Callee-saved state under SysV: rbx, rbp, r12–r15, the MXCSR control bits and the x87 control
//! word. `switch` saves exactly that set; everything else is caller-saved and the compiler has
//! already spilled what it needs before the call.
//!
//! Saved frame, at the saved stack pointer `sp` (16-byte aligned), lowest address first:
//! ```text
//! sp+0   MXCSR (4 bytes) | x87 CW (2 bytes) | pad
//! sp+8   r15
//! sp+16  r14
//! sp+24  r13
//! sp+32  r12
//! sp+40  rbx
//! sp+48  rbp
//! sp+56  return address
//! ```

/// The first Rust function a new context runs: `entry(arg, data)` where `arg` is the value passed
/// to the `switch` that started it and `data` the word given to `init_stack`. Never returns.
pub(crate) type EntryFn = unsafe extern "C" fn(arg: usize, data: usize) -> !;

/// Pushes the saved frame (module doc) of the current context: the callee-saved registers and
/// the floating-point control words. Shared by `switch` and `switch_call`, which must save
/// exactly the same frame.
macro_rules! save_frame {
    () => {
        concat!(
            "push rbp\n",
            "push rbx\n",
            "push r12\n",
            "push r13\n",
            "push r14\n",
            "push r15\n",
            "sub rsp, 8\n",
            "stmxcsr [rsp]\n",
            "fnstcw [rsp + 4]\n",
        )
    };
}

/// Pops the saved frame at rsp (the inverse of `save_frame`).
macro_rules! restore_frame {
    () => {
        concat!(
            "ldmxcsr [rsp]\n",
            "fldcw [rsp + 4]\n",
            "add rsp, 8\n",
            "pop r15\n",
            "pop r14\n",
            "pop r13\n",
            "pop r12\n",
            "pop rbx\n",
            "pop rbp\n",
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
// ABI contract: rdi = save, rsi = to, rdx = arg; returns rax = arg of the resuming switch. At entry
// rsp ≡ 8 (mod 16); after six pushes and `sub 8` it is ≡ 0, so every saved sp is 16-aligned.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch(save: *mut usize, to: usize, arg: usize) -> usize {
    core::arch::naked_asm!(
        save_frame!(),
        // Publish our sp, then move to the other stack.
        "mov [rdi], rsp",
        "mov rsp, rsi",
        restore_frame!(),
        // The resumed side sees `arg` as switch's return value; a fresh context's trampoline
        // finds it in rdi.
        "mov rax, rdx",
        "mov rdi, rdx",
        "ret",
    )
}

/// Saves the current context into `*save` as `switch` does, then calls `f(data)` on the stack
/// whose top is `top` (16-byte aligned), and resumes the context `f` returns, handing it the
/// argument `f` returns with it. Returns the `arg` of whichever `switch` later resumes this
/// context. One context switch with a function call in the middle: the function runs after this
/// context is saved and before the next one is chosen for good (rt::handoff).
///
/// # Safety
/// `save` as for `switch`; `[top - n, top)` must be unused stack memory large enough for `f`;
/// `f` must not unwind and must return a context that `switch` could resume.
// ABI contract: rdi = save, rsi = data, rdx = f, rcx = top; `f` returns `Resume` in rax (sp) and
// rdx (arg). The frame pushed is exactly `switch`'s, so either primitive resumes a context the
// other saved. `top` is ≡ 0 (mod 16), so `f` starts with rsp ≡ 8 after the call.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn switch_call(
    save: *mut usize,
    data: usize,
    f: unsafe extern "C" fn(usize) -> super::Resume,
    top: usize,
) -> usize {
    core::arch::naked_asm!(
        save_frame!(),
        "mov [rdi], rsp",
        // f(data) on the other stack.
        "mov rsp, rcx",
        "mov rdi, rsi",
        "call rdx",
        // Into the context it chose, as `switch` enters one.
        "mov rsp, rax",
        restore_frame!(),
        "mov rax, rdx",
        "mov rdi, rdx",
        "ret",
    )
}

/// First instruction of every goroutine: r12 = data, r13 = entry, rdi = arg (from `switch`).
/// Its CFI says the return address is undefined: the end of the call chain for unwinders and
/// debuggers. At entry rsp ≡ 0 (mod 16), so the `call` leaves the entry function with the
/// standard rsp ≡ 8.
#[unsafe(naked)]
unsafe extern "C" fn trampoline() -> ! {
    core::arch::naked_asm!(
        ".cfi_startproc",
        ".cfi_undefined rip",
        "xor ebp, ebp",
        "mov rsi, r12",
        "call r13",
        "ud2",
        ".cfi_endproc",
    )
}

/// Writes the initial frame of a new context just below `top` (16-byte aligned) and returns its
/// stack pointer, to be passed to `switch`.
///
/// # Safety
/// `[top - 64, top)` must be writable memory of a stack that nothing else uses.
pub(crate) unsafe fn init_stack(top: usize, entry: EntryFn, data: usize) -> usize {
    debug_assert_eq!(top % 16, 0);
    let sp = top - 64;
    let frame = sp as *mut usize;
    // Default MXCSR (all exceptions masked, round to nearest) and x87 CW (extended precision,
    // all exceptions masked), as a fresh thread has them.
    let fp_state: usize = 0x1F80 | (0x037F << 32);
    let words: [usize; 8] = [
        fp_state,
        0,                                // r15
        0,                                // r14
        entry as *const () as usize,      // r13
        data,                             // r12
        0,                                // rbx
        0,                                // rbp
        trampoline as *const () as usize, // return address
    ];
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
// ABI contract: rdi = data, rsi = f, rdx = top, rcx = save. rbp (callee-saved) keeps the old
// stack pointer across the call; the CFI describes the frame through rbp, so backtraces taken in
// `f` walk back onto the original stack. At entry rsp ≡ 8 (mod 16); `top` is ≡ 0, so `f` starts
// with rsp ≡ 8 after the call, as the ABI requires.
#[unsafe(naked)]
pub(crate) unsafe extern "C" fn call_on_stack(
    data: usize,
    f: unsafe extern "C" fn(usize),
    top: usize,
    save: *mut usize,
) {
    core::arch::naked_asm!(
        ".cfi_startproc",
        "push rbp",
        ".cfi_adjust_cfa_offset 8",
        ".cfi_offset rbp, -16",
        "mov rbp, rsp",
        ".cfi_def_cfa_register rbp",
        "mov [rcx], rsp",
        "mov rsp, rdx",
        "call rsi",
        "mov rsp, rbp",
        ".cfi_def_cfa_register rsp",
        "pop rbp",
        ".cfi_adjust_cfa_offset -8",
        "ret",
        ".cfi_endproc",
    )
}

/// The interrupted stack pointer in a signal handler's context (`rsp` in the ucontext's
/// general registers), or `None` if the kernel passed no context.
///
/// # Safety
/// `ctx` is the third argument of an `SA_SIGINFO` handler.
pub(crate) unsafe fn signal_sp(ctx: *mut core::ffi::c_void) -> Option<usize> {
    let uc = ctx as *const libc::ucontext_t;
    // SAFETY: a non-null `ctx` is the kernel's ucontext for this signal (caller's contract).
    unsafe { uc.as_ref() }.map(|uc| uc.uc_mcontext.gregs[libc::REG_RSP as usize] as usize)
}
