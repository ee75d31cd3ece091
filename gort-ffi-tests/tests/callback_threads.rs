//! `gort::ffi::callback` from threads a C library creates: every value arrives, the threads exit
//! cleanly, and the extra Ms that bind them are pooled and reused. Its own test binary, and the
//! tests serialize (`gort_test_support::serial`), because they count the process-global extra Ms.

use std::ffi::c_void;
use std::sync::atomic::{AtomicI64, Ordering::Relaxed};

use gort_ffi_tests::{fft_on_pthread, fft_threads_callback};
use gort_test_support::{bounded, serial};

fn extra_ms() -> usize {
    gort::runtime::stats().extra_threads
}

/// The `extern "C"` callback the C threads call: sends `v` on the channel `arg` points to.
extern "C" fn send_cb(arg: *mut c_void, v: i64) {
    // SAFETY: `arg` is the `&gort::Sender<i64>` given to fft_threads_callback, which joins every
    // thread before returning, so the sender outlives every call.
    let tx = unsafe { &*(arg as *const gort::Sender<i64>) };
    gort::ffi::callback(|| {
        assert!(gort::current_id().is_some());
        tx.send(v).expect("the channel is open");
    });
}

/// One batch: `threads` C pthreads × `iters` callbacks each, read by 4 goroutines; checks the
/// count and the sum.
fn batch(threads: i32, iters: i64) {
    let (tx, rx) = gort::chan::<i64>(64);
    let sum = std::sync::Arc::new(AtomicI64::new(0));
    let count = std::sync::Arc::new(AtomicI64::new(0));
    let wg = gort::sync::WaitGroup::new();
    for _ in 0..4 {
        wg.add(1);
        let (rx, sum, count, wg) = (rx.clone(), sum.clone(), count.clone(), wg.clone());
        gort::go(move || {
            while let Some(v) = rx.recv() {
                sum.fetch_add(v, Relaxed);
                count.fetch_add(1, Relaxed);
            }
            wg.done();
        });
    }
    let mut done = 0i64;
    let arg = &tx as *const gort::Sender<i64> as *mut c_void;
    // SAFETY: `arg` points to `tx`, alive until the call returns (it joins its threads first);
    // `send_cb` matches the callback type; `done` is a valid i64.
    let rc = gort::ffi::call(|| unsafe {
        fft_threads_callback(threads, iters, send_cb, arg, &mut done)
    });
    assert_eq!(rc, 0, "pthread_create/pthread_join failed");
    let n = i64::from(threads) * iters;
    assert_eq!(done, n, "callbacks that returned to C");
    tx.close();
    wg.wait();
    assert_eq!(count.load(Relaxed), n, "values received");
    assert_eq!(sum.load(Relaxed), n * (n - 1) / 2, "sum of the values");
}

/// 8 pthreads × 10,000 callbacks, twice: every value arrives, the threads are joined, the first
/// batch binds at most 8 new extra Ms, and the second (new threads, after the first ones exited)
/// reuses the pooled ones and creates none.
#[test]
fn eight_pthreads_send_on_a_channel_and_reuse_extra_ms() {
    let _g = serial();
    bounded(60, || {
        gort::run(|| {
            let before = extra_ms();
            batch(8, 10_000);
            let first = extra_ms();
            assert!(
                first - before <= 8,
                "the first batch of 8 threads created {} extra Ms",
                first - before
            );
            batch(8, 10_000);
            let second = extra_ms();
            assert_eq!(
                second, first,
                "the second batch of 8 threads created extra Ms instead of reusing the pooled ones"
            );
        });
    });
}

extern "C" fn blocking_cb(arg: *mut c_void, x: i64) -> i64 {
    // SAFETY: `arg` is the `&gort::Receiver<i64>` the test passes; it outlives the thread.
    let rx = unsafe { &*(arg as *const gort::Receiver<i64>) };
    let mut acc = x;
    for _ in 0..3 {
        acc += gort::ffi::callback(|| {
            gort::sleep(std::time::Duration::from_millis(1));
            rx.recv().expect("a value")
        });
    }
    acc
}

/// Threads that exit after callbacks (still bound to their extra M between callbacks) are
/// unbound cleanly: one thread after another, each blocking in its callbacks, all reuse one M.
#[test]
fn exiting_threads_are_unbound_and_their_m_reused() {
    let _g = serial();
    bounded(30, || {
        let (tx, rx) = gort::chan::<i64>(0);
        gort::go(move || {
            for v in 0..30 {
                tx.send(v).unwrap();
            }
        });
        let arg = &rx as *const gort::Receiver<i64> as *mut c_void;
        let mut after_first = None;
        let mut total = 0;
        for t in 0..10 {
            let mut out = 0;
            // SAFETY: `arg` points to `rx`, alive until the joined thread is done; `out` is valid.
            let rc = unsafe { fft_on_pthread(blocking_cb, arg, 1000 * t, &mut out) };
            assert_eq!(rc, 0, "pthread_create/pthread_join failed");
            total += out - 1000 * t;
            let now = extra_ms();
            match after_first {
                None => after_first = Some(now),
                Some(n) => assert_eq!(now, n, "thread {t} did not reuse the exited threads' M"),
            }
        }
        assert_eq!(total, (0..30).sum::<i64>());
        // The callback goroutines are gone (and the sender is finishing).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while gort::runtime::stats().goroutines != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "goroutines left behind: {}",
                gort::runtime::stats().goroutines
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    });
}

/// A thread-local destructor of a thread that made callbacks before (so its extra M was just
/// given back) can still call back, as a C library's thread-exit cleanup may: the callback binds
/// an M for itself, runs as a goroutine (here it sleeps and receives), and gives the M back.
#[test]
fn a_callback_from_a_thread_local_destructor_after_earlier_callbacks() {
    struct AtExit(gort::Sender<i64>);
    impl Drop for AtExit {
        fn drop(&mut self) {
            let v = gort::ffi::callback(|| {
                gort::sleep(std::time::Duration::from_millis(1));
                assert!(gort::current_id().is_some());
                7
            });
            self.0.send(v).unwrap();
        }
    }
    thread_local! {
        static AT_EXIT: std::cell::RefCell<Option<AtExit>> = const { std::cell::RefCell::new(None) };
    }
    let _g = serial();
    bounded(30, || {
        let (tx, rx) = gort::chan::<i64>(1);
        let before = extra_ms();
        for _ in 0..3 {
            let tx = tx.clone();
            std::thread::spawn(move || {
                AT_EXIT.with(|a| *a.borrow_mut() = Some(AtExit(tx)));
                assert_eq!(gort::ffi::callback(|| 1), 1);
            })
            .join()
            .unwrap();
            assert_eq!(rx.recv(), Some(7));
        }
        assert!(extra_ms() <= before + 1, "the extra Ms were not reused");
    });
}

/// Set by the goroutine a spinning callback waits for.
static SPIN_FLAG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// A callback that spins, without calling the runtime, until `SPIN_FLAG` is set; returns the ms
/// it spun, or -1 after 5 s.
extern "C" fn spin_cb(_arg: *mut c_void, _x: i64) -> i64 {
    gort::ffi::callback(|| {
        let t0 = std::time::Instant::now();
        while !SPIN_FLAG.load(std::sync::atomic::Ordering::Acquire) {
            if t0.elapsed() > std::time::Duration::from_secs(5) {
                return -1;
            }
            std::hint::spin_loop();
        }
        t0.elapsed().as_millis() as i64
    })
}

/// A callback on a C thread is a goroutine like any other: one that runs a whole time slice
/// without calling the runtime loses its processor, so at procs 1 the goroutine it waits for
/// runs (the liveness rule for hogs, here for a callback).
#[test]
fn a_spinning_callback_loses_its_processor_as_a_hog_does() {
    // Serialised with the other tests by `with_procs`.
    gort_test_support::with_procs(1, 60, || {
        SPIN_FLAG.store(false, Relaxed);
        let setter = gort::spawn(|| {
            gort::sleep(std::time::Duration::from_millis(20));
            SPIN_FLAG.store(true, std::sync::atomic::Ordering::Release);
        });
        let mut spun = 0;
        // SAFETY: `spin_cb` matches the callback type and ignores its argument; `spun` is valid
        // until the joined thread is done.
        let rc = gort::ffi::call(|| unsafe {
            fft_on_pthread(spin_cb, std::ptr::null_mut(), 0, &mut spun)
        });
        assert_eq!(rc, 0, "pthread_create/pthread_join failed");
        assert!(
            spun >= 0,
            "the callback spun 5 s: the goroutine that sets its flag never ran"
        );
        setter.join().unwrap();
        // The thread's M gave its P back when the callback returned: goroutines run on.
        gort::sleep(std::time::Duration::from_millis(1));
    });
}
