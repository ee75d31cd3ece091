//! The core: G/M/P scheduler, park/ready, blocking calls, timers, sysmon (Go's proc.go and
//! friends). See ARCHITECTURE.md for the map; each file's doc names the Go code it follows.
//!
//! # The facade
//!
//! This file is all that the layers above (channels, select, sync, time, goroutines, I/O, FFI,
//! the `runtime` module) may use of the core, as tokio's `runtime` module is for its drivers.
//! `scripts/check-layers.sh` enforces it in CI. The submodules are visible crate-wide only so
//! that `stack`, which shares the core's layer (a goroutine's G lives in its stack slot), can
//! reach the G layout; nothing else names them.
//!
//! - **park / ready:** [`park`], [`ready`], [`yield_now`], [`check_preempt`], the [`G`] handle
//!   (outside the core a `*mut G` is only an identity to pass back) and its [`WaitReason`].
//! - **wakers:** [`Signal`] (the runtime's own waker), [`waker_may_run_here`] and
//!   [`deferring_wakers`].
//! - **goroutines:** [`spawn`], [`stack_size`], [`current_g`], [`current_id`], [`lock_os_thread`],
//!   [`unlock_os_thread`], [`can_yield`], [`thread_panicking`].
//! - **blocking calls:** [`blocking`], [`ffi_call`], [`ffi_callback`].
//! - **timers:** [`sleep`], [`add_timer`], [`Timer`].
//! - **I/O:** [`PollDesc`].
//! - **processors and stats:** [`ensure_started`], [`request_procs`], [`procs`],
//!   [`set_procs`], [`num_goroutines`], [`spin_worthwhile`], [`stats`],
//!   [`goroutines_by_state`], [`dump`], [`set_max_threads`].

pub(crate) mod blocking;
pub(crate) mod cgo;
pub(crate) mod dump;
pub(crate) mod g;
pub(crate) mod global;
mod handoff;
pub(crate) mod hog;
pub(crate) mod m;
mod metrics;
pub(crate) mod netpoll;
pub(crate) mod p;
mod panics;
pub(crate) use panics::Deferred as DeferredPanicReport;
pub(crate) mod park;
pub(crate) mod preempt;
pub(crate) mod procs;
pub(crate) mod runq;
pub(crate) mod schedtrace;
pub(crate) mod schedule;
pub(crate) mod sleep;
pub(crate) mod spawn;
pub(crate) mod start;
pub(crate) mod sysmon;
pub(crate) mod timers;
pub(crate) mod trace;
mod trace_file;
pub(crate) mod traceback;
mod waker;

use std::sync::atomic::Ordering::*;

pub(crate) use crate::stack::{MAX_STACK, normalize as stack_size};
pub(crate) use blocking::run as blocking;
pub(crate) use cgo::{call as ffi_call, callback as ffi_callback};
pub(crate) use dump::{set_channel_timers, sigquit_handler};
#[cfg(feature = "tracing")]
pub(crate) use g::SwitchHook;
pub(crate) use g::{G, WaitReason, thread_panicking};
pub(crate) use m::current_g;
pub(crate) use netpoll::{PollDesc, timed_out};
pub(crate) use park::{block_forever, park, ready, yield_now};
pub(crate) use preempt::check_preempt;
pub(crate) use sleep::{add_timer, add_timer_quietly, sleep, wake_for_timer};
pub(crate) use spawn::{
    count_out, drop_own_locals, spawn, spawn_system, try_spawn, try_spawn_system,
};
pub(crate) use start::{ensure_started, request_procs};
pub(crate) use timers::Timer;
pub(crate) use trace_file::{start as trace_start, stop as trace_stop};
pub(crate) use waker::{Signal, deferring_wakers, waker_may_run_here};

/// The current goroutine's (or plain thread's) local values, created empty on first use.
///
/// # Safety
/// The caller uses the reference only until its next runtime call or local-value access (both
/// may reallocate the table), and does not hold two at once.
#[allow(clippy::mut_from_ref)]
pub(crate) unsafe fn goroutine_locals() -> &'static mut g::Locals {
    let gp = current_g();
    // SAFETY: `gp` is the running G (or this thread's), which only its own code touches; the
    // caller's contract keeps the borrow short.
    unsafe { (*(*gp).locals.get()).get_or_insert_with(Box::default) }
}

/// The current goroutine's (or plain thread's) switch hook, or null.
#[cfg(feature = "tracing")]
pub(crate) fn switch_hook() -> *const SwitchHook {
    // SAFETY: only the running G touches its own hook.
    unsafe { *(*current_g()).hook.get() }
}

/// Sets the current goroutine's (or plain thread's) switch hook (null: none).
///
/// # Safety
/// A non-null `h` stays valid, and its functions may be called, until it is replaced.
#[cfg(feature = "tracing")]
pub(crate) unsafe fn set_switch_hook(h: *const SwitchHook) {
    // SAFETY: only the running G touches its own hook.
    unsafe { *(*current_g()).hook.get() = h };
}

/// Live user goroutines.
pub(crate) fn num_goroutines() -> usize {
    let live: i64 = global::allp().map(|p| p.live.load(Relaxed)).sum::<i64>()
        + global::SCHED.live_nop.load(Relaxed);
    live.max(0) as usize
}

/// The number of processors (GOMAXPROCS); starts the runtime.
pub(crate) fn procs() -> usize {
    ensure_started();
    global::SCHED.procs.load(Relaxed)
}

/// Sets the number of processors (at least 1); returns the previous number.
pub(crate) fn set_procs(n: usize) -> usize {
    ensure_started();
    procs::set_procs(n)
}

/// The running goroutine's id; `None` on a thread that runs none.
pub(crate) fn current_id() -> Option<u64> {
    let gp = m::current_m()?.curg.load(Relaxed);
    // SAFETY: the running G is alive.
    (!gp.is_null()).then(|| unsafe { (*gp).id() })
}

/// Pins the calling goroutine to its thread (nests); no effect on a plain thread.
pub(crate) fn lock_os_thread() {
    // SAFETY: the caller's own G (a plain thread's G lives as long as its thread).
    unsafe { &*current_g() }.locked.fetch_add(1, Relaxed);
}

/// Undoes one `lock_os_thread` (none left: no effect).
pub(crate) fn unlock_os_thread() {
    // SAFETY: as in `lock_os_thread`.
    let _ = unsafe { &*current_g() }
        .locked
        .fetch_update(Relaxed, Relaxed, |n| n.checked_sub(1));
}

/// Whether the caller is an ordinary goroutine on its own stack (not a scheduler context, a
/// plain thread, or a goroutine that must keep its thread), so that yielding is cheap and legal
/// (Go checks `m.locks == 0`).
pub(crate) fn can_yield() -> bool {
    let Some(m) = m::current_m() else {
        return false;
    };
    let gp = m.curg.load(Relaxed);
    // SAFETY: the running G is alive.
    !gp.is_null() && !unsafe { &*gp }.cannot_switch()
}

/// The scheduler's half of Go's `sync_runtime_canSpin`: spinning on a lock is worth it only if
/// other processors are busy (the holder is likely running) and nothing else is queued on the
/// caller's processor that could use the time instead. A plain thread may always spin.
pub(crate) fn spin_worthwhile() -> bool {
    let Some(m) = m::current_m() else {
        return true;
    };
    let s = &global::SCHED;
    if s.procs.load(Relaxed) <= s.npidle.load(Relaxed) + s.nmspinning.load(Relaxed) + 1 {
        return false;
    }
    m.p().is_some_and(|p| p.runq.is_empty())
}

/// The core's counters, for `runtime::stats`.
pub(crate) struct Stats {
    pub(crate) goroutines: usize,
    pub(crate) procs: usize,
    pub(crate) threads: usize,
    pub(crate) idle_procs: usize,
    pub(crate) spawned_total: u64,
    pub(crate) guard_markers: bool,
    pub(crate) stack_slots: usize,
    pub(crate) pooled_hot: usize,
    pub(crate) pooled_cold: usize,
    pub(crate) extra_threads: usize,
    pub(crate) spinning_threads: usize,
    pub(crate) global_queue: usize,
    pub(crate) handoffs: u64,
    pub(crate) blocking_ns: u64,
    pub(crate) timers: usize,
    pub(crate) threads_peak: usize,
    pub(crate) sched_latency: [u64; metrics::BUCKETS],
}

/// Reads the core's counters (starts the runtime).
pub(crate) fn stats() -> Stats {
    ensure_started();
    let s = &global::SCHED;
    let (pooled_hot, pooled_cold) = crate::stack::pool::pooled();
    Stats {
        goroutines: num_goroutines(),
        procs: s.procs.load(Relaxed),
        threads: s.mcount.load(Relaxed),
        idle_procs: s.npidle.load(Relaxed),
        spawned_total: global::allp().map(|p| p.spawned.load(Relaxed)).sum::<u64>()
            + s.spawned_nop.load(Relaxed),
        guard_markers: crate::stack::config().mechanism == crate::stack::Mechanism::GuardMarkers,
        stack_slots: crate::stack::pool::SLOTS.load(Relaxed),
        pooled_hot,
        pooled_cold,
        extra_threads: cgo::EXTRA_MS.load(Relaxed),
        spinning_threads: s.nmspinning.load(Relaxed),
        global_queue: s.runq_size.load(Relaxed),
        handoffs: hog::HANDOFFS.load(Relaxed),
        blocking_ns: metrics::BLOCKING_NS.load(Relaxed),
        timers: global::allp().map(|p| p.timers.len()).sum(),
        threads_peak: schedule::M_PEAK.load(Relaxed),
        sched_latency: metrics::latency(),
    }
}

/// Writes every goroutine (see rt::dump), after the scheduler's state under
/// `GORT_DEBUG=scheddetail=1` (rt::schedtrace); starts the runtime.
pub(crate) fn dump(w: &mut dyn std::io::Write) -> std::io::Result<()> {
    ensure_started();
    schedtrace::before_dump(w)?;
    dump::dump(w)
}

/// How many goroutines are in each state (see rt::dump); starts the runtime.
pub(crate) fn goroutines_by_state() -> std::collections::BTreeMap<&'static str, usize> {
    ensure_started();
    dump::count_by_state()
}

/// Sets the most OS threads the scheduler may start (at least 1); returns the previous limit.
pub(crate) fn set_max_threads(n: usize) -> usize {
    let old = schedule::MAX_THREADS.swap(n, Relaxed);
    // Go's setMaxThreads checks the count at once (checkmcount), so that a limit already
    // exceeded is blamed on the call that set it.
    let running = global::SCHED.mcount.load(Relaxed);
    if running > n {
        crate::util::fatal::fatal_exit(&format!(
            "thread exhaustion: the program exceeds its {n}-thread limit, set by \
             gort::runtime::set_max_threads while {running} threads run"
        ));
    }
    old
}
