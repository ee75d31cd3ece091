//! Futures that need tokio (hyper, reqwest, tonic, sqlx), run from goroutines.
//!
//! [`block_on`] polls the future on the calling goroutine, as [`crate::block_on`] does, inside
//! the context of one tokio runtime shared by the whole program: sockets and timers the future
//! creates register with that runtime, whose worker threads (`GORT_TOKIO_THREADS`, default 1)
//! drive the reactor and wake the goroutine. Between polls the goroutine parks and its processor
//! runs other goroutines, so a thousand goroutines waiting on HTTP responses hold no processor
//! and no thread of their own.
//!
//! The runtime starts on first use and lives until the process exits. Go has no counterpart
//! (its libraries are all goroutine-based); this is the bridge for Rust's async crates.

use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;

/// The shared runtime's worker count from `GORT_TOKIO_THREADS` (`var`): default 1.
fn threads(var: Option<&str>) -> usize {
    match var {
        None => 1,
        Some(v) => match v.trim().parse::<usize>() {
            Ok(n) if n >= 1 => n,
            _ => panic!("gort: GORT_TOKIO_THREADS must be a positive integer, not {v:?}"),
        },
    }
}

/// The shared tokio runtime, started on first use with `GORT_TOKIO_THREADS` workers (default
/// 1) and every driver tokio was built with (I/O, time).
///
/// # Panics
/// If `GORT_TOKIO_THREADS` is set to anything but a positive integer, or the runtime cannot
/// start (the message says why).
pub fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads(std::env::var("GORT_TOKIO_THREADS").ok().as_deref()))
            .thread_name("gort-tokio")
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("gort: cannot start the shared tokio runtime: {e}"))
    })
}

/// A handle to the shared runtime, to spawn tasks on it (`handle().spawn(fut)`).
pub fn handle() -> tokio::runtime::Handle {
    runtime().handle().clone()
}

/// Runs `f` to completion on the calling goroutine (or plain thread), polling it inside the
/// shared tokio runtime's context, and returns its output.
///
/// The goroutine parks between polls; its processor is not held. A future that needs the
/// runtime's context when it is *created* (`tokio::time::sleep`, `tokio::net::TcpStream`
/// constructors) is written inside an async block, so that it is created during a poll:
///
/// ```
/// # #[cfg(feature = "tokio")] {
/// use std::time::Duration;
/// let v = gort::run(|| {
///     gort::compat::tokio::block_on(async {
///         tokio::time::sleep(Duration::from_millis(1)).await;
///         7
///     })
/// });
/// assert_eq!(v, 7);
/// # }
/// ```
///
/// Within one poll the thread is inside the runtime's context; do not call blocking gort
/// functions from inside the future (they would park the goroutine mid-poll); await instead.
///
/// Called from a task of a multi-thread tokio runtime (the shared one included), `block_on`
/// first hands that worker's other tasks to another thread, as `tokio::task::block_in_place`
/// does, so the task may wait on futures the same runtime drives.
pub fn block_on<F: Future>(f: F) -> F::Output {
    let rt = runtime();
    let mut f = pin!(f);
    let run = move || {
        crate::block_on(std::future::poll_fn(move |cx| {
            let _context = rt.enter();
            f.as_mut().poll(cx)
        }))
    };
    if on_multi_thread_runtime() {
        tokio::task::block_in_place(run)
    } else {
        run()
    }
}

/// Whether the caller is inside a multi-thread tokio runtime's context: perhaps one of its
/// workers, even the shared runtime's own. Blocking such a worker could leave the future's
/// timers and sockets with no thread to drive them (the shared runtime has one worker by
/// default), so `block_on` hands the worker's duties over first (`block_in_place`, which just
/// runs its closure on a thread that is not a worker, a goroutine's included). A
/// current-thread runtime's thread cannot be handed over (tokio panics); it just blocks, which
/// is safe, since the shared runtime drives the future.
fn on_multi_thread_runtime() -> bool {
    use tokio::runtime::{Handle, RuntimeFlavor};
    Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

#[cfg(test)]
mod tests {
    use super::threads;

    #[test]
    fn thread_count_from_the_environment() {
        assert_eq!(threads(None), 1);
        assert_eq!(threads(Some("3")), 3);
        assert_eq!(threads(Some(" 2 ")), 2);
        for bad in ["0", "-1", "two", ""] {
            let msg = std::panic::catch_unwind(|| threads(Some(bad))).unwrap_err();
            let msg = msg.downcast_ref::<String>().unwrap();
            assert!(
                msg.contains("GORT_TOKIO_THREADS must be a positive integer"),
                "{msg}"
            );
        }
    }
}
