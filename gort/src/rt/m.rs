//! M: an OS thread that runs goroutines (Go's `m`).
//!
//! Each M runs the scheduler loop on its own thread stack, which is its g0 (Go's g0 stack): a
//! goroutine hands control back by switching to `g0_sp` with a `Request` saying what the
//! scheduler must do for it now that it is off its stack ("switch first, commit after").
//! Ms are never freed; idle ones sleep on their `note`.
//!
//! Thread-locals (ARCHITECTURE.md, decision "Thread-locals are not stable across a park"): the
//! runtime's hot thread-local is the current M, read through `current_m()`, which is
//! `#[inline(never)]` and contains an `asm!` statement with side effects. LLVM can therefore
//! neither inline it nor treat two calls as equal (it may not assume the function is `readnone`),
//! so a goroutine that migrated between two calls always sees the M it runs on now. Code that
//! switches gets the resuming M back from `switch` as well.

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, Ordering::*};

use super::g::G;
use super::p::P;
use crate::sys::futex::Note;
use crate::util::loom as la;

/// What a goroutine asks its M's scheduler to do after switching to g0.
pub(crate) enum Request {
    None,
    /// Go's park_m: mark the G waiting, then run the commit callback; if it returns false, run
    /// the G again at once. The pointer refers to a closure on the parked G's stack, which stays
    /// valid because the G cannot run until the callback publishes it.
    Park(*mut (dyn FnMut(*mut G) -> bool + 'static)),
    /// Go's gosched_m: requeue at the tail of the local run queue.
    Yield,
    /// Go's gosched_m as Go does it: requeue at the tail of the global queue, for a yield that
    /// finds goroutines waiting there (see `park::yield_now`).
    YieldGlobal,
    /// Go's gopreempt_m after sysmon's flag: requeue at the back of the local run queue (Go uses
    /// the global queue; see `find_runnable`).
    Preempted,
    /// Go's goexit0: the G finished; recycle it.
    Exit,
    /// Go's goexit0 for a G that finished locked to its thread: recycle it, and end the thread
    /// (the goroutine may have changed the thread's state: setns, unshare, thread-locals).
    ExitLocked,
    /// Go's exitsyscall0: the G left a blocking call and found no P; queue it globally.
    ExitBlocking,
}

/// Aligned so that no two Ms share a cache line (or an adjacent-line prefetch pair): each M's
/// thread writes its own fields on every switch and runtime call. Unaligned, a field added to M
/// made W1 at two processors a third slower, by where the heap happened to place two Ms.
#[repr(align(128))]
pub(crate) struct M {
    /// Saved stack pointer of the scheduler context (g0). Written by `switch` on this M only.
    pub(crate) g0_sp: UnsafeCell<usize>,
    /// The G running on this M, or null in the scheduler. Written by this M; read by sysmon.
    pub(crate) curg: AtomicPtr<G>,
    /// The P this M holds, or null. Written by this M (and by `startm` before waking it).
    pub(crate) p: la::AtomicPtr<P>,
    /// A P handed to this M by `startm`/`startlockedm`, taken when it wakes.
    pub(crate) nextp: AtomicPtr<P>,
    /// The P this M held when it entered a blocking call (Go's oldp).
    pub(crate) oldp: AtomicPtr<P>,
    /// Whether this M is spinning (looking for work with a P); counted in `nmspinning`.
    pub(crate) spinning: AtomicBool,
    /// Idle Ms sleep here.
    pub(crate) note: Note,
    /// Set by the running G just before it switches to g0; read by g0 right after.
    pub(crate) req: UnsafeCell<Request>,
    /// FFI state (see rt::cgo), touched only by code running on this M's thread: the goroutine
    /// stack pointer saved by the innermost `ffi::call` (a callback from C runs below it)...
    pub(crate) cgo_g_sp: UnsafeCell<usize>,
    /// ...and the system stack pointer saved by the innermost callback (a nested `ffi::call`
    /// runs below it; 0: use `g0_sp`).
    pub(crate) cgo_sys_sp: UnsafeCell<usize>,
    /// For an extra M (a foreign thread bound by `ffi::callback`): its dedicated G.
    pub(crate) extra_g: UnsafeCell<*mut G>,
    /// A goroutine whose time slice ran out, on its way to the back of the local queue:
    /// `find_runnable` first picks the next goroutine without it. Touched only by this M's g0.
    pub(crate) preempted: Cell<*mut G>,
    /// A clock reading (nanotime) a parking goroutine took just before its switch (a sleep's),
    /// which the switch (rt::handoff) or the scheduler uses instead of reading the clock again;
    /// 0 if none. A park that blocks the thread instead clears it. Touched only by this M's
    /// thread; consumed in that switch, and cleared before `execute` runs a goroutine or the M
    /// waits for a P.
    pub(crate) now: Cell<i64>,
    /// Whether code on this M may touch its P now: always on g0, and inside P sections on a
    /// goroutine. Sysmon takes a P from a hog only while this is false (rt::hog).
    pub(crate) in_rt: la::AtomicBool,
    /// Set by sysmon when it took this M's P from its hog; cleared when the M gets a P again
    /// (counted in `hog::PLESS`).
    pub(crate) taken: la::AtomicBool,
    /// Set while this M, returning from a blocking call, takes its P back with plain stores;
    /// sysmon retakes a blocking P only while its M's flag is clear (rt::blocking).
    pub(crate) reclaiming: la::AtomicBool,
    /// The number in this M's thread name (`gort-mN`); 0 for a foreign thread's.
    pub(crate) id: AtomicU64,
    /// The tracer's open slice on this M: its start (0: none) and P, and the start of the
    /// blocking call in progress (rt::trace). Written only by this M's thread; the slice is
    /// atomic (relaxed: plain moves) because stopping a trace reads it from another thread, to
    /// record the slices still running then.
    pub(crate) trace_start: AtomicI64,
    pub(crate) trace_p: AtomicU32,
    pub(crate) trace_block: Cell<i64>,
    /// Set when a goroutine exited locked to this M: its thread exits instead of scheduling
    /// again. Touched only by this M's g0.
    pub(crate) exit_thread: Cell<bool>,
    /// When sysmon retook the P of this M's blocking call (a nanotime), or 0 (rt::metrics).
    pub(crate) retaken_at: AtomicI64,
}

// SAFETY: fields shared between threads are atomics or notes; `g0_sp` and `req` are accessed only
// by code running on this M's thread (the G that is running on it, or its g0).
unsafe impl Sync for M {}
// SAFETY: as above.
unsafe impl Send for M {}

impl M {
    pub(crate) fn new() -> M {
        M {
            g0_sp: UnsafeCell::new(0),
            curg: AtomicPtr::new(std::ptr::null_mut()),
            p: la::AtomicPtr::new(std::ptr::null_mut()),
            nextp: AtomicPtr::new(std::ptr::null_mut()),
            oldp: AtomicPtr::new(std::ptr::null_mut()),
            spinning: AtomicBool::new(false),
            note: Note::new(),
            req: UnsafeCell::new(Request::None),
            cgo_g_sp: UnsafeCell::new(0),
            cgo_sys_sp: UnsafeCell::new(0),
            extra_g: UnsafeCell::new(std::ptr::null_mut()),
            preempted: Cell::new(std::ptr::null_mut()),
            now: Cell::new(0),
            in_rt: la::AtomicBool::new(true),
            taken: la::AtomicBool::new(false),
            reclaiming: la::AtomicBool::new(false),
            id: AtomicU64::new(0),
            trace_start: AtomicI64::new(0),
            trace_p: AtomicU32::new(0),
            trace_block: Cell::new(0),
            exit_thread: Cell::new(false),
            retaken_at: AtomicI64::new(0),
        }
    }

    /// The P this M holds, if any (racy when read by another thread: it may change hands).
    pub(crate) fn p(&self) -> Option<&'static P> {
        super::p::p_ref(self.p.load(Relaxed))
    }
}

/// Every M made, in order (Go's `allm`; Ms are never freed): the scheduler's threads and the
/// extra Ms bound to foreign threads for callbacks. Pushed once each, after the M is set up.
static ALLM: std::sync::Mutex<Vec<&'static M>> = std::sync::Mutex::new(Vec::new());

/// Records a new M, once it is set up (its extra G included, for an extra M).
pub(crate) fn register(m: &'static M) {
    ALLM.lock().unwrap_or_else(|e| e.into_inner()).push(m);
}

/// Every M made so far (the scheduler detail, the tracer's stop, the deadlock detector).
pub(crate) fn all_ms() -> Vec<&'static M> {
    ALLM.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `all_ms`, or None if the list is locked (for a report that must not wait).
pub(crate) fn try_all_ms() -> Option<Vec<&'static M>> {
    ALLM.try_lock().ok().map(|l| l.clone())
}

/// `mp` as a reference, for a pointer read from an atomic (`P::m`, `SCHED.timer_waiter`) or
/// handed over by `switch`.
pub(crate) fn m_ref(mp: *mut M) -> Option<&'static M> {
    // SAFETY: Ms are never freed, and a non-null M pointer always points at one.
    unsafe { mp.as_ref() }
}

thread_local! {
    static CUR_M: Cell<*mut M> = const { Cell::new(std::ptr::null_mut()) };
}

/// The M the caller runs on, or `None` on a thread the runtime did not create.
///
/// Never inlined and never assumed pure (see the module doc): it must be called again after
/// anything that may switch goroutines.
#[inline(never)]
pub(crate) fn current_m() -> Option<&'static M> {
    // SAFETY: an empty asm statement; it exists only so that LLVM must assume this function has
    // side effects and cannot merge or hoist calls to it across a context switch.
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
    m_ref(CUR_M.with(|c| c.get()))
}

/// Binds the calling thread to `mp` (at the start of an M's thread, or while a foreign thread
/// calls back), or unbinds it (null).
pub(crate) fn set_current_m(mp: *mut M) {
    CUR_M.with(|c| c.set(mp));
}

/// The G running on the calling thread: the current goroutine, or the plain thread's own G.
pub(crate) fn current_g() -> *mut G {
    g_of(current_m())
}

/// The G running on `m` (the current M, or `None` on a plain thread): its goroutine, or the
/// plain thread's own G.
#[inline]
pub(crate) fn g_of(m: Option<&M>) -> *mut G {
    if let Some(gp) = m.map(|m| m.curg.load(Relaxed)).filter(|gp| !gp.is_null()) {
        return gp;
    }
    super::g::thread_g()
}
