//! The tour's FFI stop: calling C from goroutines, and being called back from C threads.
//!
//! ```sh
//! cargo run --release --example ffi
//! ```
//!
//! The C side is `gort-ffi-tests/csrc/` (declared in `gort-ffi-tests/src/lib.rs`), compiled by
//! the crate's build script with the `cc` crate.

use std::ffi::c_void;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use gort_ffi_tests::{
    big_frame_expected, fft_big_frame, fft_call_back, fft_sleep_us, fft_threads_callback,
};

/// Called by C threads: enters the runtime (the thread is bound to an extra M and the closure
/// runs as a goroutine) and sends the value on a gort channel.
extern "C" fn on_value(arg: *mut c_void, v: i64) {
    // SAFETY: `arg` is the `&Sender<i64>` passed to fft_threads_callback, which joins its threads
    // before returning.
    let tx = unsafe { &*(arg as *const gort::Sender<i64>) };
    gort::ffi::callback(|| tx.send(v).unwrap());
}

/// Called by C from inside an `ffi::call`: runs back on the calling goroutine, which may block.
extern "C" fn ask_a_goroutine(arg: *mut c_void, x: i64) -> i64 {
    // SAFETY: `arg` is the `&Receiver<i64>` passed below, alive for the whole call.
    let rx = unsafe { &*(arg as *const gort::Receiver<i64>) };
    gort::ffi::callback(|| x + rx.recv().unwrap())
}

#[gort::main]
fn main() {
    // 1. C code runs on the thread's own large stack, not on the goroutine's small one: a C
    //    function with a 1 MiB local array, from 100 goroutines (a goroutine stack is 256 KiB).
    let start = Instant::now();
    let hs: Vec<_> = (0..100)
        .map(|i| {
            gort::spawn(move || {
                // SAFETY: fft_big_frame takes no pointers; ffi::call runs it on the system stack.
                let sum = gort::ffi::call(|| unsafe { fft_big_frame(i) });
                sum == big_frame_expected(i)
            })
        })
        .collect();
    let ok = hs.into_iter().all(|h| h.join().unwrap());
    println!(
        "1. 100 goroutines called a C function with a 1 MiB frame: ok={ok} ({:?})",
        start.elapsed()
    );

    // 2. A C call that blocks gives its processor away: other goroutines keep running.
    let ticks = Arc::new(AtomicI64::new(0));
    let ticker = {
        let ticks = ticks.clone();
        gort::spawn(move || {
            // Ticks every 5 ms until told to stop (a negative count).
            while ticks.load(Relaxed) >= 0 {
                gort::sleep(Duration::from_millis(5));
                ticks.fetch_add(1, Relaxed);
            }
        })
    };
    // SAFETY: usleep, no pointers.
    gort::ffi::call(|| unsafe { fft_sleep_us(150_000) });
    let n = ticks.swap(i64::MIN / 2, Relaxed);
    println!("2. while C slept 150 ms in usleep, another goroutine ticked {n} times (every 5 ms)");
    ticker.join().unwrap();

    // 3. C threads call back into Rust: 4 pthreads × 25,000 callbacks, each sending on a
    //    channel that goroutines read.
    let (tx, rx) = gort::chan::<i64>(256);
    let sum = Arc::new(AtomicI64::new(0));
    let wg = gort::sync::WaitGroup::new();
    for _ in 0..2 {
        wg.add(1);
        let (rx, sum, wg) = (rx.clone(), sum.clone(), wg.clone());
        gort::go(move || {
            while let Some(v) = rx.recv() {
                sum.fetch_add(v, Relaxed);
            }
            wg.done();
        });
    }
    let start = Instant::now();
    let mut done = 0;
    let arg = &tx as *const gort::Sender<i64> as *mut c_void;
    // SAFETY: `arg` points to `tx`, which outlives the call (it joins its threads); `done` is valid.
    let rc =
        gort::ffi::call(|| unsafe { fft_threads_callback(4, 25_000, on_value, arg, &mut done) });
    tx.close();
    wg.wait();
    let n = 100_000i64;
    println!(
        "3. 4 C threads made {done} callbacks in {:?} (rc={rc}); the goroutines summed {} (want {}); extra Ms: {}",
        start.elapsed(),
        sum.load(Relaxed),
        n * (n - 1) / 2,
        gort::runtime::stats().extra_threads
    );

    // 4. C → Rust → C → Rust: the callback blocks on a channel another goroutine fills; C then
    //    computes with what it returned.
    let (tx, rx) = gort::chan::<i64>(0);
    gort::go(move || {
        gort::sleep(Duration::from_millis(10));
        tx.send(20).unwrap();
    });
    let arg = &rx as *const gort::Receiver<i64> as *mut c_void;
    // SAFETY: `ask_a_goroutine` matches the callback type; `arg` points to `rx`, alive here.
    let r = gort::ffi::call(|| unsafe { fft_call_back(ask_a_goroutine, arg, 1) });
    println!(
        "4. C called back, the callback waited for a goroutine's 20, C returned 2*(1+20)+1 = {r}"
    );
}
