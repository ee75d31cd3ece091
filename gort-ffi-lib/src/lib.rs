//! A C-callable library built on gort, as a `staticlib` and a `cdylib` (library mode, as Go's
//! `-buildmode=c-archive` / `c-shared`). Nothing needs an init call: the runtime starts on first
//! use, and loading the library starts no threads. `include/gort_ffi_lib.h` declares the
//! functions for C; gort-ffi-tests/tests/library_mode.rs builds C hosts against both forms.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Spawns `n` goroutines; goroutine `i` (1..=n) sends `i * i` on a channel, and a collector
/// goroutine sums them; a WaitGroup tracks the senders. Returns the sum, n(n+1)(2n+1)/6.
fn sum_of_squares(n: u64) -> u64 {
    let (tx, rx) = gort::chan::<u64>(16);
    let (res_tx, res_rx) = gort::chan::<u64>(1);
    gort::go(move || {
        let mut sum = 0;
        for _ in 0..n {
            sum += rx.recv().expect("a value");
        }
        res_tx.send(sum).unwrap();
    });
    let wg = gort::sync::WaitGroup::new();
    let sent = Arc::new(AtomicU64::new(0));
    for i in 1..=n {
        wg.add(1);
        let (tx, wg, sent) = (tx.clone(), wg.clone(), sent.clone());
        gort::go(move || {
            tx.send(i * i).unwrap();
            sent.fetch_add(1, Relaxed);
            wg.done();
        });
    }
    wg.wait();
    assert_eq!(sent.load(Relaxed), n);
    res_rx.recv().expect("the sum")
}

/// `uint64_t gort_ffi_lib_sum(uint64_t n)`: the sum of i² for i in 1..=n, computed by n
/// goroutines over channels; the calling C thread enters the runtime with `ffi::callback` (it is
/// bound to an extra M and runs the body as a goroutine).
#[unsafe(no_mangle)]
pub extern "C" fn gort_ffi_lib_sum(n: u64) -> u64 {
    gort::ffi::callback(|| sum_of_squares(n))
}

/// `uint64_t gort_ffi_lib_sum_plain(uint64_t n)`: the same without `ffi::callback`: the C
/// thread stays a plain thread, and its blocking gort calls block it ("Every blocking
/// call works everywhere").
#[unsafe(no_mangle)]
pub extern "C" fn gort_ffi_lib_sum_plain(n: u64) -> u64 {
    sum_of_squares(n)
}

/// `uint64_t gort_ffi_lib_extra_threads(void)`: `gort::runtime::stats().extra_threads`.
#[unsafe(no_mangle)]
pub extern "C" fn gort_ffi_lib_extra_threads() -> u64 {
    gort::runtime::stats().extra_threads as u64
}
