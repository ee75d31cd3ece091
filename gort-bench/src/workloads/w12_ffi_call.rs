//! W12_ffi_call: one goroutine calls the C function `int add1(int)` (csrc/ffi.c, compiled by
//! build.rs with the C compiler) N times through `gort::ffi::call` and sums the results;
//! per_op_ns = wall / N. As the Go version's w12FFICall.

use std::hint::black_box;
use std::time::Instant;

use super::Workload;
use crate::report::Outcome;

pub const WORKLOAD: Workload = Workload {
    name: "W12_ffi_call",
    summary: "one goroutine calls C int add1(int) N times via gort::ffi::call (per_op = wall / N)",
    default_n: 10_000_000,
    sweep: &[],
    run,
};

unsafe extern "C" {
    fn add1(x: i32) -> i32;
}

fn run(n: u64) -> Outcome {
    if n > i32::MAX as u64 - 1 {
        return Outcome {
            note: format!("n={n} too large for int add1(int)"),
            ..Outcome::default()
        };
    }
    gort::run(move || {
        let mut sum: i64 = 0;
        let start = Instant::now();
        for i in 0..n as i32 {
            // SAFETY: add1 takes an int and returns an int; no pointers, no state.
            sum += i64::from(gort::ffi::call(|| unsafe { add1(black_box(i)) }));
        }
        let wall = start.elapsed();
        let want = n as i64 * (n as i64 + 1) / 2;
        let mut note =
            "gort::ffi::call of int add1(int) defined in ffi.c; one goroutine".to_string();
        if sum != want {
            note.push_str(&format!("; sum={sum} want {want}"));
        }
        Outcome {
            ops: n,
            wall,
            ok: sum == want,
            note,
            value: Some(sum),
            ..Outcome::default()
        }
    })
}
