//! `block_on`: a future run to completion by the calling goroutine (or plain thread), which
//! parks between polls. This is the bridge from gort to async code: a library that only offers
//! futures is called from straight-line code, and the goroutine's processor runs other
//! goroutines meanwhile. Go has no futures: nothing in its runtime to follow here.
//!
//! The waker is the runtime's own (`rt::Signal`): one per `block_on` call, whose wake readies the
//! parked goroutine; cloning, waking and dropping it afterwards only touch its reference count
//! and one atomic. The runtime may call it anywhere, even inside a park or a timer callback,
//! where a foreign waker's wake is handed to a goroutine instead (rt::waker).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll};

use crate::rt::Signal;

/// Runs `fut` to completion on the calling goroutine and returns its output.
///
/// Between polls the goroutine parks, and its processor runs other goroutines; the future's
/// waker readies it, from any thread, any number of times (a wake that comes before the
/// goroutine parks is not lost). On a plain thread, `block_on` blocks the thread the same way. A
/// goroutine locked to its thread (`lock_os_thread`) stays on it.
///
/// The future runs on this goroutine, so it needs no `Send` bound; it must not rely on an async
/// runtime's context (a tokio timer or socket) unless that runtime drives it from elsewhere.
///
/// ```
/// let v = gort::run(|| gort::block_on(async { 6 * 7 }));
/// assert_eq!(v, 42);
/// ```
pub fn block_on<F: Future>(fut: F) -> F::Output {
    let signal = Signal::new();
    let waker = signal.waker();
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        signal.wait();
    }
}
