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
