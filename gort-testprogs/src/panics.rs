//! Panics in goroutines.

use std::time::Duration;

/// A panic in a `go!` goroutine is reported by the panic hook and the program goes on.
pub fn go_panic_continues() {
    gort::run(|| {
        gort::go!(|| panic!("boom"));
        // Until the panicking goroutine is gone (bounded).
        for _ in 0..1000 {
            if gort::num_goroutines() == 1 {
                break;
            }
            gort::sleep(Duration::from_millis(10));
        }
        println!("still running");
    });
}

/// A `go!` goroutine panics with a payload whose Drop panics too: the runtime cannot let that
/// panic out of the goroutine, so it stops the program naming what happened.
pub fn payload_drop_panics() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("the payload's drop panics");
        }
    }
    gort::run(|| {
        gort::go!(|| std::panic::panic_any(Bomb));
        gort::sleep(Duration::from_secs(10));
    });
    println!("survived");
}

/// A named goroutine panics: the report names the goroutine, not the M's thread.
pub fn goroutine_named() {
    gort::run(|| {
        let h = gort::Builder::new()
            .name("worker".into())
            .spawn(|| panic!("boom in a goroutine"))
            .unwrap();
        assert!(h.join().is_err());
        let h = gort::spawn(|| panic!("unnamed"));
        assert!(h.join().is_err());
    });
    println!("survived");
}

/// A hook the user installed before the runtime started still runs, after gort's report.
pub fn user_hook_chained() {
    std::panic::set_hook(Box::new(|info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| p.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("?");
        eprintln!("user hook saw: {msg}");
    }));
    gort::run(|| {
        let h = gort::spawn(|| panic!("chained boom"));
        assert!(h.join().is_err());
    });
    std::thread::spawn(|| panic!("plain thread boom"))
        .join()
        .unwrap_err();
    println!("survived");
}

/// A channel too large to allocate: the panic names the caller's line, not gort's.
pub fn chan_too_large() {
    let _ = std::hint::black_box(gort::chan::<u64>(usize::MAX));
}
