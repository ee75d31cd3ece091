//! W13_ffi_callback: a pthread created in C (csrc/ffi.c) calls a Rust `extern "C"` callback N
//! times; each callback enters the runtime with `gort::ffi::callback` and sends its value on a
//! channel (capacity 1024) to one goroutine that sums them; a final callback closes the channel.
//! The main goroutine waits for the sum (parked, not blocked in C), then joins the thread.
//! per_op_ns = wall / N; the sum is checked. As the Go version's w13FFICallback.

use std::ffi::c_void;
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W13_ffi_callback",
    summary: "a C pthread calls back N times via gort::ffi::callback, each a send to a summing goroutine",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

/// Capacity of the channel the callbacks send on (as W4_chan_tput).
const CHAN_CAP: usize = 1024;

type ValueFn = extern "C" fn(arg: *mut c_void, v: i64);
type DoneFn = extern "C" fn(arg: *mut c_void);

unsafe extern "C" {
    fn ffi_cb_start(n: i64, value: ValueFn, done: DoneFn, arg: *mut c_void) -> i32;
    fn ffi_cb_join() -> i32;
}

/// Called by the C thread once per value.
extern "C" fn on_value(arg: *mut c_void, v: i64) {
    // SAFETY: `arg` is the `Sender` that `run` keeps alive until the thread is joined.
    let tx = unsafe { &*(arg as *const gort::Sender<i64>) };
    gort::ffi::callback(|| tx.send(v).expect("the channel is open until on_done"));
}

/// Called by the C thread once after its last `on_value`.
extern "C" fn on_done(arg: *mut c_void) {
    // SAFETY: as in `on_value`.
    let tx = unsafe { &*(arg as *const gort::Sender<i64>) };
    gort::ffi::callback(|| tx.close());
}

fn run(n: u64) -> Outcome {
    gort::run(move || {
        let (tx, rx) = gort::chan::<i64>(CHAN_CAP);
        let (done_tx, done_rx) = gort::chan::<(u64, i64)>(0);
        let start = Instant::now();
        gort::go(move || {
            let (mut count, mut sum) = (0u64, 0i64);
            while let Some(v) = rx.recv() {
                count += 1;
                sum += v;
            }
            done_tx.send((count, sum)).unwrap();
        });
        let arg = &tx as *const gort::Sender<i64> as *mut c_void;
        // SAFETY: the callbacks match the C typedefs; `arg` points to `tx`, which lives until
        // after `ffi_cb_join` below.
        let rc = gort::ffi::call(|| unsafe { ffi_cb_start(n as i64, on_value, on_done, arg) });
        if rc != 0 {
            return Outcome {
                note: format!("pthread_create failed: errno {rc}"),
                ..Outcome::default()
            };
        }
        let (count, sum) = done_rx.recv().expect("the summing goroutine reports");
        // SAFETY: joins the thread started above.
        let rc = gort::ffi::call(|| unsafe { ffi_cb_join() });
        let wall = start.elapsed();
        drop(tx);
        let want = n as i64 * (n as i64 - 1) / 2;
        let ok = count == n && sum == want && rc == 0;
        let mut note = format!(
            "C pthread -> extern \"C\" fn -> gort::ffi::callback -> chan (cap {CHAN_CAP}) -> one summing goroutine"
        );
        if !ok {
            note.push_str(&format!(
                "; count={count} sum={sum} want {n}/{want}; pthread_join={rc}"
            ));
        }
        Outcome {
            ops: n,
            wall,
            ok,
            note,
            value: Some(sum),
            ..Outcome::default()
        }
    })
}
