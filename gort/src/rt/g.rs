//! G: the goroutine descriptor (Go's `g` in runtime2.go).
//!
//! A G lives at the top of its own stack slot (see `stack`): the stack grows down from just
//! below it. G and stack are allocated, pooled and recycled together, so a spawn costs no heap
//! allocation for either. Every field is valid when zeroed, because the scavenger may return a
//! pooled slot's pages (including the G) to the kernel, which then reads back as zeros.
//!
//! Plain OS threads that call blocking APIs get a G of their own (`thread_g`), with no stack:
//! the same park/ready protocol then blocks the thread on a futex. This keeps one blocking
//! primitive for every caller.
//!
//! Status machine (Go's casgstatus):
//! ```text
//! IDLE ──spawn──▶ RUNNABLE ──execute──▶ RUNNING ──park──▶ WAITING ──ready──▶ RUNNABLE
//!                                        │  ▲ │
//!                              blocking()│  │ └──exit──▶ IDLE (back in the pool)
//!                                        ▼  │
//!                                       BLOCKING
//! ```

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU8, AtomicU32, AtomicU64, AtomicUsize, Ordering::*,
};

use super::m::M;
use super::timers::Timer;

pub(crate) const IDLE: u32 = 0;
pub(crate) const RUNNABLE: u32 = 1;
pub(crate) const RUNNING: u32 = 2;
pub(crate) const WAITING: u32 = 3;
pub(crate) const BLOCKING: u32 = 4;
/// WAITING, and briefly borrowed by `runtime::dump` to capture its backtrace; `ready` waits for
/// it to become WAITING again.
pub(crate) const DUMPING: u32 = 5;

/// Why a goroutine is waiting (Go's waitReason). One display string each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum WaitReason {
    None = 0,
    Sleep,
    Join,
    WaitGroup,
    ChanSend,
    ChanRecv,
    Select,
    /// Blocked in `sync::Mutex::lock` (Go's waitReasonSyncMutexLock).
    SyncMutexLock,
    /// Blocked in `sync::RwLock::read` (Go's waitReasonSyncRWMutexRLock).
    SyncRWMutexRLock,
    /// Blocked in `sync::RwLock::write` (Go's waitReasonSyncRWMutexLock).
    SyncRWMutexLock,
    /// Blocked in `sync::Cond::wait` (Go's waitReasonSyncCondWait).
    SyncCondWait,
    /// Blocked in `sync::Semaphore::acquire` (Go's waitReasonSemacquire).
    Semacquire,
    /// Waiting for network I/O (Go's waitReasonIOWait).
    IoWait,
    /// Parked in `block_on` until the future's waker readies it.
    Future,
    /// In `select! {}`, for ever (Go's waitReasonSelectNoCases).
    SelectNoCases,
    /// At the end of `gort::scope`, for the scope's goroutines.
    Scope,
}

impl WaitReason {
    const ALL: [WaitReason; 16] = [
        WaitReason::None,
        WaitReason::Sleep,
        WaitReason::Join,
        WaitReason::WaitGroup,
        WaitReason::ChanSend,
        WaitReason::ChanRecv,
        WaitReason::Select,
        WaitReason::SyncMutexLock,
        WaitReason::SyncRWMutexRLock,
        WaitReason::SyncRWMutexLock,
        WaitReason::SyncCondWait,
        WaitReason::Semacquire,
        WaitReason::IoWait,
        WaitReason::Future,
        WaitReason::SelectNoCases,
        WaitReason::Scope,
    ];

    pub(crate) fn from_u8(v: u8) -> WaitReason {
        Self::ALL
            .get(v as usize)
            .copied()
            .unwrap_or(WaitReason::None)
    }

    /// The string Go's traceback prints for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            WaitReason::None => "waiting",
            WaitReason::Sleep => "sleep",
            WaitReason::Join => "join",
            WaitReason::WaitGroup => "sync.WaitGroup.Wait",
            WaitReason::ChanSend => "chan send",
            WaitReason::ChanRecv => "chan receive",
            WaitReason::Select => "select",
            WaitReason::SyncMutexLock => "sync.Mutex.Lock",
            WaitReason::SyncRWMutexRLock => "sync.RWMutex.RLock",
            WaitReason::SyncRWMutexLock => "sync.RWMutex.Lock",
            WaitReason::SyncCondWait => "sync.Cond.Wait",
            WaitReason::Semacquire => "semacquire",
            WaitReason::IoWait => "IO wait",
            WaitReason::Future => "block_on",
            WaitReason::SelectNoCases => "select (no cases)",
            WaitReason::Scope => "scope",
        }
    }
}

/// A goroutine's descriptor, at the top of its stack slot. The fields every park, wake-up and
/// switch touch fill the first cache line (up to `runnable_at`), so that a switch to a goroutine
/// whose descriptor has gone cold misses once, not twice; spawn-time and diagnostic fields follow.
#[repr(C, align(64))]
pub(crate) struct G {
    /// Saved stack pointer while the G is not running. Written only by `arch::switch` on the
    /// M that runs this G; read only by the M that takes the G to run it.
    pub(crate) sp: UnsafeCell<usize>,
    /// One of the status constants above.
    pub(crate) status: AtomicU32,
    /// Futex word for thread-mode parking: `WAKE_WAITING`, `WAKE_READY` once readied,
    /// `WAKE_QUEUE` while the parked thread has given its P away and waits for one instead, or
    /// `WAKE_COUNTED` while a plain thread waits counted among the parked threads.
    pub(crate) wake: AtomicU32,
    /// True for the G of a plain OS thread: parking blocks the thread.
    pub(crate) is_thread: AtomicBool,
    /// Set while the G is parked by blocking its OS thread (plain thread, locked or unwinding
    /// goroutine); `ready` then wakes `wake` instead of queueing the G.
    pub(crate) parks_thread: AtomicBool,
    /// Not in `num_goroutines`: a goroutine of the runtime's own (`spawn_system`), or one that
    /// counted itself out before publishing its result (`count_out`), which its exit then does
    /// not count out again. Written before the G is published or by the G itself.
    pub(crate) uncounted: AtomicBool,
    pub(crate) wait_reason: AtomicU8,
    /// lock_os_thread nesting count; only the G itself touches it.
    pub(crate) locked: AtomicU32,
    /// The runtime's own pins to the thread (ffi callbacks), kept apart from the user's
    /// `lock_os_thread` count so an unmatched `unlock_os_thread` cannot undo them (Go's
    /// lockedInt vs lockedExt).
    pub(crate) locked_internal: AtomicU32,
    /// How many `ffi::call`s this goroutine is inside: it runs on its M's system stack, in the
    /// blocking state, so it must not switch stacks and has no P.
    pub(crate) in_cgo: AtomicU32,
    /// The M running this G (null when not running).
    pub(crate) m: AtomicPtr<M>,
    /// The M this G is locked to while it waits for a P to be handed to that M (Go's lockedm).
    pub(crate) locked_m: AtomicPtr<M>,
    /// nanotime when the G last parked.
    pub(crate) wait_since: AtomicI64,
    /// When a sampled wake-up made the G runnable (a nanotime), or 0 (rt::metrics).
    pub(crate) runnable_at: AtomicI64,
    /// Goroutine id (never reused); 0 for a plain thread's G.
    pub(crate) id: AtomicU64,
    /// Lowest usable stack address (the guard region lies just below). 0 for thread Gs.
    pub(crate) stack_lo: AtomicUsize,
    /// Usable stack size in bytes, as requested (rounded); the G itself sits at `stack_lo + limit`
    /// or above.
    pub(crate) limit: AtomicUsize,
    /// The body's start function (`rt::spawn::RunFn`, 0 once taken on first run).
    pub(crate) entry_run: AtomicUsize,
    /// The body's data for `entry_run`. Both written by the spawner before the G is published.
    pub(crate) entry_data: AtomicUsize,
    /// Where the G was spawned (`&'static Location`), or null.
    pub(crate) spawn_loc: AtomicPtr<std::panic::Location<'static>>,
    /// The name given with `Builder::name` (a leaked `Box<String>`), or null. Set before the G
    /// is published, freed when it exits.
    pub(crate) name: AtomicPtr<String>,
    /// Stack class index, to return the slot to the right pool.
    pub(crate) class: AtomicUsize,
    /// The timer `sleep` parks on.
    pub(crate) sleep_timer: Timer,
    /// Goroutine-local values (`goroutine_local!`), indexed by key; None until the first one.
    /// Touched only by the G itself while it runs; emptied (dropped) when it exits.
    pub(crate) locals: UnsafeCell<Option<Box<Locals>>>,
    /// Called when the goroutine switches out of its thread and back in, or null (the only
    /// cost when unused: one test per switch). Set by `crate::span`; touched only by the G
    /// itself.
    #[cfg(feature = "tracing")]
    pub(crate) hook: UnsafeCell<*const SwitchHook>,
    /// While a trace runs: when the G was last made runnable, and the flow id of the goroutine
    /// that did it (rt::trace). Written by its waker, taken by the slice that runs it next.
    /// Last, so that the fields every spawn and exit touch keep their cache lines.
    pub(crate) trace_ready: AtomicI64,
    pub(crate) trace_flow: AtomicU64,
}

const _: () = assert!(std::mem::offset_of!(G, runnable_at) + 8 <= 64);

/// What a goroutine runs around its switches (see `G::hook`): `switch_out` on the goroutine's
/// stack and thread just before it leaves the thread, `switch_in` on the thread it resumes on.
/// Both get the hook itself, which the setter embeds first in a structure of its own.
#[cfg(feature = "tracing")]
pub(crate) struct SwitchHook {
    pub(crate) switch_out: unsafe fn(*const SwitchHook),
    pub(crate) switch_in: unsafe fn(*const SwitchHook),
}

/// A G's goroutine-local values: slot `k` holds the value of key `k`, once initialised.
pub(crate) type Locals = Vec<Option<Box<dyn std::any::Any>>>;

// SAFETY: a G is shared between Ms by design; every field is atomic or, for `sp`, `locals` and
// `hook`, accessed only by the M that currently runs the G (documented per field).
unsafe impl Sync for G {}
// SAFETY: as above.
unsafe impl Send for G {}

impl G {
    /// A copy of the goroutine's name, if it has one.
    ///
    /// # Safety
    /// The G must not exit meanwhile (its name is freed when it does): the caller holds it
    /// (borrowed for a dump) or is it.
    pub(crate) unsafe fn name_cloned(&self) -> Option<String> {
        let name = self.name.load(Relaxed);
        // SAFETY: per the contract, a non-null name stays allocated during this call.
        (!name.is_null()).then(|| unsafe { (*name).clone() })
    }

    pub(crate) fn new_zeroed() -> G {
        G {
            sp: UnsafeCell::new(0),
            status: AtomicU32::new(IDLE),
            id: AtomicU64::new(0),
            stack_lo: AtomicUsize::new(0),
            limit: AtomicUsize::new(0),
            is_thread: AtomicBool::new(false),
            parks_thread: AtomicBool::new(false),
            uncounted: AtomicBool::new(false),
            wake: AtomicU32::new(0),
            entry_run: AtomicUsize::new(0),
            entry_data: AtomicUsize::new(0),
            m: AtomicPtr::new(std::ptr::null_mut()),
            locked: AtomicU32::new(0),
            locked_internal: AtomicU32::new(0),
            in_cgo: AtomicU32::new(0),
            locked_m: AtomicPtr::new(std::ptr::null_mut()),
            wait_reason: AtomicU8::new(0),
            wait_since: AtomicI64::new(0),
            spawn_loc: AtomicPtr::new(std::ptr::null_mut()),
            name: AtomicPtr::new(std::ptr::null_mut()),
            class: AtomicUsize::new(0),
            sleep_timer: Timer::fire_only(),
            runnable_at: AtomicI64::new(0),
            trace_ready: AtomicI64::new(0),
            trace_flow: AtomicU64::new(0),
            locals: UnsafeCell::new(None),
            #[cfg(feature = "tracing")]
            hook: UnsafeCell::new(std::ptr::null()),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.id.load(Relaxed)
    }

    #[inline]
    pub(crate) fn status(&self) -> u32 {
        self.status.load(Acquire)
    }

    /// WAITING → RUNNABLE (Go's casgstatus in goready). Waits out a dumper that borrowed the G.
    pub(crate) fn make_runnable(&self) {
        loop {
            match self
                .status
                .compare_exchange(WAITING, RUNNABLE, AcqRel, Relaxed)
            {
                Ok(_) => return,
                Err(DUMPING) => std::hint::spin_loop(),
                Err(s) => crate::util::fatal!(
                    "goroutine {} made runnable while not waiting (status {s})",
                    self.id()
                ),
            }
        }
    }

    pub(crate) fn spawn_location(&self) -> Option<&'static std::panic::Location<'static>> {
        let p = self.spawn_loc.load(Relaxed);
        // SAFETY: only ever set from a `&'static Location`.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// Whether parking this G must block its OS thread rather than switch away: plain threads,
    /// goroutines locked to their thread, and goroutines that are unwinding (ARCHITECTURE.md,
    /// decision "Thread-locals are not stable across a park": std's panic count is per thread, so
    /// an unwinding goroutine never migrates).
    pub(crate) fn must_block_thread(&self) -> bool {
        self.is_thread.load(Relaxed)
            || self.locked.load(Relaxed) > 0
            || self.locked_internal.load(Relaxed) > 0
            || self.in_cgo.load(Relaxed) > 0
            || thread_panicking()
    }

    /// Whether this G must not switch stacks now: it must keep its thread (above), or it is
    /// inside `gort::blocking` (BLOCKING: its M gave its P away, and the scheduler must not run
    /// on a P-less M for it). Parks then block the thread, and yields yield the thread.
    pub(crate) fn cannot_switch(&self) -> bool {
        self.must_block_thread() || self.status.load(Relaxed) == BLOCKING
    }
}

/// `std::thread::panicking()` behind the same barrier as `current_m` (see rt::m): std keeps
/// the panic count in a thread-local, and a goroutine may have moved to another thread since
/// the caller last looked, so the read must not be merged with an earlier one.
#[inline(never)]
pub(crate) fn thread_panicking() -> bool {
    // SAFETY: an empty asm statement with side effects (see `current_m`).
    unsafe { std::arch::asm!("", options(nostack, preserves_flags)) };
    std::thread::panicking()
}

thread_local! {
    static THREAD_G: ThreadG = const { ThreadG(UnsafeCell::new(std::ptr::null_mut())) };
    /// The same G, in a thread-local without a destructor: readable while `THREAD_G`'s
    /// destructor drops the thread's goroutine-local values (a value's drop may use another),
    /// and after it.
    static THREAD_G_PTR: Cell<*mut G> = const { Cell::new(std::ptr::null_mut()) };
}

/// The plain threads that have a G, for dumps: the G's address and what to call the thread
/// (its name, or its thread id). A G leaves before it is freed, under this lock.
static THREADS: std::sync::Mutex<Vec<(usize, String)>> = std::sync::Mutex::new(Vec::new());

fn threads() -> std::sync::MutexGuard<'static, Vec<(usize, String)>> {
    THREADS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Calls `f` with each plain thread's G and label, under the registry's lock (the G cannot be
/// freed meanwhile).
pub(crate) fn for_each_thread(mut f: impl FnMut(&G, &str)) {
    for (gp, label) in threads().iter() {
        // SAFETY: a registered G is alive until it leaves the registry, which waits for us.
        f(unsafe { &*(*gp as *const G) }, label);
    }
}

/// Owns a plain thread's G; freed when the thread exits.
struct ThreadG(UnsafeCell<*mut G>);

impl Drop for ThreadG {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            threads().retain(|&(gp, _)| gp != p as usize);
            // SAFETY: the thread's own G, still reachable through THREAD_G_PTR while its
            // values drop.
            unsafe { super::spawn::drop_locals(p) };
            THREAD_G_PTR.with(|c| c.set(std::ptr::null_mut()));
            // SAFETY: allocated by `thread_g` with Box::into_raw; the thread is exiting, so no
            // blocking call of its own can still reference it.
            drop(unsafe { Box::from_raw(p) });
        }
    }
}

/// Whether the calling plain thread's G is waiting, which a thread that runs code only is
/// inside its park's commit. False for a thread that never parked and for one that is exiting
/// (its thread-locals gone).
pub(crate) fn thread_waiting() -> bool {
    let gp = THREAD_G_PTR.with(Cell::get);
    // SAFETY: a non-null G is this thread's, alive while the thread runs.
    !gp.is_null() && unsafe { (*gp).status() } == WAITING
}

/// The G representing the calling plain OS thread (created on first use). A thread that uses
/// gort once its thread-locals are gone (from another thread-local's destructor) gets one that
/// is never freed.
pub(crate) fn thread_g() -> *mut G {
    let gp = THREAD_G_PTR.with(Cell::get);
    if !gp.is_null() {
        return gp;
    }
    let fresh = || {
        let g = G::new_zeroed();
        g.is_thread.store(true, Relaxed);
        g.status.store(RUNNING, Relaxed);
        Box::into_raw(Box::new(g))
    };
    let gp = THREAD_G
        .try_with(|t| {
            // SAFETY: the cell is only accessed from its own thread, here.
            let slot = unsafe { &mut *t.0.get() };
            if slot.is_null() {
                *slot = fresh();
                let me = std::thread::current();
                let label = match me.name() {
                    Some(name) => format!("{name:?}"),
                    // SAFETY: gettid has no preconditions.
                    None => format!("{}", unsafe { libc::gettid() }),
                };
                threads().push((*slot as usize, label));
            }
            *slot
        })
        .unwrap_or_else(|_| fresh());
    THREAD_G_PTR.with(|c| c.set(gp));
    gp
}
