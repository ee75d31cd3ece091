//! The dynamic `Select` (a run-time number of cases), with crossbeam-channel's shape and
//! guarantee: `select` picks an operation and *reserves* it, and the caller completes it through
//! `SelectedOperation` without blocking.
//!
//! - A receive case is a real receive: the value moves into the `Select`'s scratch buffer (one
//!   buffer serves every receive case, since exactly one case fires) and from there into the
//!   `SelectedOperation`, which hands it out in `recv`.
//! - A send case has no value yet. When it can proceed, the select core reserves it under the
//!   channel lock (`RawChan::reserve_send_locked`): a waiting receiver is dequeued and stays
//!   parked until `send` delivers, or a buffer slot is kept free. A blocked send case is woken
//!   by a receiver and then reserves; if another goroutine took the chance first it waits again.
//!   Two `Select`s on opposite ends of an unbuffered channel therefore meet: the receiving one
//!   blocks with a destination, and the sending one reserves it.
//!
//! Dropping a `SelectedOperation` unused gives the reservation back (the reserved receiver tries
//! again, a kept slot goes to a waiting sender, a received value is dropped) and then panics, as
//! crossbeam-channel does: the program lost an operation it had committed to.

use std::alloc::Layout;
use std::mem::MaybeUninit;
use std::time::Duration;

use super::{Case, CaseResult, Mode, select};
use crate::chan::raw::{FreeOnDrop, RawChan};
use crate::chan::{Receiver, SendError, Sender};
use crate::sys::deadline_after;
use crate::wait::{Reservation, Status};

/// What a case needs beyond its `Case`.
#[derive(Clone, Copy)]
enum Kind {
    /// A receive of a `T` with this layout, dropped with `drop`.
    Recv {
        layout: Layout,
        drop: unsafe fn(*mut u8),
    },
    Send,
}

/// Selects over a set of channel operations known only at run time.
///
/// ```
/// let (tx, rx) = gort::chan::<i32>(1);
/// tx.send(7).unwrap();
/// let mut sel = gort::Select::new();
/// let i = sel.recv(&rx);
/// let op = sel.select();
/// assert_eq!(op.index(), i);
/// assert_eq!(op.recv(&rx), Some(7));
/// ```
pub struct Select<'a> {
    cases: Vec<Case<'a, RawChan>>,
    kinds: Vec<Kind>,
    /// Scratch space for the value of whichever receive case fires: as large and as aligned as
    /// the largest receive case needs.
    buf: Scratch,
    /// Outcome of the receive case that fired (`Case::result`).
    status: CaseResult,
    /// The reservation of the send case that fired (`Case::reserve`).
    reserved: Reservation,
}

impl Default for Select<'_> {
    fn default() -> Self {
        Select::new()
    }
}

impl std::fmt::Debug for Select<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish()
    }
}

impl<'a> Select<'a> {
    /// An empty select; add operations with `recv` and `send`.
    pub fn new() -> Select<'a> {
        Select {
            cases: Vec::new(),
            kinds: Vec::new(),
            buf: Scratch::new(),
            status: CaseResult::Pending,
            reserved: Reservation::None,
        }
    }

    /// Adds a receive operation; returns its index.
    pub fn recv<T>(&mut self, r: &'a Receiver<T>) -> usize {
        unsafe fn drop_as<T>(p: *mut u8) {
            // SAFETY: the caller passes an initialised T that it owns.
            unsafe { std::ptr::drop_in_place(p.cast::<T>()) }
        }
        let layout = Layout::new::<T>();
        self.buf.fit(layout);
        self.push(
            r.raw(),
            false,
            Kind::Recv {
                layout,
                drop: drop_as::<T>,
            },
        )
    }

    /// Adds a send operation; returns its index.
    pub fn send<T>(&mut self, s: &'a Sender<T>) -> usize {
        self.push(s.raw(), true, Kind::Send)
    }

    fn push(&mut self, chan: &'a RawChan, send: bool, kind: Kind) -> usize {
        self.cases.push(Case {
            chan,
            send,
            elem: std::ptr::null_mut(),
            result: std::ptr::null_mut(),
            reserve: std::ptr::null_mut(),
        });
        self.kinds.push(kind);
        self.cases.len() - 1
    }

    /// Runs the select core over the cases, pointing them at this `Select`'s buffers first (the
    /// `Select` may have moved since they were added).
    fn run(&mut self, mode: Mode) -> Option<SelectedOperation<'a>> {
        let buf = self.buf.ptr();
        // Reset before the pointers the core writes through are taken, so that no write
        // through `self` comes between.
        self.status = CaseResult::Pending;
        self.reserved = Reservation::None;
        let (status, reserved): (*mut CaseResult, *mut Reservation) =
            (&mut self.status, &mut self.reserved);
        for (c, k) in self.cases.iter_mut().zip(&self.kinds) {
            match k {
                Kind::Recv { .. } => {
                    c.elem = buf;
                    c.result = status;
                }
                Kind::Send => c.reserve = reserved,
            }
        }
        let (index, _) = select(&self.cases, mode)?;
        let chan = self.cases[index].chan;
        let state = match self.kinds[index] {
            Kind::Send => State::Send(std::mem::replace(&mut self.reserved, Reservation::None)),
            Kind::Recv { layout, drop } if self.status == CaseResult::Moved => {
                // SAFETY: `Moved`: the select moved a value of this layout into the buffer.
                State::Value(unsafe { Value::take(buf, layout, drop) })
            }
            Kind::Recv { .. } => State::Closed,
        };
        Some(SelectedOperation { index, chan, state })
    }

    /// Blocks until one of the operations can proceed, and reserves it.
    ///
    /// # Panics
    /// If there are no operations (it would block forever).
    pub fn select(&mut self) -> SelectedOperation<'a> {
        self.run(Mode::Block)
            .expect("a blocking select returns an operation")
    }

    /// Returns a reserved operation, or None if none can proceed now.
    pub fn try_select(&mut self) -> Option<SelectedOperation<'a>> {
        self.run(Mode::NonBlock)
    }

    /// Waits at most `d` for an operation to become possible, and reserves it.
    pub fn select_timeout(&mut self, d: Duration) -> Option<SelectedOperation<'a>> {
        self.run(Mode::Until(deadline_after(d)))
    }
}

/// What a selected operation holds until it is completed.
enum State {
    /// A received value.
    Value(Value),
    /// A receive that found the channel closed and drained.
    Closed,
    /// A reserved send.
    Send(Reservation),
    /// Completed (or given back).
    Done,
}

/// An operation chosen and reserved by `Select`; complete it with `recv` or `send` on the same
/// channel, which never blocks. Dropping it unused gives the reservation back and panics.
///
/// A reserved send that found a receiver waiting holds that receiver: the goroutine (or
/// thread) waits until the operation is completed or dropped, whatever timeout it set, and for
/// ever if the operation is leaked with `mem::forget`. Complete it promptly.
#[must_use = "complete the selected operation with recv() or send(); dropping it panics"]
pub struct SelectedOperation<'a> {
    index: usize,
    chan: &'a RawChan,
    state: State,
}

impl std::fmt::Debug for SelectedOperation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelectedOperation")
            .field("index", &self.index)
            .finish()
    }
}

impl SelectedOperation<'_> {
    /// The index `Select::recv`/`Select::send` returned for this operation.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Completes a selected receive. `None` if the channel is closed and drained.
    ///
    /// # Panics
    /// If `r` is not the channel of the selected operation, or the operation is a send.
    pub fn recv<T>(mut self, r: &Receiver<T>) -> Option<T> {
        assert!(
            std::ptr::eq(r.raw(), self.chan),
            "SelectedOperation::recv: this receiver is not the selected operation's channel"
        );
        match std::mem::replace(&mut self.state, State::Done) {
            // SAFETY: the channel is `r`'s, so the value is a T.
            State::Value(v) => Some(unsafe { v.into_inner::<T>() }),
            State::Closed => None,
            other => {
                self.state = other;
                panic!("SelectedOperation::recv: the selected operation is a send")
            }
        }
    }

    /// Completes a selected send.
    ///
    /// # Panics
    /// If `s` is not the channel of the selected operation, or the operation is a receive.
    pub fn send<T>(mut self, s: &Sender<T>, v: T) -> Result<(), SendError<T>> {
        assert!(
            std::ptr::eq(s.raw(), self.chan),
            "SelectedOperation::send: this sender is not the selected operation's channel"
        );
        let State::Send(r) = std::mem::replace(&mut self.state, State::Done) else {
            panic!("SelectedOperation::send: the selected operation is a receive")
        };
        let mut v = MaybeUninit::new(v);
        // SAFETY: `r` was reserved on this channel for this operation; `v` is a T, the
        // channel's element type.
        match unsafe { self.chan.complete_send(r, v.as_mut_ptr().cast()) } {
            Status::Done => Ok(()),
            // SAFETY: not moved: the value is still ours.
            _ => Err(SendError(unsafe { v.assume_init() })),
        }
    }
}

impl Drop for SelectedOperation<'_> {
    fn drop(&mut self) {
        let lost = match std::mem::replace(&mut self.state, State::Done) {
            State::Done => return,
            State::Closed => "nothing was lost (the channel was closed)",
            State::Value(v) => {
                drop(v);
                "the value it received was dropped"
            }
            State::Send(r) => {
                // SAFETY: reserved on this channel and not used.
                unsafe { self.chan.release(r) };
                "its reservation was given back"
            }
        };
        if !crate::rt::thread_panicking() {
            panic!(
                "gort::SelectedOperation dropped without completing the selected operation \
                 (call recv or send on it); {lost}"
            );
        }
    }
}

/// A received value owned by a `SelectedOperation`: inline when small, else on the heap.
struct Value {
    inline: Inline,
    heap: *mut u8,
    layout: Layout,
    drop: unsafe fn(*mut u8),
}

/// Inline room for values up to 64 bytes aligned to at most 16.
#[repr(C, align(16))]
struct Inline([MaybeUninit<u8>; 64]);

impl Value {
    /// Moves a value of `layout` out of `src`.
    ///
    /// # Safety
    /// `src` holds an initialised value of that layout, which the caller gives up.
    unsafe fn take(src: *const u8, layout: Layout, drop: unsafe fn(*mut u8)) -> Value {
        let mut v = Value {
            inline: Inline([MaybeUninit::uninit(); 64]),
            heap: std::ptr::null_mut(),
            layout,
            drop,
        };
        if layout.size() > 0 && (layout.size() > 64 || layout.align() > 16) {
            // SAFETY: a non-zero size.
            v.heap = unsafe { std::alloc::alloc(layout) };
            if v.heap.is_null() {
                std::alloc::handle_alloc_error(layout);
            }
        }
        // SAFETY: `src` holds `layout.size()` bytes; the destination has room for them.
        unsafe { std::ptr::copy_nonoverlapping(src, v.ptr(), layout.size()) };
        v
    }

    fn ptr(&mut self) -> *mut u8 {
        if self.layout.size() == 0 {
            // Dangling but aligned, as a zero-sized value of any alignment needs.
            std::ptr::without_provenance_mut(self.layout.align())
        } else if self.heap.is_null() {
            self.inline.0.as_mut_ptr().cast()
        } else {
            self.heap
        }
    }

    /// The value, as the T it is.
    ///
    /// # Safety
    /// The value is a T.
    unsafe fn into_inner<T>(mut self) -> T {
        // SAFETY: the value is an initialised T (caller), read once: `Done` below frees only the
        // memory.
        let t = unsafe { self.ptr().cast::<T>().read() };
        self.drop = |_| {};
        t
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        // Freed (if on the heap) even when the value's drop panics.
        let _heap = FreeOnDrop(self.heap, self.layout);
        // SAFETY: the value is initialised unless `into_inner` moved it out (then `drop` is a
        // no-op).
        unsafe { (self.drop)(self.ptr()) };
    }
}

/// A growable, aligned scratch buffer for received values.
struct Scratch {
    ptr: *mut u8,
    layout: Layout,
}

impl Scratch {
    fn new() -> Scratch {
        Scratch {
            ptr: std::ptr::null_mut(),
            layout: Layout::new::<()>(),
        }
    }

    /// Makes room for a value of `l`.
    fn fit(&mut self, l: Layout) {
        let size = self.layout.size().max(l.size());
        let align = self.layout.align().max(l.align());
        if size == self.layout.size() && align == self.layout.align() {
            return;
        }
        let new = Layout::from_size_align(size, align).expect("a valid element layout");
        self.free();
        self.layout = new;
        if new.size() > 0 {
            // SAFETY: a non-zero size.
            self.ptr = unsafe { std::alloc::alloc(new) };
            if self.ptr.is_null() {
                std::alloc::handle_alloc_error(new);
            }
        }
    }

    /// Where a received value goes (dangling but aligned when every value is zero-sized).
    fn ptr(&self) -> *mut u8 {
        if self.ptr.is_null() {
            std::ptr::without_provenance_mut(self.layout.align())
        } else {
            self.ptr
        }
    }

    fn free(&mut self) {
        if !self.ptr.is_null() {
            // SAFETY: allocated in `fit` with this layout.
            unsafe { std::alloc::dealloc(self.ptr, self.layout) };
            self.ptr = std::ptr::null_mut();
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        self.free();
    }
}
