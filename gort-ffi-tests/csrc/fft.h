/* C side of gort-ffi-tests: functions the Rust tests call through gort::ffi::call, and C threads
 * that call Rust back (gort::ffi::callback). Declared for Rust in src/lib.rs; keep both in sync.
 * Everything takes its Rust callbacks as function pointers, so the static library has no
 * undefined Rust symbols. */
#ifndef GORT_FFI_TESTS_FFT_H
#define GORT_FFI_TESTS_FFT_H

#include <stddef.h>
#include <stdint.h>

typedef void (*fft_cb_i64)(void *arg, int64_t v);
typedef int64_t (*fft_cb_ret)(void *arg, int64_t x);
typedef void (*fft_cb_void)(void *arg);

/* bigstack.c: a function with a 1 MiB local array; returns the sum of one byte per page, each
 * (seed + page index) mod 256. */
int64_t fft_big_frame(int64_t seed);

/* callbacks.c */
/* Sleeps `us` microseconds in usleep (a C call that blocks its thread). Returns 0. */
int fft_sleep_us(uint32_t us);
/* Creates `nthreads` pthreads; thread t calls cb(arg, t * iters + i) for i = 0..iters-1 and
 * exits. Joins them all. Returns 0, or the first pthread_create/pthread_join error; the number
 * of callbacks that returned is added to *done. */
int fft_threads_callback(int nthreads, int64_t iters, fft_cb_i64 cb, void *arg, int64_t *done);
/* Calls cb(arg, x) and returns 2 * result + 1 (C -> Rust, then C computes with the value). */
int64_t fft_call_back(fft_cb_ret cb, void *arg, int64_t x);
/* Runs cb(arg, x) on a new pthread, joins it, stores the result in *out. Returns 0 or the
 * pthread error. */
int fft_on_pthread(fft_cb_ret cb, void *arg, int64_t x, int64_t *out);
/* fft_on_pthread on a thread that first installs an alternate signal stack of `altstack`
 * bytes of its own, as a C program may. */
int fft_on_pthread_altstack(fft_cb_ret cb, void *arg, int64_t x, int64_t *out, size_t altstack);

/* regs_<arch>.S: keeps known values in every callee-saved register and in the floating-point
 * control across cb(arg), then returns a mask of what changed (0: all intact), restoring the
 * caller's values.
 * x86-64: rbx, rbp, r12-r15 = seed+0..5, MXCSR = `fpc`, x87 control word = `fpc2`; bit 0 rbx,
 *   1 rbp, 2 r12, 3 r13, 4 r14, 5 r15, 6 MXCSR control bits, 7 x87 control word.
 * aarch64: x19-x28 = seed+0..9, d8-d15 = seed+10..17, FPCR = `fpc` (`fpc2` unused); bits 0-9
 *   x19-x28, 10-17 d8-d15, 18 FPCR. */
uint64_t fft_regs_across(uint64_t seed, uint32_t fpc, uint32_t fpc2, fft_cb_void cb, void *arg);
/* callbacks.c: `rounds` calls of fft_regs_across (seed + round) on one new pthread; returns the
 * OR of the masks, or (1 << 63) | error if the thread could not be created or joined. */
uint64_t fft_regs_on_pthread(uint64_t seed, uint32_t fpc, uint32_t fpc2, fft_cb_void cb,
                             void *arg, int rounds);

#endif
