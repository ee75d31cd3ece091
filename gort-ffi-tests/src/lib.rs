//! Tests of `gort::ffi` against real C code. This library holds the Rust declarations of the C
//! side (`csrc/`, compiled by `build.rs` with the `cc` crate); the tests are in `tests/` (their
//! time bounds and child-process runner come from the `gort-test-support` crate), the
//! child-process scenarios in `src/bin/ffi_child.rs`, and the tour's FFI example in
//! `examples/ffi.rs`.

use std::ffi::c_void;

/// `void cb(void *arg, int64_t v)`.
pub type CbI64 = extern "C" fn(arg: *mut c_void, v: i64);
/// `int64_t cb(void *arg, int64_t x)`.
pub type CbRet = extern "C" fn(arg: *mut c_void, x: i64) -> i64;
/// `void cb(void *arg)`.
pub type CbVoid = extern "C" fn(arg: *mut c_void);

// The C side; csrc/fft.h documents each function.
unsafe extern "C" {
    /// A C function with a 1 MiB local array (compiled with `-fstack-clash-protection`). Returns
    /// the sum over its 256 pages of `(seed + page) mod 256`; see [`big_frame_expected`].
    pub fn fft_big_frame(seed: i64) -> i64;
    /// `usleep(us)`; returns 0.
    pub fn fft_sleep_us(us: u32) -> i32;
    /// Creates `nthreads` pthreads; thread `t` calls `cb(arg, t * iters + i)` for `i` in
    /// `0..iters`, then exits; joins them all. Returns 0 or the first pthread error; adds the
    /// number of callbacks that returned to `*done`.
    pub fn fft_threads_callback(
        nthreads: i32,
        iters: i64,
        cb: CbI64,
        arg: *mut c_void,
        done: *mut i64,
    ) -> i32;
    /// Calls `cb(arg, x)` and returns `2 * result + 1`.
    pub fn fft_call_back(cb: CbRet, arg: *mut c_void, x: i64) -> i64;
    /// Runs `cb(arg, x)` on a new pthread, joins it, stores the result in `*out`. Returns 0 or
    /// the pthread error.
    pub fn fft_on_pthread(cb: CbRet, arg: *mut c_void, x: i64, out: *mut i64) -> i32;
    /// `fft_on_pthread` on a thread that first installs an alternate signal stack of
    /// `altstack` bytes of its own (as a C program may).
    pub fn fft_on_pthread_altstack(
        cb: CbRet,
        arg: *mut c_void,
        x: i64,
        out: *mut i64,
        altstack: usize,
    ) -> i32;
    /// Keeps known values in every callee-saved register and `fpc` (and `fpc2`) in the
    /// floating-point control across `cb(arg)`; returns the mask of what changed (0: intact).
    /// x86-64: rbx, rbp, r12–r15, MXCSR = `fpc`, x87 CW = `fpc2`. aarch64: x19–x28, d8–d15,
    /// FPCR = `fpc`. The bits are listed in csrc/fft.h; the assembly is `csrc/regs_<arch>.S`.
    pub fn fft_regs_across(seed: u64, fpc: u32, fpc2: u32, cb: CbVoid, arg: *mut c_void) -> u64;
    /// `rounds` calls of [`fft_regs_across`] (seeds `seed + round`) on one new pthread; the OR of
    /// the masks, or `1 << 63 | errno` if the thread could not be created or joined.
    pub fn fft_regs_on_pthread(
        seed: u64,
        fpc: u32,
        fpc2: u32,
        cb: CbVoid,
        arg: *mut c_void,
        rounds: i32,
    ) -> u64;
}

/// What [`fft_big_frame`] returns for `seed`.
pub fn big_frame_expected(seed: i64) -> i64 {
    (0..256i64).map(|p| (seed + p).rem_euclid(256)).sum()
}

/// The floating-point control the register tests keep across callbacks (`fpc`). x86-64: an
/// MXCSR with round toward zero (RC = 11) and flush-to-zero, all exceptions masked.
#[cfg(target_arch = "x86_64")]
pub const ODD_FP_CONTROL: u32 = 0x1F80 | (3 << 13) | 0x8000;
/// aarch64: an FPCR with round toward zero (RMode = 11) and flush-to-zero (FZ).
#[cfg(target_arch = "aarch64")]
pub const ODD_FP_CONTROL: u32 = (3 << 22) | (1 << 24);
/// The second control (`fpc2`). x86-64: an x87 control word with round toward zero, double
/// precision, exceptions masked.
#[cfg(target_arch = "x86_64")]
pub const ODD_FP_CONTROL2: u32 = 0x0C00 | 0x0200 | 0x007F;
/// aarch64: unused.
#[cfg(target_arch = "aarch64")]
pub const ODD_FP_CONTROL2: u32 = 0;
