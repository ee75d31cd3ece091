//! Start-up and configuration: the runtime starts lazily, on the first gort call from any
//! thread, reading GOMAXPROCS and GORT_STACK_SIZE, probing the stack mechanism, creating the Ps
//! and starting sysmon (Go's `schedinit` and `main` in proc.go, which do this before `main.main`;
//! here it happens lazily, so a library user never calls an init function). M threads start on
//! demand.

use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering::*};

use super::{dump, hog, procs, schedtrace, sysmon};

static START: Once = Once::new();
/// nanotime when the runtime started (for schedtrace).
pub(crate) static START_NANOS: AtomicI64 = AtomicI64::new(0);
static STARTED: AtomicBool = AtomicBool::new(false);
/// Set in a child process forked after the runtime started (`pthread_atfork`).
static FORKED: AtomicBool = AtomicBool::new(false);

/// Why the runtime refuses to run in a forked child.
const AFTER_FORK: &str = "gort: the runtime cannot be used in a process forked after it \
     started: only the thread that called fork() lives on in the child, and the runtime's \
     threads do not; have the child exec a program (std::process::Command and \
     gort::process::Command do)";

/// In the child of a `fork()`: the runtime's threads are gone, so any later use would wait for
/// them for ever. Clearing `STARTED` sends every entry point to `ensure_started`'s slow path,
/// which says so instead (Go does not support fork without exec either).
extern "C" fn after_fork_in_child() {
    FORKED.store(true, Relaxed);
    STARTED.store(false, Relaxed);
}

/// Ends the process with `AFTER_FORK` if this is a forked child (an M of the parent that
/// lives on in the child, about to wait for work that no thread will bring).
pub(crate) fn check_not_forked() {
    if FORKED.load(Relaxed) {
        crate::util::fatal::fatal_str(AFTER_FORK);
    }
}
/// GOMAXPROCS requested before start (by `#[gort::main(procs = N)]`), 0 if none.
static REQUESTED_PROCS: AtomicUsize = AtomicUsize::new(0);

/// Starts the runtime if it is not running yet. Cheap after the first call.
pub(crate) fn ensure_started() {
    if STARTED.load(Acquire) {
        return;
    }
    if FORKED.load(Relaxed) {
        panic!("{AFTER_FORK}");
    }
    START.call_once(|| {
        // SAFETY: registers a handler that only stores to two atomics (async-signal-safe, as a
        // fork handler in a multithreaded process must be).
        unsafe { libc::pthread_atfork(None, None, Some(after_fork_in_child)) };
        START_NANOS.store(crate::sys::nanotime(), Relaxed);
        schedtrace::read_env();
        super::traceback::read_env();
        crate::stack::overflow::install();
        dump::install_sigquit();
        super::panics::install();
        hog::init();
        crate::sys::membarrier::init();
        crate::stack::config();
        crate::stack::pool::init(default_stack_size());
        let req = REQUESTED_PROCS.load(Relaxed);
        procs::set_procs(if req > 0 { req } else { default_procs() });
        sysmon::start();
        STARTED.store(true, Release);
        super::trace_file::start_from_env();
    });
}

/// Records the GOMAXPROCS wanted by `#[gort::main(procs = N)]`; applies it if already started.
pub(crate) fn request_procs(n: usize) {
    if STARTED.load(Acquire) {
        procs::set_procs(n);
    } else {
        REQUESTED_PROCS.store(n, Relaxed);
        ensure_started();
    }
}

pub(crate) fn warn(msg: &str) {
    crate::util::write_stderr(format!("gort: warning: {msg}\n").as_bytes());
}

/// GOMAXPROCS from the environment, else the available parallelism.
fn default_procs() -> usize {
    let ncpu = crate::util::ncpu();
    match std::env::var("GOMAXPROCS") {
        // Set but empty is unset, as in Go.
        Ok(v) if v.trim().is_empty() => ncpu,
        Ok(v) => match v.trim().parse::<usize>() {
            Ok(n) if n > procs::MAX_PROCS => {
                warn(&format!(
                    "GOMAXPROCS={n} is above gort's limit of {} processors; using {}",
                    procs::MAX_PROCS,
                    procs::MAX_PROCS
                ));
                procs::MAX_PROCS
            }
            Ok(n) if n >= 1 => n,
            _ => {
                warn(&format!(
                    "GOMAXPROCS={v:?} is not a positive integer; using {ncpu}"
                ));
                ncpu
            }
        },
        Err(_) => ncpu,
    }
}

/// The default goroutine stack limit: GORT_STACK_SIZE (bytes, optional k/m/g suffix) or 256 KiB.
fn default_stack_size() -> usize {
    let default = crate::stack::DEFAULT_STACK;
    let Ok(v) = std::env::var("GORT_STACK_SIZE") else {
        return default;
    };
    if v.trim().is_empty() {
        return default;
    }
    match parse_size(&v) {
        Some(n) if n > crate::stack::MAX_STACK => {
            warn(&format!(
                "GORT_STACK_SIZE={v:?} is above the maximum of {} bytes; using the maximum",
                crate::stack::MAX_STACK
            ));
            crate::stack::MAX_STACK
        }
        Some(n) if n > 0 => crate::stack::normalize(n),
        _ => {
            warn(&format!(
                "GORT_STACK_SIZE={v:?} is not a positive size in bytes (suffixes k, m, g allowed); \
                 using {default}"
            ));
            default
        }
    }
}

fn parse_size(s: &str) -> Option<usize> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1usize << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    num.trim().parse::<usize>().ok()?.checked_mul(mul)
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_parse() {
        assert_eq!(super::parse_size("4096"), Some(4096));
        assert_eq!(super::parse_size("64k"), Some(64 << 10));
        assert_eq!(super::parse_size("2M"), Some(2 << 20));
        assert_eq!(super::parse_size("x"), None);
        assert_eq!(super::parse_size(""), None);
    }
}
