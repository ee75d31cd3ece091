//! `fatal!`: an internal invariant is broken (Go's `throw`). Prints `fatal error: ...` with
//! write(2) and aborts. User mistakes panic or return errors; the one the program can make with
//! no caller to return an error to, running out of threads, ends in `fatal_exit`: the same
//! report, then exit status 2, as Go's `fatal` ends (an abort only under GORT_TRACEBACK=crash).
//!
//! Also holds the async-signal-safe output helpers the signal handlers use: no allocation, no
//! locks, no formatting machinery; and the two ways a panic is kept from unwinding through the
//! runtime: `AbortOnUnwind` (our own code) and `contain_panic` (code the runtime calls but does
//! not own).

/// Writes `bytes` to fd 2, retrying on partial writes. Async-signal-safe.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid readable slice for its whole length.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Formats `v` in decimal into `buf` and returns the digits. Async-signal-safe.
pub(crate) fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// `v` in lower-case hexadecimal, formatted into `buf` (async-signal-safe).
pub(crate) fn fmt_hex(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(v % 16) as usize];
        v /= 16;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// The kernel id of the thread reporting a fatal error, or 0.
static REPORTER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

/// Makes the calling thread the one that reports a fatal error (Go's `startpanic_m`): two
/// reports written at once interleave piece by piece. While another thread reports, the caller
/// waits for the process to end; the reporting thread itself may call again (a fault inside
/// its own report), and its second report ends the process. The wait is bounded (about 5 s):
/// a report takes locks (a dump's, std's backtrace lock) that the waiting thread may hold, and
/// a wait for ever would turn a crash into a hang; past it the caller reports anyway.
/// Async-signal-safe.
pub(crate) fn claim_report() {
    use std::sync::atomic::Ordering::{AcqRel, Acquire};
    // SAFETY: gettid has no preconditions.
    let me = unsafe { libc::gettid() };
    if REPORTER.compare_exchange(0, me, AcqRel, Acquire).is_ok() {
        return;
    }
    let step = libc::timespec {
        tv_sec: 0,
        tv_nsec: 50_000_000,
    };
    for _ in 0..100 {
        if REPORTER.load(Acquire) == me {
            return;
        }
        // SAFETY: nanosleep is async-signal-safe; `step` is a valid timespec.
        unsafe { libc::nanosleep(&step, std::ptr::null_mut()) };
    }
}

/// What runs after a fatal error's message, before the abort (the runtime's dump of every
/// goroutine, under GORT_TRACEBACK=all or crash), or null.
static ON_FATAL: std::sync::atomic::AtomicPtr<()> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Sets what runs after a fatal error's message.
pub(crate) fn set_on_fatal(f: fn()) {
    ON_FATAL.store(f as *mut (), std::sync::atomic::Ordering::Release);
}

/// Whether `fatal_exit` aborts rather than exiting with status 2 (GORT_TRACEBACK=crash).
static CRASH: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes `fatal_exit` abort (GORT_TRACEBACK=crash).
pub(crate) fn set_crash() {
    CRASH.store(true, std::sync::atomic::Ordering::Release);
}

/// Prints `fatal error: <msg>` and aborts the process. Never unwinds.
#[cold]
pub(crate) fn fatal_str(msg: &str) -> ! {
    report(msg);
    std::process::abort()
}

/// Prints `fatal error: <msg>` for an error the program caused (not a broken invariant) and
/// exits with status 2, as Go does; aborts under GORT_TRACEBACK=crash. Never unwinds.
#[cold]
pub(crate) fn fatal_exit(msg: &str) -> ! {
    report(msg);
    if CRASH.load(std::sync::atomic::Ordering::Acquire) {
        std::process::abort();
    }
    // SAFETY: _exit ends the process at once, as Go's exit(2) after a fatal error; it runs no
    // destructor or atexit handler that could wait on the thread that failed.
    unsafe { libc::_exit(2) }
}

/// The report both kinds of fatal error make.
fn report(msg: &str) {
    claim_report();
    write_stderr(b"fatal error: ");
    write_stderr(msg.as_bytes());
    write_stderr(b"\n");
    let f = ON_FATAL.swap(std::ptr::null_mut(), std::sync::atomic::Ordering::AcqRel);
    if !f.is_null() {
        // SAFETY: only `set_on_fatal` stores here, from a `fn()`; swapped out so that a fatal
        // error inside it does not run it again.
        let f: fn() = unsafe { std::mem::transmute::<*mut (), fn()>(f) };
        f();
    }
}

/// Aborts with `fatal error: panic on the scheduler stack (<what>)` if dropped while unwinding:
/// a panic must never unwind through the scheduler loop, a park commit or sysmon, where it
/// would kill an M that holds a P (and perhaps a channel lock), leaving the program hung (Go's
/// throw("panic on system stack")). Forget it after the guarded code when that code returns.
pub(crate) struct AbortOnUnwind(pub(crate) &'static str);

impl Drop for AbortOnUnwind {
    fn drop(&mut self) {
        fatal_str(&format!(
            "panic on the scheduler stack ({}); the panic message is above",
            self.0
        ))
    }
}

/// Runs `f`, code the runtime calls but does not own (a task's waker, a tracing subscriber),
/// and stops a panic in it here: the panic hook has already reported it, and it must not unwind
/// through the channel operation or switch that called `f`. The payload is leaked, since its
/// own drop could panic.
pub(crate) fn contain_panic(f: impl FnOnce()) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        std::mem::forget(payload);
    }
}

/// Go's `throw`: an internal invariant is broken; print and abort.
macro_rules! fatal {
    ($($arg:tt)*) => {
        $crate::util::fatal::fatal_str(&format!($($arg)*))
    };
}
pub(crate) use fatal;
