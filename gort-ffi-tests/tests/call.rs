//! `gort::ffi::call`: C runs on the thread's own large stack, not on the goroutine's.

use std::hint::black_box;

use gort_ffi_tests::{big_frame_expected, fft_big_frame};
use gort_test_support::bounded;

/// A C function with a 1 MiB local array (four times the default goroutine stack) called through
/// `ffi::call` from 1,000 goroutines at once: every call returns the right value. (Called
/// directly from a goroutine it is a reported stack overflow: `children::direct_call_overflows`.)
#[test]
fn big_c_frame_from_1000_goroutines() {
    bounded(60, || {
        gort::run(|| {
            let hs: Vec<_> = (0..1000i64)
                .map(|i| {
                    gort::spawn(move || {
                        // SAFETY: fft_big_frame takes no pointers; ffi::call runs it on the
                        // M's system stack.
                        let got = gort::ffi::call(|| unsafe { fft_big_frame(black_box(i)) });
                        (i, got)
                    })
                })
                .collect();
            for h in hs {
                let (i, got) = h.join().unwrap();
                assert_eq!(got, big_frame_expected(i), "goroutine {i}");
            }
        });
    });
}

/// The closure's own frame is on the system stack too: a Rust closure with a 1 MiB local array
/// (four times the default goroutine stack) runs in `call` from goroutines, nested in another
/// `call`, and on a plain thread.
#[test]
fn big_rust_frame_in_the_closure() {
    fn big(i: usize) -> u8 {
        let mut a = [0u8; 1 << 20];
        a[i % a.len()] = i as u8;
        black_box(&mut a)[i % (1 << 20)]
    }
    bounded(60, || {
        gort::run(|| {
            let hs: Vec<_> = (0..20usize)
                .map(|i| gort::spawn(move || gort::ffi::call(|| big(i * 4099))))
                .collect();
            for (i, h) in hs.into_iter().enumerate() {
                assert_eq!(h.join().unwrap(), (i * 4099) as u8);
            }
            assert_eq!(gort::ffi::call(|| gort::ffi::call(|| big(7))), 7);
        });
        assert_eq!(gort::ffi::call(|| big(9)), 9);
    });
}

/// `call` returns f's value, runs f on the calling goroutine (current_id unchanged), and a panic
/// in f comes back out of `call` on the goroutine, which can go on calling C.
#[test]
fn value_identity_and_panic() {
    bounded(30, || {
        gort::run(|| {
            let me = gort::current_id();
            assert!(me.is_some());
            let inner = gort::ffi::call(gort::current_id);
            assert_eq!(inner, me);
            let r = std::panic::catch_unwind(|| gort::ffi::call(|| panic!("in ffi::call")));
            let msg = r.unwrap_err();
            assert_eq!(msg.downcast_ref::<&str>(), Some(&"in ffi::call"));
            // SAFETY: as above.
            let got = gort::ffi::call(|| unsafe { fft_big_frame(3) });
            assert_eq!(got, big_frame_expected(3));
        });
    });
}

/// On a plain thread `call` just calls f (the thread's own stack is large).
#[test]
fn plain_thread() {
    bounded(30, || {
        assert_eq!(gort::current_id(), None);
        // SAFETY: as above.
        let got = gort::ffi::call(|| unsafe { fft_big_frame(5) });
        assert_eq!(got, big_frame_expected(5));
    });
}
