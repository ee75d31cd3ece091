//! The runtime's environment variables. Bad values warn once on stderr and fall back to the
//! defaults; the program still runs.

/// Prints `procs=<n>` and runs one goroutine (with the default stack size) to completion.
pub fn bad_env() {
    println!("procs={}", gort::procs());
    let v = gort::spawn(|| 6 * 7).join().expect("join");
    println!("joined={v}");
}
