use std::ffi::c_void;
use std::hint::black_box;
use std::time::Duration;

use gort_ffi_tests::{fft_call_back, fft_on_pthread};

fn a_park_inside_call() {
    let r = gort::run(|| {
        let (tx, rx) = gort::chan::<i64>(0);
        gort::go(move || {
            gort::sleep(Duration::from_millis(10));
            tx.send(5).unwrap();
        });
        let guard = black_box([7u64; 64]);
        let v = gort::ffi::call(|| rx.recv().unwrap());
        assert_eq!(black_box(guard), [7u64; 64]);
        v
    });
    println!("a: ok {r}");
}

fn b_yield_inside_call() {
    gort::run(|| {
        for _ in 0..3 {
            gort::go(|| {
                for _ in 0..100 {
                    gort::yield_now()
                }
            });
        }
        let guard = black_box([7u64; 64]);
        gort::ffi::call(|| {
            for _ in 0..100 {
                gort::yield_now()
            }
        });
        assert_eq!(black_box(guard), [7u64; 64]);
    });
    println!("b: ok");
}

#[inline(never)]
fn deep(n: u64) -> u64 {
    let a = black_box([n; 32]);
    let inner = gort::ffi::call(|| black_box(n) * 2);
    let b = black_box(a);
    b.iter().sum::<u64>() + inner
}

fn c_nested_call() {
    let r = gort::run(|| {
        gort::ffi::call(|| {
            let a = black_box([3u64; 512]);
            let x = deep(black_box(9));
            let s: u64 = black_box(a).iter().sum();
            (s, x)
        })
    });
    println!("c: {r:?} (want (1536, {}))", 9 * 32 + 18);
}

extern "C" fn unlock_cb(_arg: *mut c_void, x: i64) -> i64 {
    gort::ffi::callback(|| {
        gort::unlock_os_thread();
        gort::sleep(Duration::from_millis(5));
        x + 1
    })
}

fn d_unlock_in_foreign_callback() {
    let mut out = 0;
    let rc = unsafe { fft_on_pthread(unlock_cb, std::ptr::null_mut(), 41, &mut out) };
    println!("d: rc={rc} out={out}");
}

fn e_unlock_in_call_callback() {
    let r = gort::run(|| {
        for _ in 0..4 {
            gort::go(|| {
                for _ in 0..200 {
                    gort::sleep(Duration::from_micros(100))
                }
            });
        }
        gort::ffi::call(|| unsafe { fft_call_back(unlock_cb, std::ptr::null_mut(), 1) })
    });
    println!("e: {r} (want 5)");
}

fn f_blocking_inside_call() {
    let r = gort::run(|| {
        gort::ffi::call(|| gort::blocking(|| 3)) + gort::blocking(|| gort::ffi::call(|| 4))
    });
    println!("f: {r}");
}

fn g_call_inside_blocking() {
    let r = gort::run(|| gort::blocking(|| gort::ffi::call(|| 4)));
    println!("g: {r}");
}

fn h_sleep_inside_call() {
    gort::run(|| gort::ffi::call(|| gort::sleep(Duration::from_millis(5))));
    println!("h: ok");
}

extern "C" fn plain_cb(_arg: *mut c_void, x: i64) -> i64 {
    // A C callback that forgot ffi::callback and calls C again.
    gort::ffi::call(|| black_box(x) + 1)
}

fn i_call_from_c_without_callback() {
    let r = gort::run(|| {
        gort::ffi::call(|| unsafe { fft_call_back(plain_cb, std::ptr::null_mut(), 1) })
    });
    println!("i: {r} (want 5)");
}

fn j_blocking_in_blocking() {
    let r = gort::run(|| gort::blocking(|| gort::blocking(|| 4)));
    println!("j: {r}");
}

fn k_recv_in_blocking() {
    let r = gort::run(|| {
        let (tx, rx) = gort::chan::<i64>(0);
        gort::go(move || {
            gort::sleep(Duration::from_millis(10));
            tx.send(5).unwrap();
        });
        gort::blocking(|| rx.recv().unwrap())
    });
    println!("k: {r}");
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("a") => a_park_inside_call(),
        Some("b") => b_yield_inside_call(),
        Some("c") => c_nested_call(),
        Some("d") => d_unlock_in_foreign_callback(),
        Some("e") => e_unlock_in_call_callback(),
        Some("f") => f_blocking_inside_call(),
        Some("g") => g_call_inside_blocking(),
        Some("h") => h_sleep_inside_call(),
        Some("i") => i_call_from_c_without_callback(),
        Some("j") => j_blocking_in_blocking(),
        Some("k") => k_recv_in_blocking(),
        Some("g") => g_call_inside_blocking(),
        Some("h") => h_sleep_inside_call(),
        Some("i") => i_call_from_c_without_callback(),
        _ => eprintln!("a..f"),
    }
}
