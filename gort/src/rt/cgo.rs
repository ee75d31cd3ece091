//! Calls into C and callbacks from C (Go's cgocall.go, asmcgocall / cgocallback in
//! asm_amd64.s, needm / dropm in proc.go).
//!
//! `call(f)`: the goroutine enters the blocking state (its P can be retaken by sysmon, as for a
//! syscall), and `f` runs on the M's system stack — the OS thread's own stack, below the
//! suspended scheduler frame (`g0_sp`), or below the C frames of an enclosing callback — never on
//! the small goroutine stack.
//!
//! `callback(f)` has three cases:
//! 1. On a runtime thread inside `call` (C called back into Rust): `f` runs on the calling
//!    goroutine's stack again, below the frames of the `call`, with the goroutine locked to the M
//!    and a P reacquired, so it may block on gort primitives (it blocks this thread; the P is
//!    handed off meanwhile). Afterwards the goroutine re-enters the blocking state and control
//!    returns to C on the system stack.
//! 2. On a thread the runtime did not create: the thread is bound to an "extra" M (Go's needm),
//!    taken from a pool or created on first use and then kept by the thread until it exits; `f`
//!    runs as a fresh goroutine (new id) locked to this thread, on the M's dedicated goroutine
//!    stack. Between callbacks the thread looks like a plain thread again; the M keeps its P in the
//!    blocking state, so the next callback usually reacquires it with a few plain stores (sysmon retakes it
//!    if others need it). When the thread exits, the M and its P are given back.
//! 3. Anywhere else (Rust code already running as a goroutine): `f` is just called.
//!
//! Panics are caught on whichever stack `f` ran on and re-raised on the caller's side, so no
//! unwind crosses a stack switch; a panic that reaches an `extern "C"` boundary aborts, as Rust
//! requires.
//!
//! Invariants: the `cgo_*` fields of an M are touched only by code on that M's thread; while a
//! goroutine is inside `call` it cannot migrate (it is not parked: it runs C on this thread), and
//! while inside a case-1 callback it is locked to the M.

use std::cell::Cell;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use super::blocking;
use super::g::{BLOCKING, G, IDLE};
use super::m::{M, current_m, set_current_m};
use crate::arch;
use crate::util::fatal;

/// Bytes left untouched below a saved stack pointer before running on that stack again (the
/// SysV red zone is 128 bytes).
pub(crate) const RED_ZONE: usize = 256;

/// Extra Ms ever created.
pub(crate) static EXTRA_MS: AtomicUsize = AtomicUsize::new(0);
/// Foreign threads inside a callback now: their extra M's goroutine is not idle.
pub(crate) fn threads_in_callback() -> usize {
    super::m::all_ms()
        .into_iter()
        .filter(|m| {
            // SAFETY: an M's extra G is set before the M is registered (`bind`) and never
            // changes after; Gs are never freed. Scheduler Ms have none (null).
            let gp = unsafe { *m.extra_g.get() };
            // SAFETY: as above.
            !gp.is_null() && unsafe { (*gp).status() } != IDLE
        })
        .count()
}

struct MPtr(*mut M);
// SAFETY: Ms are shared by design and never freed.
unsafe impl Send for MPtr {}
static EXTRA_POOL: Mutex<Vec<MPtr>> = Mutex::new(Vec::new());

struct Ctx<F, R> {
    f: Option<F>,
    r: Option<std::thread::Result<R>>,
}

fn finish<R>(r: Option<std::thread::Result<R>>) -> R {
    match r {
        Some(Ok(v)) => v,
        Some(Err(p)) => resume_unwind(p),
        None => fatal!("ffi: the function did not run"),
    }
}

/// Runs `ctx.f` (on whatever stack we were switched to), catching its panic.
unsafe extern "C" fn run_ctx<F: FnOnce() -> R, R>(data: usize) {
    // SAFETY: `data` is the `Ctx` of the caller, which waits for us.
    let ctx = unsafe { &mut *(data as *mut Ctx<F, R>) };
    let f = ctx.f.take().expect("ffi function present");
    ctx.r = Some(catch_unwind(AssertUnwindSafe(f)));
}

/// Go's cgocall: runs `f` on the system stack in the blocking state.
pub(crate) fn call<F: FnOnce() -> R, R>(f: F) -> R {
    let Some(m) = current_m().filter(|m| !m.curg.load(Relaxed).is_null()) else {
        return out_of_line(f);
    };
    // SAFETY: the running G is alive.
    let g = unsafe { &*m.curg.load(Relaxed) };
    if g.in_cgo.load(Relaxed) > 0 {
        // Already on the system stack: a nested call, or C calling Rust that calls C.
        return out_of_line(f);
    }
    // Inside `gort::blocking` the P is already released; otherwise release it now.
    let enter = g.status() != BLOCKING;
    if enter {
        blocking::enter(m, false);
    }
    g.in_cgo.store(1, Relaxed);
    let mut ctx = Ctx {
        f: Some(f),
        r: None,
    };
    // SAFETY: the cgo fields belong to this thread; the system stack below `top` is unused
    // (the scheduler frame, or the C frames of an enclosing callback, sit above it); `run_ctx`
    // catches panics.
    unsafe {
        let saved_g_sp = *m.cgo_g_sp.get();
        let sys = match *m.cgo_sys_sp.get() {
            0 => *m.g0_sp.get(),
            sp => sp,
        };
        let top = (sys - RED_ZONE) & !15;
        arch::call_on_stack(
            &mut ctx as *mut Ctx<F, R> as usize,
            run_ctx::<F, R>,
            top,
            m.cgo_g_sp.get(),
        );
        *m.cgo_g_sp.get() = saved_g_sp;
    }
    g.in_cgo.store(0, Relaxed);
    if enter {
        blocking::exit(m);
        // As Go's exitsyscall honours a pending preemption request: a goroutine that loops on
        // short C calls never switches otherwise, and would keep its slice for ever.
        if matches!(ctx.r, Some(Ok(_))) {
            super::preempt::check_preempt();
        }
    }
    finish(ctx.r)
}

/// Calls `f` in a frame of its own. The paths of `call` and `callback` that run `f` where they
/// are use it: inlined there, `f`'s locals would be laid out in their frame, which they enter on
/// the stack they are about to leave (a closure with a 1 MiB local array overflowed a 256 KiB
/// goroutine stack in `call`, before the switch to the system stack it exists for).
#[inline(never)]
fn out_of_line<F: FnOnce() -> R, R>(f: F) -> R {
    f()
}

/// Go's cgocallback: see the module doc for the three cases.
#[track_caller]
pub(crate) fn callback<F: FnOnce() -> R, R>(f: F) -> R {
    let Some(m) = current_m() else {
        return foreign(f, Location::caller());
    };
    // The cgo fields are only touched on this thread.
    let gp = m.curg.load(Relaxed);
    // SAFETY: a non-null curg is alive.
    if gp.is_null() || unsafe { (*gp).in_cgo.load(Relaxed) } == 0 {
        return out_of_line(f);
    }
    // Case 1: back onto the goroutine's stack, below the frames of its `call`.
    let mut ctx = Ctx {
        f: Some(f),
        r: None,
    };
    // SAFETY: the goroutine's stack below its saved `call` position is unused; the cgo fields
    // belong to this thread; `reenter` catches panics.
    unsafe {
        let saved_sys = *m.cgo_sys_sp.get();
        let top = (*m.cgo_g_sp.get() - RED_ZONE) & !15;
        arch::call_on_stack(
            &mut ctx as *mut Ctx<F, R> as usize,
            reenter::<F, R>,
            top,
            m.cgo_sys_sp.get(),
        );
        *m.cgo_sys_sp.get() = saved_sys;
    }
    finish(ctx.r)
}

/// Case 1, on the goroutine's stack: leave the blocking state (on this M), run, re-enter it.
unsafe extern "C" fn reenter<F: FnOnce() -> R, R>(data: usize) {
    let m = current_m().expect("a callback into a goroutine runs on its M");
    // SAFETY: we are the goroutine that was inside `call` on this M.
    let g = unsafe { &*m.curg.load(Relaxed) };
    g.locked_internal.fetch_add(1, Relaxed);
    let in_cgo = g.in_cgo.swap(0, Relaxed);
    blocking::exit(m);
    // SAFETY: forwarded `Ctx`.
    unsafe { run_ctx::<F, R>(data) };
    blocking::enter(current_m().expect("a goroutine runs on an M"), false);
    g.in_cgo.store(in_cgo, Relaxed);
    g.locked_internal.fetch_sub(1, Relaxed);
}

/// A foreign thread's binding to its extra M; gives the M back when the thread exits.
struct Bound(Cell<*mut M>);

impl Drop for Bound {
    fn drop(&mut self) {
        let mp = self.0.get();
        if mp.is_null() {
            return;
        }
        let _ = BOUND_FAST.try_with(|f| f.set(std::ptr::null_mut()));
        // SAFETY: no callback is running on this exiting thread.
        unsafe { unbind(mp) };
    }
}

thread_local! {
    /// The binding, with the destructor that gives the M back.
    static BOUND: Bound = const { Bound(Cell::new(std::ptr::null_mut())) };
    /// The same M, in a thread-local without a destructor: the per-callback fast path reads
    /// this one (no registration-state check).
    static BOUND_FAST: Cell<*mut M> = const { Cell::new(std::ptr::null_mut()) };
}

/// This thread's extra M, binding one on first use (Go's needm); None once the thread's
/// binding was given back as it exits (a thread-local destructor calling back into Rust).
fn bound_m() -> Option<*mut M> {
    let mp = BOUND_FAST.with(Cell::get);
    if !mp.is_null() {
        return Some(mp);
    }
    BOUND
        .try_with(|b| {
            if b.0.get().is_null() {
                let mp = bind();
                b.0.set(mp);
                BOUND_FAST.with(|f| f.set(mp));
            }
            b.0.get()
        })
        .ok()
}

/// Takes an extra M for this thread (a pooled one, or a new one with its G) and readies the
/// thread for goroutine code.
fn bind() -> *mut M {
    super::ensure_started();
    let pooled = EXTRA_POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let mp = match pooled {
        Some(MPtr(mp)) => mp,
        None => {
            EXTRA_MS.fetch_add(1, Relaxed);
            let m: &'static M = Box::leak(Box::new(M::new()));
            let gp = crate::stack::pool::alloc(None, 0)
                .unwrap_or_else(|e| panic!("gort::ffi::callback: {e}"));
            // SAFETY: the M is new; only this thread uses it.
            unsafe { *m.extra_g.get() = gp };
            super::m::register(m);
            m as *const M as *mut M
        }
    };
    crate::stack::overflow::on_thread_start();
    unblock_fault_signals();
    mp
}

/// Gives back the extra M `bind` took (Go's dropm).
///
/// # Safety
/// `mp` is this thread's extra M, and no callback runs on it.
unsafe fn unbind(mp: *mut M) {
    // SAFETY: Ms are never freed.
    let m = unsafe { &*mp };
    if let Some(p) = super::p::p_ref(m.oldp.swap(std::ptr::null_mut(), Relaxed)) {
        blocking::release_own(m, p);
    }
    EXTRA_POOL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(MPtr(mp));
    crate::stack::overflow::on_thread_exit();
}

/// The runtime's fault handlers must be able to run on this thread.
fn unblock_fault_signals() {
    // SAFETY: adjusting the calling thread's own signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGSEGV);
        libc::sigaddset(&mut set, libc::SIGBUS);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
    }
}

/// Case 2: run `f` as a goroutine locked to this foreign thread.
fn foreign<F: FnOnce() -> R, R>(f: F, loc: &'static Location<'static>) -> R {
    // A thread whose binding is gone (it is exiting) binds an M for this callback only.
    let (mp, once) = match bound_m() {
        Some(mp) => (mp, false),
        None => (bind(), true),
    };
    // SAFETY: Ms are never freed; this thread owns the extra M and its G while bound.
    let m = unsafe { &*mp };
    // SAFETY: as above.
    let gp = unsafe { *m.extra_g.get() };
    // SAFETY: the extra G is idle between callbacks and only this thread touches it.
    let g = unsafe { &*gp };
    let mut ctx = Ctx {
        f: Some(f),
        r: None,
    };
    g.spawn_loc.store(loc as *const _ as *mut _, Relaxed);
    g.locked_internal.store(1, Relaxed);
    g.locked.store(0, Relaxed);
    g.in_cgo.store(0, Relaxed);
    g.status.store(BLOCKING, Release);
    g.m.store(mp, Relaxed);
    set_current_m(mp);
    m.curg.store(gp, Relaxed);
    // SAFETY: the G's stack is unused between callbacks; `foreign_entry` switches back to
    // `g0_sp` (this frame) when done and is never resumed.
    unsafe {
        *g.sp.get() = arch::init_stack(
            gp as usize,
            foreign_entry::<F, R>,
            &mut ctx as *mut Ctx<F, R> as usize,
        );
        arch::switch(m.g0_sp.get(), *g.sp.get(), mp as usize);
    }
    m.curg.store(std::ptr::null_mut(), Relaxed);
    g.m.store(std::ptr::null_mut(), Relaxed);
    g.status.store(IDLE, Release);
    set_current_m(std::ptr::null_mut());
    if once {
        // SAFETY: this thread's M, whose callback has returned.
        unsafe { unbind(mp) };
    }
    finish(ctx.r)
}

/// First frame of a foreign-thread callback goroutine.
unsafe extern "C" fn foreign_entry<F: FnOnce() -> R, R>(mp: usize, data: usize) -> ! {
    let m = super::m::m_ref(mp as *mut M).expect("the callback's M");
    // In the runtime until the body runs, and so still after `exit` (which restores the mark
    // it found): the P it returns is touched below, and sysmon must not take it meanwhile.
    m.in_rt.store(true, Relaxed);
    blocking::exit(m);
    // `exit` returned with a P held by this M.
    let p = m.p().expect("blocking::exit returns with a P");
    p.count_spawn(true);
    // SAFETY: the callback's G, set up by `foreign`, runs here.
    let g = unsafe { &*m.curg.load(Relaxed) };
    // SAFETY: this M holds `p` (see above).
    g.id.store(unsafe { super::spawn::next_goid(Some(p)) }, Relaxed);
    // The body is user code, outside any P section, as a goroutine's is from `g_entry` on: a
    // callback that runs a whole slice without calling the runtime loses its P to sysmon like
    // any hog (rt::hog), and finds out at its next section.
    m.in_rt.store(false, Release);
    // SAFETY: forwarded `Ctx`; it catches panics.
    unsafe { run_ctx::<F, R>(data) };
    // Each callback is a goroutine of its own: its goroutine-local values end with it.
    // SAFETY: our own G, whose body has returned.
    unsafe { super::spawn::drop_locals(m.curg.load(Relaxed)) };
    let m = current_m().expect("the callback goroutine runs on its M");
    // On the P if it is still ours, else on the P-less count.
    super::hog::with_p(super::spawn::uncount);
    blocking::enter(m, false);
    // The thread goes back to C: it no longer runs a goroutine, with a P or without.
    super::hog::settled(m);
    // SAFETY: back to the callback frame on the thread's own stack; this G is never resumed
    // (its stack is re-initialised for the next callback).
    unsafe {
        let gp: *mut G = m.curg.load(Relaxed);
        arch::switch((*gp).sp.get(), *m.g0_sp.get(), 0);
    }
    fatal!("a finished ffi callback goroutine was resumed")
}
