//! Goroutine creation and exit (Go's newproc / newproc1 / goexit0 / gfget / gfput).
//!
//! `spawn` takes a slot (G + stack) from the P's cache or the pool, writes the initial frame,
//! and puts the G in the P's `runnext` (as Go's newproc does: the child runs soon, the parent's
//! previous `runnext` moves to the queue). Goroutine ids come from per-P blocks of 16 (Go's
//! goidcache), so spawning takes no global atomic per goroutine.
//!
//! A goroutine's body is a closure that never unwinds out: the public API wraps user code in
//! `catch_unwind` (the panic hook has already reported the panic), and `g_entry` aborts if
//! something unwinds anyway, because unwinding past the first frame is undefined. Bodies up to
//! `INLINE_BODY` bytes are written onto the new goroutine's own stack, below its first frame;
//! larger ones are boxed.

use std::io;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::atomic::Ordering::*;

use super::g::{G, IDLE, RUNNABLE};
use super::global::runq_put;
use super::global::{self, SCHED, wakep};
use super::m::{M, Request, current_m};
use super::p::P;
use super::park::switch_to_scheduler;
use super::preempt::check_preempt;
use super::runq::RUNQ_SIZE;
use crate::arch;
use crate::stack::pool;
use crate::util::fatal;

const GOID_BATCH: u64 = 16;

/// A new goroutine id: from `p`'s block of ids (refilled 16 at a time), or the global counter
/// without a P.
///
/// # Safety
/// The caller owns `p` (its M holds it, inside a P section or on g0).
pub(crate) unsafe fn next_goid(p: Option<&P>) -> u64 {
    let Some(p) = p else {
        return SCHED.goid_gen.fetch_add(1, Relaxed) + 1;
    };
    // SAFETY: the caller owns `p`, so its id cache is ours.
    let cache = unsafe { &mut *p.goid.get() };
    if cache.0 == cache.1 {
        let start = SCHED.goid_gen.fetch_add(GOID_BATCH, Relaxed) + 1;
        *cache = (start, start + GOID_BATCH);
    }
    let id = cache.0;
    cache.0 += 1;
    id
}

/// Runs a goroutine body: `run(data)` consumes the body stored at `data`.
type RunFn = unsafe fn(usize);

/// Bodies up to this size travel on the new goroutine's own stack instead of the heap.
const INLINE_BODY: usize = 512;

/// Starts `f` as a goroutine with a stack of at least `stack` bytes (0: default). Returns its
/// id. If no stack can be had, `f` is dropped here, after the P section: user code (the
/// closure's captures) never runs inside one.
pub(crate) fn spawn<F: FnOnce() + Send + 'static>(
    f: F,
    stack: usize,
    name: Option<String>,
    loc: &'static Location<'static>,
) -> io::Result<u64> {
    try_spawn(f, stack, name, loc).map_err(|(e, f)| {
        drop(f);
        e
    })
}

/// `spawn` that gives `f` back when no stack can be had, for a caller that must not drop it
/// where it is (a timer callback on a scheduler's stack) or will try again.
pub(crate) fn try_spawn<F: FnOnce() + Send + 'static>(
    f: F,
    stack: usize,
    name: Option<String>,
    loc: &'static Location<'static>,
) -> Result<u64, (io::Error, F)> {
    super::ensure_started();
    // Moved into the section only once a slot is had (see `take_body`).
    let f = ManuallyDrop::new(f);
    // One P section for the whole spawn (rt::hog): the slot cache, the id block and the run
    // queue are the P's. What to do after it (yield, check for preemption) runs outside.
    let r = super::hog::with_p(|pp| {
        // SAFETY: the section's P is the caller's own.
        let cache = pp.map(|p| unsafe { p.slot_cache() });
        let gp = pool::alloc(cache, stack)?;
        // SAFETY: read once, and `f` is not used again on this (the success) path.
        Ok(prepare(gp, pp, unsafe { take_body(&f) }, name, loc))
    });
    match r {
        Ok((id, after)) => {
            after.run();
            Ok(id)
        }
        Err(e) => Err((e, ManuallyDrop::into_inner(f))),
    }
}

/// Moves the body out of its `ManuallyDrop` inside a spawn's P section. The spawn functions
/// keep the body outside the section's closure, so that the closure stays small (it is
/// inlined, as it was when it owned the body and passed it through its result) and so that a
/// failed spawn gives the body back to its caller, where its drop may run user code.
///
/// # Safety
/// Called at most once per body, and the `ManuallyDrop` is not used again afterwards.
#[inline(always)]
unsafe fn take_body<F>(f: &ManuallyDrop<F>) -> F {
    // SAFETY: the caller's contract: this is the one move out of `f`.
    unsafe { std::ptr::read(&**f) }
}

/// `spawn` for a goroutine of the runtime's own (see `try_spawn_system`).
pub(crate) fn spawn_system<F: FnOnce() + Send + 'static>(
    f: F,
    loc: &'static Location<'static>,
) -> io::Result<u64> {
    try_spawn_system(f, loc).map_err(|(e, f)| {
        drop(f);
        e
    })
}

/// `try_spawn` for a goroutine of the runtime's own (the signal dispatcher, a helper inside a
/// library call, a context's deadline), which `num_goroutines` does not count. Kept apart from
/// `try_spawn`: a flag passed through its inlined body measured 20% slower on W1, though never
/// set there.
pub(crate) fn try_spawn_system<F: FnOnce() + Send + 'static>(
    f: F,
    loc: &'static Location<'static>,
) -> Result<u64, (io::Error, F)> {
    super::ensure_started();
    let f = ManuallyDrop::new(f);
    let r = super::hog::with_p(|pp| {
        // SAFETY: the section's P is the caller's own.
        let cache = pp.map(|p| unsafe { p.slot_cache() });
        let gp = pool::alloc(cache, 0)?;
        // SAFETY: a fresh G from the pool that nothing else references yet.
        unsafe { (*gp).uncounted.store(true, Relaxed) };
        // SAFETY: read once, on the success path only (as in `try_spawn`).
        Ok(prepare(gp, pp, unsafe { take_body(&f) }, None, loc))
    });
    match r {
        Ok((id, after)) => {
            after.run();
            Ok(id)
        }
        Err(e) => Err((e, ManuallyDrop::into_inner(f))),
    }
}

/// What a spawn does once it has left its P section.
enum After {
    /// Spawn backpressure (see `start`).
    Yield,
    CheckPreempt,
}

impl After {
    #[inline]
    fn run(self) {
        match self {
            After::Yield => super::park::yield_now(false),
            After::CheckPreempt => check_preempt(),
        }
    }
}

/// The body of `spawn` inside its P section.
fn prepare<F: FnOnce() + Send + 'static>(
    gp: *mut G,
    pp: Option<&'static P>,
    f: F,
    name: Option<String>,
    loc: &'static Location<'static>,
) -> (u64, After) {
    let top = gp as usize;
    // Like Go's newproc, which copies the call's arguments to the new stack: a small body is
    // moved to the top of the goroutine's own (fresh, unused) stack, so a spawn allocates
    // nothing; the initial frame goes below it.
    let (run, data, stack_top): (RunFn, usize, usize) =
        if size_of::<F>() <= INLINE_BODY && align_of::<F>() <= 16 {
            let addr = (top - size_of::<F>()) & !15;
            // SAFETY: [addr, top) is the unused top of the G's fresh stack, aligned for F.
            unsafe { (addr as *mut F).write(f) };
            (run_inline::<F>, addr, addr)
        } else {
            (run_boxed::<F>, Box::into_raw(Box::new(f)) as usize, top)
        };
    start(gp, pp, run, data, stack_top, name, loc)
}

/// Runs a body stored inline on the goroutine's stack.
///
/// # Safety
/// `data` points to an `F` written by `spawn` for this goroutine and not yet consumed.
unsafe fn run_inline<F: FnOnce()>(data: usize) {
    // SAFETY: `spawn` wrote an F at `data` for this goroutine, which consumes it once.
    let f = unsafe { (data as *const F).read() };
    f()
}

/// Runs a body too large to travel inline.
///
/// # Safety
/// `data` is a `Box<F>` leaked by `spawn` for this goroutine and not yet consumed.
unsafe fn run_boxed<F: FnOnce()>(data: usize) {
    // SAFETY: `spawn` leaked a Box<F> to `data` for this goroutine, which consumes it once.
    let f = unsafe { Box::from_raw(data as *mut F) };
    f()
}

/// The non-generic part of `spawn`: publish the G.
fn start(
    gp: *mut G,
    pp: Option<&'static P>,
    run: RunFn,
    data: usize,
    stack_top: usize,
    name: Option<String>,
    loc: &'static Location<'static>,
) -> (u64, After) {
    // SAFETY: `gp` is a fresh G from the pool that nothing else references yet.
    let g = unsafe { &*gp };
    // SAFETY: `pp` is the caller's section's P.
    let id = unsafe { next_goid(pp) };
    g.id.store(id, Relaxed);
    g.spawn_loc.store(loc as *const _ as *mut _, Relaxed);
    if super::trace::ON.load(Relaxed) {
        super::trace::created(g, pp, name.as_deref());
    }
    if let Some(name) = name {
        g.name.store(Box::into_raw(Box::new(name)), Relaxed);
    }
    g.entry_run.store(run as usize, Relaxed);
    g.entry_data.store(data, Relaxed);
    // SAFETY: the G is not published yet; the frame `init_stack` writes below `stack_top` is
    // unused stack.
    unsafe { *g.sp.get() = arch::init_stack(stack_top, g_entry, gp as usize) };
    g.status.store(RUNNABLE, Release);
    let live = !g.uncounted.load(Relaxed);
    let Some(p) = pp else {
        if live {
            SCHED.live_nop.fetch_add(1, Relaxed);
        }
        SCHED.spawned_nop.fetch_add(1, Relaxed);
        global::globrunq_put(gp);
        wakep();
        // Off a P because sysmon lent it past this goroutine (rt::hog): the preemption check
        // gives the thread back to the scheduler, to run on a P again or to park. Without it a
        // goroutine that only spawns ran beside `procs()` others for good.
        return (id, After::CheckPreempt);
    };
    p.count_spawn(live);
    runq_put(p, gp, true);
    wakep();
    if p.runq.len() >= RUNQ_SIZE as usize {
        // Spawn backpressure: a goroutine that fills its P's queue yields to the back of it, so
        // the children run while their stacks are still in cache instead of piling up on the
        // global queue (a deviation from Go, which lets the spawner run out its time slice;
        // measured: W1 7x, W5 1.7x faster at procs=1).
        (id, After::Yield)
    } else {
        (id, After::CheckPreempt)
    }
}

/// First Rust frame of every goroutine (called by the arch trampoline).
unsafe extern "C" fn g_entry(mp: usize, gp: usize) -> ! {
    // SAFETY: the M that switched to us (Ms are never freed); the body is user code, outside
    // any P section.
    unsafe { (*(mp as *const M)).in_rt.store(false, Release) };
    let gp = gp as *mut G;
    // SAFETY: `gp` is the G whose stack we are on; its body was set before it was published.
    let (run, data) = unsafe {
        (
            (*gp).entry_run.load(Relaxed),
            (*gp).entry_data.load(Relaxed),
        )
    };
    // SAFETY: stored from a `RunFn` by `start`, which every spawn calls before publishing the G.
    let run: RunFn = unsafe { std::mem::transmute::<usize, RunFn>(run) };
    // SAFETY: `data` is the body `run` expects; this frame runs once per spawn, so the body is
    // consumed exactly once.
    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| unsafe { run(data) })).is_err() {
        // The body catches its own panics: what escapes is a drop after it panicking.
        fatal!(
            "goroutine {} panicked dropping its panic payload or its result, which cannot \
             leave the goroutine (a std thread aborts likewise)",
            // SAFETY: as above; a G's id is set before it runs.
            unsafe { (*gp).id() }
        );
    }
    // SAFETY: `gp` is ours and its body has returned.
    unsafe { drop_locals(gp) };
    goexit(gp)
}

/// Drops the goroutine-local values of `gp`, the running goroutine, whose body has returned:
/// on its own stack, while it can still use the runtime (a drop may lock, send or park). The
/// highest key goes first (keys are numbered in the order their statics were first used,
/// anywhere in the process), one value at a time with the others left in place, so a drop that
/// uses a value not dropped yet sees it as it is (as a thread-local's destructor does), and one
/// that uses a value already dropped creates it again, to be dropped in turn. Values that keep
/// creating each other would never end: past a bound what is left is leaked, as std may leak
/// thread-locals made during teardown. A panicking drop is fatal, as a panic escaping a
/// goroutine's entry is.
///
/// # Safety
/// `gp` is the running G (nothing else touches its `locals`).
pub(crate) unsafe fn drop_locals(gp: *mut G) {
    // SAFETY: the caller's contract; each borrow ends before any drop runs (a drop may use the
    // table again, growing it).
    let table = || unsafe { (*(*gp).locals.get()).as_mut() };
    let Some(t) = table() else {
        return;
    };
    let mut budget = 8 * t.len().max(1);
    // The highest occupied slot's value, taken out (emptied slots above it are removed).
    while let Some(v) = table().and_then(|t| std::iter::from_fn(|| t.pop()).find_map(|v| v)) {
        if budget == 0 {
            std::mem::forget(v);
            continue;
        }
        budget -= 1;
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(v))).is_err() {
            fatal!("a goroutine-local value panicked while it was dropped");
        }
    }
    // SAFETY: as above; the table is empty now.
    drop(unsafe { (*(*gp).locals.get()).take() });
}

/// Drops the running goroutine's goroutine-local values before its body's end: a joinable
/// goroutine does so before it publishes its result, so that a `join` that returns finds them
/// dropped, as std's finds a thread's thread-locals. (`g_entry` then finds none left.)
pub(crate) fn drop_own_locals() {
    let gp = super::m::current_g();
    // SAFETY: the running G, whose body calls this once it is done with its values.
    unsafe { drop_locals(gp) };
}

/// Counts the running goroutine out of `num_goroutines` before it publishes its result, so that
/// a `join` that returns finds it gone, as std's finds its thread gone. Counted out only at its
/// exit, it would still be counted while its joiner runs on another processor.
pub(crate) fn count_out() {
    let gp = super::m::current_g();
    // SAFETY: the running G; only it writes `uncounted` once published.
    let g = unsafe { &*gp };
    if g.is_thread.load(Relaxed) || g.uncounted.load(Relaxed) {
        return;
    }
    g.uncounted.store(true, Relaxed);
    super::hog::with_p(uncount);
}

/// One live goroutine fewer, on `pp` if the caller holds it, else the P-less count.
pub(crate) fn uncount(pp: Option<&P>) {
    match pp {
        Some(p) => p.add_live(-1),
        None => {
            SCHED.live_nop.fetch_sub(1, Relaxed);
        }
    }
}

/// Finishes the running goroutine (Go's goexit1 → goexit0).
fn goexit(gp: *mut G) -> ! {
    let m = current_m().expect("a goroutine runs on an M");
    // SAFETY: our own G; only it writes `locked` (a load and a store: a swap would be a locked
    // instruction on every exit).
    let g = unsafe { &*gp };
    // As Go's goexit0: a goroutine that exits still locked to its thread may have left the
    // thread in a state no other goroutine should inherit, so the thread ends with it.
    let req = if g.locked.load(Relaxed) > 0 {
        g.locked.store(0, Relaxed);
        Request::ExitLocked
    } else {
        Request::Exit
    };
    switch_to_scheduler(m, gp, req);
    fatal!("a finished goroutine was resumed");
}

/// Scheduler half of goexit: count the goroutine out and recycle its slot (Go's goexit0 +
/// gfput). The M's P, if it still has one (rt::hog), is its own here.
pub(crate) fn gfree(mp: &M, gp: *mut G) {
    let pp = mp.p();
    // SAFETY: the G has finished; only this M touches it now.
    if !unsafe { (*gp).uncounted.load(Relaxed) } {
        uncount(pp);
    }
    // SAFETY: the G has finished and is off its stack; nothing else references it. A non-null
    // name came from `Box::into_raw` in `start` and is freed only here.
    unsafe {
        let name = (*gp).name.load(Relaxed);
        if !name.is_null() {
            (*gp).name.store(std::ptr::null_mut(), Relaxed);
            drop(Box::from_raw(name));
        }
        (*gp).status.store(IDLE, Release);
    }
    // SAFETY: the scheduler owns its M's P.
    pool::free(pp.map(|p| unsafe { p.slot_cache() }), gp);
}
