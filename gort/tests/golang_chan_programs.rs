//! Go's classic channel programs (golang/go `test/chan/*.go`), translated to gort.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each module names the Go file it comes from.
//!
//! Where a Go program relies on the process exiting to get rid of goroutines blocked forever, the
//! Rust version lets them end instead: a send fails once every Receiver is dropped and a receive
//! returns `None` once every Sender is dropped, so a pipeline winds down when the test drops its
//! end. A Go `nil` channel in a receive arm is `gort::never()`; Go's panics on a closed channel
//! are gort's `Err(SendError(v))`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use gort_test_support::{go_test, scaled};

/// Counts the bytes live in the global allocator, for select2's footprint check.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments and only adds
// bookkeeping, so `System`'s guarantees carry over.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (that is, System) returned.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's block came from System with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// select2 measures the allocator, so it runs alone; every other test shares this lock.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}

const PRIMES: [i64; 25] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// test/chan/sieve1.go: a linear chain of divisibility filters.
#[path = "golang_programs/sieve1.rs"]
mod sieve1;

/// test/chan/sieve2.go: an Eratosthenes sieve over odd candidates, merging the multiples of
/// every prime found through a heap of channels, with a send proxy that buffers without bound.
#[path = "golang_programs/sieve2.rs"]
mod sieve2;

/// test/chan/powser1.go: power series as demand-driven channels of rationals (Doug McIlroy's
/// "Squinting at Power Series"). A denominator of zero marks the end of a series.
///
/// A Go `*dch` is shared by its reader and its writer; here each end is its own type (`Ps` for
/// the reader, `PsOut` for the writer) so a dropped reader is seen by the writer. The network
/// of goroutines contains cycles (Exp feeds its own output back), which dropping alone cannot
/// unwind, so every channel operation also watches a `quit` channel that the test closes at the
/// end: the goroutines Go leaves blocked at exit end here.
#[path = "golang_programs/powser1.rs"]
mod powser1;

/// test/chan/doubleselect.go: two cases of one select must never both run.
#[path = "golang_programs/doubleselect.rs"]
mod doubleselect;

/// test/chan/fifo.go: unbuffered channels act as pure FIFOs.
#[path = "golang_programs/fifo.rs"]
mod fifo;

/// test/chan/goroutines.go: make a lot of goroutines, threaded together, and tear them down
/// cleanly.
#[path = "golang_programs/goroutines.rs"]
mod goroutines;

/// test/chan/nonblock.go: non-blocking channel operations on several sizes and types of
/// operands. Go's non-blocking `select` with `default` is `select!` with `default`.
#[path = "golang_programs/nonblock.rs"]
mod nonblock;

/// test/chan/select.go: send values are evaluated on every select, including those of cases
/// that are not chosen and of disabled (nil) channels.
#[path = "golang_programs/select.rs"]
mod select;

/// test/chan/select2.go: 100,000 selects must not grow the memory footprint.
#[path = "golang_programs/select2.rs"]
mod select2;

/// test/chan/select3.go: the semantics of select for basic empty/non-empty cases.
#[path = "golang_programs/select3.rs"]
mod select3;

/// test/chan/select4.go: the destination of a receive case that is not chosen is not
/// evaluated.
#[path = "golang_programs/select4.rs"]
mod select4;

/// test/chan/select5.go: every combination of ready and not-ready send and receive cases,
/// with and without `default` before or after them, and the order in which the channel and
/// value expressions of the cases are evaluated.
///
/// Go generates one function per combination and runs the generated program. Here the same
/// enumeration (choose/maybe/next) drives the combinations at run time: once through
/// `gort::Select`, whose cases are added only when chosen, and once through `select!`, where an
/// absent case is one that can never proceed and `default` sits in one of three static shapes.
#[path = "golang_programs/select5.rs"]
mod select5;

/// test/chan/select6.go: Go issue 2075. A bug in select corrupted channel queues of failed cases
/// if there were multiple waiters on those channels and the select was the last in the queue.
/// If further waits were made on the channel without draining it first then those waiters
/// never woke up. In the code below c1 is such a channel.
#[path = "golang_programs/select6.rs"]
mod select6;

/// test/chan/select7.go: select when discarding a value.
#[path = "golang_programs/select7.rs"]
mod select7;

/// test/chan/select8.go: break statements in a select (gccgo had a bug in handling this), for
/// 1-, 2- and 3-case selects. In Rust, `break`, `continue` and `return` in a case body act on
/// the enclosing loop or function.
#[path = "golang_programs/select8.rs"]
mod select8;

/// test/chan/sendstmt.go: parsing cases that differ now that send is a statement.
#[path = "golang_programs/sendstmt.rs"]
mod sendstmt;

/// test/chan/zerosize.go: channels of a zero-sized type.
#[path = "golang_programs/zerosize.rs"]
mod zerosize;
