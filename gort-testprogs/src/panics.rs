//! Panics in goroutines.

use std::time::Duration;

/// A panic in a `go!` goroutine is reported by the panic hook and the program goes on.
pub fn go_panic_continues() {
    gort::run(|| {
        gort::go!(|| panic!("boom"));
        gort::sleep(Duration::from_millis(50));
        println!("still running");
    });
}
