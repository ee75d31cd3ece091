//! `block_on`: a future run to completion by the calling goroutine (or plain thread), which
//! parks between polls. This is the bridge from gort to async code: a library that only offers
//! futures is called from straight-line code, and the goroutine's processor runs other
//! goroutines meanwhile. Go has no futures: nothing in its runtime to follow here.
//!
//! The waker is one `Arc<Signal>` per `block_on` call; cloning, waking and dropping it afterwards
//! only touch its reference count and one atomic. The signal's state machine (tokio's
//! `CachedParkThread` protocol, on gort's park/ready):
//! - `EMPTY`: the goroutine is polling, or about to.
//! - `NOTIFIED`: woken since the last poll began. Set by every wake.
//! - `PARKED`: the goroutine is parked, waiting for a wake. Set only by the park commit, by CAS
//!   from `EMPTY`, so a wake that came during the poll cancels the park.
//!
//! A wake swaps in `NOTIFIED` and readies the goroutine only if it swapped out `PARKED`: exactly
//! one wake per park readies it, and a wake before the park is never lost. After each park the
//! goroutine swaps `EMPTY` back in (acquiring the waker's writes) and polls again.

use std::future::Future;
use std::pin::pin;
use std::ptr::null_mut;
use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, AtomicU8, Ordering::*};
use std::task::{Context, Poll, Wake, Waker};

use crate::rt::{G, WaitReason, park, ready};

const EMPTY: u8 = 0;
const NOTIFIED: u8 = 1;
const PARKED: u8 = 2;

/// What a `block_on` waker points at.
struct Signal {
    state: AtomicU8,
    /// The parked G; written by the park commit before it publishes `PARKED`.
    g: AtomicPtr<G>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.state.swap(NOTIFIED, AcqRel) == PARKED {
            // SAFETY: `PARKED` was published by the park commit of the G in `g`, which stays
            // parked until readied; this swap is the only one that saw it, so it is readied once.
            unsafe { ready(self.g.load(Relaxed)) };
        }
    }
}

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
    let signal = Arc::new(Signal {
        state: AtomicU8::new(EMPTY),
        g: AtomicPtr::new(null_mut()),
    });
    let waker = Waker::from(signal.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        park(WaitReason::Future, &mut |gp| {
            signal.g.store(gp, Relaxed);
            // Fails if a wake came during the poll: then the G does not park at all.
            signal
                .state
                .compare_exchange(EMPTY, PARKED, AcqRel, Acquire)
                .is_ok()
        });
        // Woken (or never parked): take the notification and poll again.
        signal.state.swap(EMPTY, AcqRel);
    }
}
