//! C → Rust → C → Rust: callbacks inside `ffi::call` run back on the calling goroutine and may
//! block; recursion works from goroutines and from foreign threads; and every transition keeps
//! the C code's callee-saved registers and floating-point control (MXCSR and x87 control word
//! on x86-64, FPCR on aarch64).

use std::ffi::c_void;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use gort::GoroutineId;
use gort_ffi_tests::{
    ODD_FP_CONTROL, ODD_FP_CONTROL2, fft_call_back, fft_on_pthread, fft_regs_across,
    fft_regs_on_pthread,
};
use gort_test_support::{bounded, go_test, wait_for_state};

/// State shared by the levels of one nested call chain.
struct Nest {
    /// Filled by another goroutine; every level blocks on it once.
    rx: gort::Receiver<i64>,
    /// `current_id()` seen at each level.
    ids: Mutex<Vec<Option<GoroutineId>>>,
}

/// `extern "C"` callback: blocks on the channel, then (if `depth > 0`) calls C again, which
/// calls back here one level deeper.
extern "C" fn nest_cb(arg: *mut c_void, depth: i64) -> i64 {
    // SAFETY: `arg` is the `&Nest` of the test, alive until the outermost call returns.
    let nest = unsafe { &*(arg as *const Nest) };
    gort::ffi::callback(|| {
        nest.ids.lock().unwrap().push(gort::current_id());
        let v = nest.rx.recv().expect("a value");
        if depth == 0 {
            return v;
        }
        // SAFETY: as at the outermost call: `nest_cb` matches, `arg` is still alive.
        v + gort::ffi::call(|| unsafe { fft_call_back(nest_cb, arg, depth - 1) })
    })
}

/// What the outermost `fft_call_back(nest_cb, .., depth)` returns when the levels receive
/// `vals` in order (outermost first).
fn expected(vals: &[i64]) -> i64 {
    let (last, outer) = vals.split_last().unwrap();
    let r = outer.iter().rev().fold(*last, |r, v| v + 2 * r + 1);
    2 * r + 1
}

/// A goroutine that sends `vals` one by one, each once a receiver has parked, so the callbacks
/// really wait.
fn filler(vals: Vec<i64>) -> gort::Receiver<i64> {
    let (tx, rx) = gort::chan(0);
    gort::go(move || {
        for v in vals {
            wait_for_state("chan receive", 1);
            tx.send(v).unwrap();
        }
    });
    rx
}

/// On a goroutine: `ffi::call` → C → `ffi::callback` (blocks on a channel) → …, `depth` levels.
fn nested_on_goroutine(depth: i64, base: i64) {
    let vals: Vec<i64> = (0..=depth).map(|i| base + 10 * (i + 1)).collect();
    let nest = Nest {
        rx: filler(vals.clone()),
        ids: Mutex::new(Vec::new()),
    };
    let arg = &nest as *const Nest as *mut c_void;
    // SAFETY: `nest_cb` matches the callback type; `arg` points to `nest`, alive throughout.
    let got = gort::ffi::call(|| unsafe { fft_call_back(nest_cb, arg, depth) });
    assert_eq!(got, expected(&vals));
    let ids = nest.ids.into_inner().unwrap();
    assert_eq!(ids.len() as i64, depth + 1);
    let me = gort::current_id();
    assert!(
        ids.iter().all(|id| *id == me),
        "callbacks ran on {ids:?}, not on the calling goroutine {me:?}"
    );
}

#[test]
fn c_rust_c_rust_blocks_on_a_channel() {
    go_test(30, || nested_on_goroutine(1, 0));
}

#[test]
fn deep_nesting_from_many_goroutines_at_once() {
    bounded(30, || {
        gort::run(|| {
            let hs: Vec<_> = (0..16)
                .map(|g| gort::spawn(move || nested_on_goroutine(4, 1000 * g)))
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
    });
}

/// First frame on the C thread: a foreign-thread callback that calls C, which calls back
/// (`nest_cb`, recursively): callback → call → C → callback → call → C → callback …
extern "C" fn foreign_nest_entry(arg: *mut c_void, depth: i64) -> i64 {
    // SAFETY: `arg` is the `&Nest` of the test.
    let nest = unsafe { &*(arg as *const Nest) };
    gort::ffi::callback(|| {
        nest.ids.lock().unwrap().push(gort::current_id());
        // SAFETY: `nest_cb` matches; `arg` is alive until the joined thread is done.
        gort::ffi::call(|| unsafe { fft_call_back(nest_cb, arg, depth) })
    })
}

#[test]
fn recursive_callbacks_on_a_foreign_thread() {
    bounded(30, || {
        for round in 0..3 {
            let depth = 3;
            let vals: Vec<i64> = (0..=depth).map(|i| 7 * (i + 1) + round).collect();
            let nest = Nest {
                rx: filler(vals.clone()),
                ids: Mutex::new(Vec::new()),
            };
            let mut out = 0;
            let arg = &nest as *const Nest as *mut c_void;
            // SAFETY: `arg` points to `nest`, alive until the joined thread is done.
            let rc = unsafe { fft_on_pthread(foreign_nest_entry, arg, depth, &mut out) };
            assert_eq!(rc, 0);
            assert_eq!(out, expected(&vals));
            let ids = nest.ids.into_inner().unwrap();
            assert_eq!(ids.len() as i64, depth + 2);
            assert!(ids[0].is_some());
            assert!(
                ids.iter().all(|id| *id == ids[0]),
                "one callback goroutine should run every level: {ids:?}"
            );
        }
    });
}

/// What a register-test callback does: parks (sleep, then a channel receive another goroutine
/// fills) and, if `inner` is set, runs the register check once more inside its own `ffi::call`.
struct Regs {
    rx: gort::Receiver<i64>,
    received: AtomicU64,
    inner: Option<&'static Regs>,
    inner_mask: AtomicU64,
}

extern "C" fn regs_cb(arg: *mut c_void) {
    // SAFETY: `arg` is a `&Regs` that outlives the call.
    let r = unsafe { &*(arg as *const Regs) };
    gort::ffi::callback(|| {
        gort::sleep(Duration::from_micros(500));
        let v = r.rx.recv().expect("a value");
        r.received.fetch_add(v as u64, Relaxed);
        if let Some(inner) = r.inner {
            let arg = inner as *const Regs as *mut c_void;
            // SAFETY: fft_regs_across follows the platform ABI; `regs_cb` matches; `inner` is
            // 'static.
            let m = gort::ffi::call(|| unsafe {
                fft_regs_across(0x5EED_0000, ODD_FP_CONTROL, ODD_FP_CONTROL2, regs_cb, arg)
            });
            r.inner_mask.fetch_or(m, Relaxed);
        }
    });
}

fn regs(values: i64, inner: Option<&'static Regs>) -> &'static Regs {
    let (tx, rx) = gort::chan(0);
    gort::go(move || {
        for v in 1..=values {
            tx.send(v).unwrap();
        }
    });
    Box::leak(Box::new(Regs {
        rx,
        received: AtomicU64::new(0),
        inner,
        inner_mask: AtomicU64::new(0),
    }))
}

/// On goroutines: C keeps values in its callee-saved registers and FP control across a callback
/// that parks; all intact afterwards (mask 0).
#[test]
fn registers_survive_a_parking_callback_on_goroutines() {
    bounded(30, || {
        gort::run(|| {
            let hs: Vec<_> = (0..8u64)
                .map(|g| {
                    gort::spawn(move || {
                        let r = regs(20, None);
                        let arg = r as *const Regs as *mut c_void;
                        for round in 0..20u64 {
                            let seed = g << 40 | round << 8;
                            // SAFETY: fft_regs_across follows the platform ABI and restores what it
                            // changes; `regs_cb` matches; `r` is 'static.
                            let mask = gort::ffi::call(|| unsafe {
                                fft_regs_across(seed, ODD_FP_CONTROL, ODD_FP_CONTROL2, regs_cb, arg)
                            });
                            assert_eq!(mask, 0, "changed across the callback: {mask:#b}");
                        }
                        assert_eq!(r.received.load(Relaxed), 210);
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        });
    });
}

/// On foreign C pthreads: the same check, several rounds per thread (the first binds an extra
/// M, later ones reuse it), and with a second check nested inside the callback's own
/// `ffi::call` (C → Rust → C → Rust on an extra M).
#[test]
fn registers_survive_a_parking_callback_on_foreign_threads() {
    bounded(30, || {
        for t in 0..4u64 {
            let inner = regs(5, None);
            let outer = regs(5, Some(inner));
            let arg = outer as *const Regs as *mut c_void;
            // SAFETY: as above; the thread is joined before the call returns.
            let mask = unsafe {
                fft_regs_on_pthread(
                    0xABCD_0000 | t << 8,
                    ODD_FP_CONTROL,
                    ODD_FP_CONTROL2,
                    regs_cb,
                    arg,
                    5,
                )
            };
            assert_eq!(mask, 0, "changed across the callback: {mask:#b}");
            assert_eq!(outer.inner_mask.load(Relaxed), 0, "inner check failed");
            assert_eq!(outer.received.load(Relaxed), 15);
            assert_eq!(inner.received.load(Relaxed), 15);
        }
    });
}
