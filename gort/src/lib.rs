//! gort: Go's concurrency model for Rust, without async.
//!
//! Goroutines that cost a page of memory, on a work-stealing M:N scheduler ported from Go's
//! runtime. Write straight-line blocking code; a blocking gort call parks the goroutine, not the
//! OS thread.
//!
//! ```
//! let h = gort::spawn(|| 6 * 7);
//! assert_eq!(h.join().unwrap(), 42);
//! ```
//!
//! # Guarantees
//! - Stacks never move; each has a 64 KiB guard region and overflow is always reported
//!   (`fatal error: goroutine N stack overflow`), never silent corruption.
//! - No code is interrupted mid-instruction: a goroutine yields at gort calls. A goroutine that
//!   never calls gort keeps its thread, and the runtime moves the other goroutines elsewhere.
//! - Every blocking call works in a goroutine (parks it), on a plain thread (blocks it), and
//!   before the runtime started (starts it).
//!
//! # Caveats
//! - A goroutine may resume on another OS thread after any blocking gort call. Do not hold a
//!   `thread_local!` borrow (or anything derived from thread identity, such as a reentrant lock
//!   guard) across a blocking gort call; use [`lock_os_thread`] when you need the same thread,
//!   or [`goroutine_local!`] for state that should follow the goroutine instead of the thread.
//! - Async code: [`block_on`] runs a future on the current goroutine (parking between polls, so
//!   the processor runs others meanwhile); async code awaits a [`JoinHandle`] (`IntoFuture`)
//!   and channels ([`Receiver::recv_async`], [`Sender::send_async`]). With feature `tokio`,
//!   `compat::tokio::block_on` runs futures that need tokio's reactor (hyper, reqwest).
//! - `tracing`: a span entered with `span.enter()` and held across a blocking gort call is
//!   exited on another thread, and stays current on the first one for whatever runs there
//!   next. With feature `tracing`, run the goroutine inside the span instead: `instrument(span,
//!   || ..)` or `Builder::span`, which enter the span whenever the goroutine runs and exit it
//!   whenever it switches out. Without the feature, `span.in_scope(..)` around code that does
//!   not block is safe.
//! - Blocking the thread without gort (std::fs, a blocking syscall, a long C call) holds up the
//!   processor until sysmon notices; wrap such calls in [`blocking`].
//! - The default stack limit is 256 KiB (`GORT_STACK_SIZE`, [`Builder::stack_size`]).
//!
//! # `select!`
//!
//! [`select!`] waits on several channel operations at once and runs the arm of the one that
//! completes, with Go's semantics: if several are ready, one is chosen uniformly at random; if
//! none is and there is a `default` arm, that arm runs at once; otherwise the goroutine parks
//! until one can proceed.
//!
//! ```text
//! select! {
//!     recv(RECEIVER) -> PATTERN => BODY,        // PATTERN binds Option<T>: None once closed
//!     send(SENDER, VALUE) -> PATTERN => BODY,   // PATTERN binds Result<(), SendError<T>>
//!     default => BODY,                          // optional, at most once
//! }
//! ```
//!
//! - There may be any number of `recv` and `send` arms, in any order, on the same or different
//!   channels (the same channel may appear in several arms). `select! {}`, with no arms at
//!   all, blocks for ever, as Go's `select {}` does.
//! - `RECEIVER` and `SENDER` are expressions of type `Receiver<T>` / `Sender<T>` or references
//!   to them; each is evaluated once, before anything blocks, as is every `VALUE` (in arm
//!   order, as Go does). A `VALUE` whose arm is not chosen is dropped.
//! - Every `recv` and `send` arm names its result with `-> PATTERN` (`_` to ignore it).
//! - `BODY` is an expression; as in `match`, the comma after it is optional when it is a block.
//!   Bodies may `break`, `continue` or `return` out of the enclosing loop or function.
//! - A receive from a closed channel completes at once with `None`; a send on a closed channel
//!   completes at once with `Err(SendError(value))`, giving the value back.
//! - Timeouts are receive arms on timer channels: `recv(gort::after(d)) -> _ => ...`.
//!   [`never()`] gives a receiver that never completes, to switch an arm off.
//!
//! ```
//! use std::time::Duration;
//!
//! let (tx, rx) = gort::chan::<u32>(1);
//! let (done_tx, done_rx) = gort::chan::<()>(0);
//! gort::go!(move || {
//!     for i in 0..3 {
//!         tx.send(i).unwrap();
//!     }
//!     drop(done_tx);
//! });
//! let mut got = Vec::new();
//! loop {
//!     gort::select! {
//!         recv(rx) -> v => if let Some(v) = v { got.push(v) },
//!         recv(done_rx) -> _ => break,
//!         recv(gort::after(Duration::from_secs(5))) -> _ => panic!("timed out"),
//!     }
//! }
//! while let Ok(v) = rx.try_recv() {
//!     got.push(v);
//! }
//! assert_eq!(got, [0, 1, 2]);
//! ```
//!
//! For a number of cases known only at run time, use [`Select`].

#![warn(missing_docs)]

mod arch;
mod chan;
pub mod compat;
pub mod context;
pub mod ffi;
pub mod fs;
mod future;
mod goroutine;
pub mod io;
mod local;
pub mod net;
pub mod process;
mod rt;
pub mod runtime;
mod select;
pub mod signal;
#[cfg(feature = "tracing")]
mod span;
mod stack;
pub mod sync;
mod sys;
pub mod time;
mod util;
mod wait;

pub use chan::{
    IntoIter, Iter, Receiver, RecvFuture, RecvTimeoutError, SendError, SendFuture,
    SendTimeoutError, Sender, TryIter, TryRecvError, TrySendError, chan, never,
};
pub use future::block_on;
pub use goroutine::{
    __private, Builder, GoroutineId, JoinFuture, JoinHandle, Scope, ScopedJoinHandle, blocking,
    current_id, go, lock_os_thread, num_goroutines, procs, run, scope, set_procs, spawn,
    unlock_os_thread, yield_now,
};
pub use gort_macros::{main, select, test};
pub use local::GoroutineLocal;
pub use select::{Select, SelectedOperation};
#[cfg(feature = "tracing")]
pub use span::instrument;
pub use time::{after, sleep, tick};
