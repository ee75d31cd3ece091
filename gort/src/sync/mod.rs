//! Goroutine-aware synchronisation (Go's `sync` package, plus x/sync's weighted semaphore).
//!
//! Blocking here parks the goroutine, never its OS thread: the thread runs other goroutines
//! meanwhile. On a plain OS thread (one the runtime did not create) the same calls block the
//! thread, so one lock can be shared between goroutines and ordinary threads. A goroutine that is
//! unwinding blocks its thread instead of parking (ARCHITECTURE.md, decision "Thread-locals are not
//! stable across a park"), with its processor handed to another thread.
//!
//! # Layers
//! - `sema`: the address-keyed semaphore table (Go's runtime/sema.go). `Mutex` and `RwLock` wait
//!   in it; it parks through `rt::park` and never spins.
//! - `Mutex` / `RwLock` / `Once` (Go's mutex.go, rwmutex.go, once.go) over `mutex::RawMutex`.
//! - `Cond` (Go's cond.go over runtime's notifyList), `Semaphore` (x/sync/semaphore), and
//!   `WaitGroup`, which park through `rt::park` directly.
//!
//! # Fairness
//! `Mutex` follows Go: in normal mode a newly arriving goroutine may take the lock ahead of
//! parked waiters (throughput); a waiter that has waited more than 1 ms switches the mutex to
//! starvation mode, where the lock is handed to waiters in FIFO order. `RwLock` lets a waiting
//! writer exclude new readers. `Semaphore` and `Cond::notify_one` are FIFO.
//!
//! # Poisoning
//! None: a panic while a lock is held releases it, and a panicking `Once` initialiser counts as
//! done (Go's rule).
//!
//! # Lock order
//! The internal locks here (semaphore-table buckets, a `Cond`'s list, a `Semaphore`'s state) are
//! leaves: nothing is locked under them and nobody is readied while they are held.

mod cond;
mod mutex;
mod once;
mod rwlock;
mod sema;
mod semaphore;
mod waitgroup;

pub use cond::Cond;
pub use mutex::{Mutex, MutexGuard};
pub use once::Once;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use semaphore::Semaphore;
pub use waitgroup::WaitGroup;
