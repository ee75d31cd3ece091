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
    /// Keeps `seed + 0..5` in rbx, rbp, r12–r15, `mxcsr` in MXCSR and `x87cw` in the x87 control
    /// word across `cb(arg)`; returns the mask of what changed (bits 0–5 rbx, rbp, r12–r15;
    /// bit 6 MXCSR control bits; bit 7 x87 CW). Assembly: csrc/regs.S.
    pub fn fft_regs_across(seed: u64, mxcsr: u32, x87cw: u32, cb: CbVoid, arg: *mut c_void) -> u64;
    /// `rounds` calls of [`fft_regs_across`] (seeds `seed + round`) on one new pthread; the OR of
    /// the masks, or `1 << 63 | errno` if the thread could not be created or joined.
    pub fn fft_regs_on_pthread(
        seed: u64,
        mxcsr: u32,
        x87cw: u32,
        cb: CbVoid,
        arg: *mut c_void,
        rounds: i32,
    ) -> u64;
}

/// What [`fft_big_frame`] returns for `seed`.
pub fn big_frame_expected(seed: i64) -> i64 {
    (0..256i64).map(|p| (seed + p).rem_euclid(256)).sum()
}

/// A non-default MXCSR for the register tests: round toward zero (RC = 11) and flush-to-zero,
/// all exceptions masked.
pub const ODD_MXCSR: u32 = 0x1F80 | (3 << 13) | 0x8000;
/// A non-default x87 control word: round toward zero, double precision, exceptions masked.
pub const ODD_X87CW: u32 = 0x0C00 | 0x0200 | 0x007F;
