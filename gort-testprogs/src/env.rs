//! The runtime's environment variables. Bad values warn once on stderr and fall back to the
//! defaults; the program still runs.

/// Prints `procs=<n>` and runs one goroutine (with the default stack size) to completion.
pub fn bad_env() {
    println!("procs={}", gort::procs());
    let v = gort::spawn(|| 6 * 7).join().expect("join");
    println!("joined={v}");
}

/// Forks after the runtime started; the child uses the runtime on its main thread and must
/// fail with a clear message, not wait for ever for threads fork did not copy. Prints the
/// child's exit status. (A goroutine that lives on in a child ends it with the same message
/// when its M would sleep, but only if no lock was held by another thread at the fork, which
/// no test can arrange: in a forked child of a threaded process, that is the rule.)
pub fn fork_after_start() {
    gort::run(|| gort::sleep(std::time::Duration::from_millis(5)));
    // SAFETY: fork; the child only runs the code below and exits.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        let _ = gort::run(|| 1);
        // SAFETY: leaving the child without running the parent's exit handlers.
        unsafe { libc::_exit(0) };
    }
    println!("main-thread child: {}", wait(pid));
}

/// `pid`'s exit, as `exit N` or `signal N`.
fn wait(pid: libc::pid_t) -> String {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) {
        format!("exit {}", libc::WEXITSTATUS(status))
    } else {
        format!("signal {}", libc::WTERMSIG(status))
    }
}
