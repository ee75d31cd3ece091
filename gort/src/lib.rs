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
//!   guard) across a blocking gort call; use [`lock_os_thread`] when you need the same thread.
//! - Blocking the thread without gort (std::fs, a blocking syscall, a long C call) holds up the
//!   processor until sysmon notices; wrap such calls in [`blocking`].
//! - The default stack limit is 256 KiB (`GORT_STACK_SIZE`, [`Builder::stack_size`]).

mod arch;
mod chan;
pub mod context;
pub mod ffi;
mod goroutine;
pub mod io;
pub mod net;
mod rt;
pub mod runtime;
mod select;
mod stack;
pub mod sync;
mod sys;
pub mod time;
mod util;

pub use chan::{
    IntoIter, Iter, Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryIter,
    TryRecvError, TrySendError, chan, never,
};
pub use goroutine::{
    __private, Builder, GoroutineId, JoinHandle, Scope, ScopedJoinHandle, blocking, current_id, go,
    lock_os_thread, num_goroutines, procs, run, scope, set_procs, sleep, spawn, unlock_os_thread,
    yield_now,
};
pub use gort_macros::{main, select, test};
pub use select::{Select, SelectedOperation};
pub use time::{after, tick};
