//! Goroutine dumps, the global deadlock detector and SIGQUIT (Go's traceback.go goroutine
//! headers, `checkdead` in proc.go, the SIGQUIT path of signal_unix.go); sysmon's tick for them
//! and for `GORT_DEBUG` (rt::schedtrace).
//!
//! Backtraces of parked goroutines: the dumper borrows a WAITING goroutine (status DUMPING, so
//! `ready` waits a moment), switches onto its stack with `DUMP_ARG`, and the goroutine — still
//! inside `switch_to_scheduler`, where it parked — captures `Backtrace::force_capture()` and
//! switches straight back. Nothing else runs on it; it is WAITING again afterwards. Running
//! goroutines are listed without a stack (no preemption), as are goroutines parked by blocking
//! their thread.
//!
//! Deadlock (Go's checkdead): reported only when nothing could ever wake anything: every P
//! idle, nothing queued, no timer, no blocking call or C call in progress, some goroutine (or plain thread)
//! parked, and every OS thread of the process accounted for as a runtime thread or a plain thread
//! parked in gort (an unknown thread might still send on a channel). The state must hold, with no
//! progress, over two checks.

use std::backtrace::Backtrace;
use std::cell::UnsafeCell;
use std::io::{self, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::*};

use super::g::{BLOCKING, DUMPING, G, IDLE, RUNNABLE, RUNNING, WAITING, WaitReason};
use super::global::{self, SCHED};
use super::m::current_g;
use super::p::P_BLOCKING;
use super::traceback;
use crate::arch;
use crate::sys::nanotime;

/// The `switch` argument that asks a parked goroutine to capture its backtrace.
pub(crate) const DUMP_ARG: usize = 1;

/// Plain threads parked in a gort call right now.
pub(crate) static PARKED_THREADS: AtomicUsize = AtomicUsize::new(0);
/// Parks of plain threads so far: sysmon's deep sleep ends when one parks (rt::sysmon).
pub(crate) static THREAD_PARKS: AtomicU64 = AtomicU64::new(0);
/// Set by the SIGQUIT handler; sysmon dumps and exits.
static QUIT: AtomicBool = AtomicBool::new(false);

/// The dumper's context while it borrows a goroutine. Serialised by `DUMP_LOCK`.
struct Ctx {
    sp: UnsafeCell<usize>,
    bt: UnsafeCell<Option<Backtrace>>,
}
// SAFETY: only touched by the thread holding DUMP_LOCK and by the goroutine it borrowed, which
// runs on that same thread in between.
unsafe impl Sync for Ctx {}

static DUMP_LOCK: Mutex<()> = Mutex::new(());
static CTX: Ctx = Ctx {
    sp: UnsafeCell::new(0),
    bt: UnsafeCell::new(None),
};

/// The goroutine whose stack a dump is capturing a backtrace on (null otherwise), for the
/// overflow handler (stack::overflow). Written under DUMP_LOCK.
pub(crate) static BORROWED: std::sync::atomic::AtomicPtr<G> =
    std::sync::atomic::AtomicPtr::new(std::ptr::null_mut());

/// Goroutine side of a capture: called in `switch_to_scheduler` when resumed with `DUMP_ARG`.
/// Returns the argument of the next resumption.
///
/// # Safety
/// Only on a goroutine that the dumper switched to with `DUMP_ARG`.
// Out of line: inlined, its locals widened the frame of every switch.
#[cold]
#[inline(never)]
pub(crate) unsafe fn capture_and_return(gp: *mut G) -> usize {
    let bt = Backtrace::force_capture();
    // SAFETY: the dumper holds DUMP_LOCK and waits in `switch` for us (same thread).
    unsafe {
        *CTX.bt.get() = Some(bt);
        arch::switch((*gp).sp.get(), *CTX.sp.get(), 0)
    }
}

/// Dumper side: borrows a WAITING goroutine to capture its backtrace. Caller holds DUMP_LOCK.
/// Returns the backtrace and the goroutine's name, both read while it is held (it cannot exit
/// and free its name meanwhile).
fn capture(g: &G) -> (Option<Backtrace>, Option<String>) {
    if g.status
        .compare_exchange(WAITING, DUMPING, AcqRel, Relaxed)
        .is_err()
    {
        return (None, None);
    }
    // SAFETY: a held G cannot exit.
    let name = unsafe { g.name_cloned() };
    if g.parks_thread.load(Acquire) || g.is_thread.load(Relaxed) {
        g.status.store(WAITING, Release);
        return (None, name);
    }
    // The capture runs on the G's stack but on the dumper's thread (sysmon, or a goroutine
    // calling `runtime::dump`): the overflow handler must know whose guard a fault there hits.
    BORROWED.store(g as *const G as *mut G, Release);
    // SAFETY: the G is parked (its sp saved) and DUMPING keeps anyone else from running it; it
    // switches straight back to CTX.sp.
    let bt = unsafe {
        arch::switch(CTX.sp.get(), *g.sp.get(), DUMP_ARG);
        (*CTX.bt.get()).take()
    };
    BORROWED.store(std::ptr::null_mut(), Release);
    g.status.store(WAITING, Release);
    (bt, name)
}

/// The name of `g` if it is parked (held meanwhile, as a dump holds it, so that it cannot exit
/// and free the name); None otherwise.
pub(crate) fn parked_name(g: &G) -> Option<String> {
    g.status
        .compare_exchange(WAITING, DUMPING, AcqRel, Relaxed)
        .ok()?;
    // SAFETY: a held G cannot exit.
    let name = unsafe { g.name_cloned() };
    g.status.store(WAITING, Release);
    name
}

/// How many goroutines are in each state: "running", "runnable", "syscall", or the wait
/// reason of a parked one ("chan receive", "sleep", ...). Reads every goroutine's descriptor;
/// the runtime's own goroutines are not counted, as in `num_goroutines`.
pub(crate) fn count_by_state() -> std::collections::BTreeMap<&'static str, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for gp in crate::stack::pool::all_slots() {
        // SAFETY: slots are never unmapped; a free slot reads as IDLE.
        let g = unsafe { &*gp };
        if g.uncounted.load(Relaxed) {
            continue;
        }
        let state = match g.status() {
            IDLE => continue,
            RUNNING => "running",
            RUNNABLE => "runnable",
            BLOCKING => "syscall",
            _ => WaitReason::from_u8(g.wait_reason.load(Relaxed)).as_str(),
        };
        *counts.entry(state).or_insert(0) += 1;
    }
    counts
}

/// Writes every goroutine: id, state and wait reason, for how long, where it was spawned, and its
/// backtrace when it can be taken, with the runtime's frames trimmed and goroutines that share
/// a stack grouped (rt::traceback). The runtime's own goroutines are left out unless
/// GORT_TRACEBACK asks for them.
///
/// The lock is held only while the goroutines are captured, not while `w` writes: a writer
/// that blocks (a stalled socket, a full pipe, a channel nobody reads) must not hold up
/// SIGQUIT's report or the deadlock report, which dump too.
pub(crate) fn dump(w: &mut dyn Write) -> io::Result<()> {
    let captured = {
        let _l = DUMP_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        capture_all()
    };
    captured.write(w)
}

/// `dump`, unless a dump is capturing (None then): for a fatal error, which may strike in the
/// middle of one.
pub(crate) fn try_dump(w: &mut dyn Write) -> Option<io::Result<()>> {
    let captured = {
        let _l = match DUMP_LOCK.try_lock() {
            Ok(l) => l,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return None,
        };
        capture_all()
    };
    Some(captured.write(w))
}

/// What a dump shows: every goroutine, and the plain threads waiting in a gort call (one line
/// each).
struct Captured {
    goroutines: Vec<traceback::Entry>,
    threads: Vec<String>,
}

impl Captured {
    fn write(self, w: &mut dyn Write) -> io::Result<()> {
        traceback::write_grouped(w, self.goroutines)?;
        self.threads
            .iter()
            .try_for_each(|t| w.write_all(t.as_bytes()))
    }
}

/// Captures what `dump` writes; the caller holds DUMP_LOCK.
fn capture_all() -> Captured {
    let me = current_g();
    let now = nanotime();
    let mut entries = Vec::new();
    for gp in crate::stack::pool::all_slots() {
        // SAFETY: slots are never unmapped; a free slot reads as IDLE.
        let g = unsafe { &*gp };
        if g.uncounted.load(Relaxed) && !traceback::shows_runtime_goroutines() {
            continue;
        }
        let status = g.status();
        let (state, waited, (bt, name)) = match status {
            IDLE => continue,
            RUNNING if std::ptr::eq(gp, me) => {
                // SAFETY: our own name, alive while we run.
                let name = unsafe { g.name_cloned() };
                ("running", None, (Some(Backtrace::force_capture()), name))
            }
            RUNNING => ("running", None, (None, None)),
            RUNNABLE => ("runnable", None, (None, None)),
            BLOCKING => ("syscall", None, (None, None)),
            WAITING | DUMPING => {
                let reason = WaitReason::from_u8(g.wait_reason.load(Relaxed)).as_str();
                let waited = (now - g.wait_since.load(Relaxed)).max(0);
                (reason, Some(waited), capture(g))
            }
            _ => continue,
        };
        entries.push(traceback::Entry {
            id: g.id(),
            name,
            state,
            waited,
            site: g
                .spawn_location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column())),
            stack: bt.map(|bt| traceback::trim(&bt.to_string())),
        });
    }
    // Plain threads waiting in a gort call (their own stacks, which the dumper cannot walk).
    let mut threads = Vec::new();
    super::g::for_each_thread(|g, label| {
        if g.status() == WAITING {
            let reason = WaitReason::from_u8(g.wait_reason.load(Relaxed)).as_str();
            let waited = traceback::waited((now - g.wait_since.load(Relaxed)).max(0));
            threads.push(format!(
                "thread {label} [{reason}, {waited}]:\n  (a plain OS thread, waiting in a gort \
                 call; its stack is its own and not shown)\n\n"
            ));
        }
    });
    Captured {
        goroutines: entries,
        threads,
    }
}

/// The SIGQUIT handler: sysmon sees the flag, dumps and exits.
extern "C" fn on_quit(_: libc::c_int) {
    QUIT.store(true, SeqCst);
    // SAFETY: errno is this thread's; the interrupted code must find it as it left it, and
    // the futex wake in `wake` could change it.
    unsafe {
        let errno = *libc::__errno_location();
        super::sysmon::wake();
        *libc::__errno_location() = errno;
    }
}

/// Whether SIGQUIT has arrived.
pub(crate) fn quitting() -> bool {
    QUIT.load(SeqCst)
}

/// The address of the SIGQUIT handler (`crate::signal` does not chain to it).
pub(crate) fn sigquit_handler() -> usize {
    on_quit as *const () as usize
}

/// Installs the SIGQUIT handler (at runtime start).
pub(crate) fn install_sigquit() {
    // SAFETY: the handler is async-signal-safe: it stores to an atomic and wakes sysmon
    // (atomics and a futex wake).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = on_quit as *const () as usize;
        sa.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGQUIT, &sa, std::ptr::null_mut());
    }
}

/// Prints `headline` and, unless GORT_TRACEBACK=none, the dump; then exits with status 2, or
/// aborts under GORT_TRACEBACK=crash.
fn die(headline: &str) -> ! {
    let mut out = Vec::new();
    let _ = writeln!(out, "{headline}\n");
    super::schedtrace::before_fatal(&mut out);
    let level = traceback::level();
    if level > traceback::NONE {
        let _ = dump(&mut out);
    }
    // Claimed once the report is made: making it takes locks a failing thread may hold.
    crate::util::fatal::claim_report();
    crate::util::write_stderr(&out);
    super::trace_file::finish_before_exit();
    if level == traceback::CRASH {
        std::process::abort();
    }
    // SAFETY: _exit ends the process at once, as Go's exit(2) after a fatal dump.
    unsafe { libc::_exit(2) }
}

/// Called by sysmon every round.
pub(crate) fn sysmon_tick(now: i64) {
    if QUIT.load(Relaxed) {
        die("SIGQUIT: quit");
    }
    super::schedtrace::tick(now);
    check_dead(now);
}

static DEAD_SEEN: AtomicU64 = AtomicU64::new(0);
static DEAD_LAST_CHECK: AtomicI64 = AtomicI64::new(0);

/// A fingerprint of scheduler progress; unchanged between two checks means nothing ran.
fn progress() -> u64 {
    let ticks: u64 = global::allp()
        .map(|p| p.schedtick.load(Relaxed) as u64 + p.spawned.load(Relaxed))
        .sum();
    ticks
        .wrapping_add(SCHED.goid_gen.load(Relaxed) << 20)
        .wrapping_add(SCHED.spawned_nop.load(Relaxed) << 40)
        | 1
}

/// Whether sysmon may sleep deeply at `now`: no schedtrace line is due (Go's sysmon never sleeps
/// deeply under schedtrace either), and the deadlock detector, looking now, suspects nothing. A
/// suspicion is confirmed by a second look 50 ms later, which a deep sleep would put off.
pub(crate) fn lets_sysmon_sleep(now: i64) -> bool {
    if super::schedtrace::on() || DEAD_SEEN.load(Relaxed) != 0 {
        return false;
    }
    // No suspicion yet, so this look cannot confirm one; skipped if `check_dead` just looked.
    DEAD_LAST_CHECK.load(Relaxed) == now || !look_for_deadlock(now)
}

fn check_dead(now: i64) {
    if now - DEAD_LAST_CHECK.load(Relaxed) >= 50_000_000 {
        look_for_deadlock(now);
    }
}

/// One look of the deadlock detector: returns whether the runtime looks dead, and dies if it
/// looked dead with no progress at the previous look too.
fn look_for_deadlock(now: i64) -> bool {
    DEAD_LAST_CHECK.store(now, Relaxed);
    let Some(parked) = looks_dead() else {
        DEAD_SEEN.store(0, Relaxed);
        return false;
    };
    // Never 0, which means "nothing suspected".
    let p = (progress() ^ parked) | 1;
    if DEAD_SEEN.swap(p, Relaxed) == p {
        die("fatal error: all goroutines are asleep - deadlock!");
    }
    true
}

/// Whether the runtime looks dead now; if so, a fingerprint of when each goroutine parked, so
/// that a goroutine that ran and parked again between two looks (a wake-up the scheduler's
/// counters may not show, such as a direct switch) tells them apart.
fn looks_dead() -> Option<u64> {
    let live = super::num_goroutines();
    let parked_threads = PARKED_THREADS.load(SeqCst);
    if live == 0 && parked_threads == 0 {
        return None;
    }
    if SCHED.npidle.load(SeqCst) < SCHED.procs.load(SeqCst)
        || SCHED.nmspinning.load(SeqCst) != 0
        || SCHED.runq_size.load(SeqCst) != 0
        || super::netpoll::has_waiters()
    {
        return None;
    }
    if global::allp().any(|p| p.status.load(SeqCst) == P_BLOCKING || !p.runq.is_empty()) {
        return None;
    }
    // A sleeping goroutine, a ticker or an `after_func` is usually near the head of a timer
    // heap: a bounded look for one spares the walks below, which cost as much as the goroutines
    // and timers ever created and would otherwise run every look of an idle program.
    if timers_could_wake(Some(TIMERS_LOOKED_AT_FIRST)) {
        return None;
    }
    // No thread we do not know about could act: every OS thread is a runtime thread (Ms,
    // sysmon, a trace writer) or a plain thread parked in gort. One read of /proc, before the
    // walk over every goroutine slot.
    let known = SCHED.mcount.load(SeqCst)
        + 1
        + super::trace_file::WRITER_THREADS.load(SeqCst)
        + parked_threads
        + super::cgo::threads_in_callback();
    if os_threads() != Some(known) {
        return None;
    }
    // Every live goroutine must be parked (one in a blocking call or in C is not).
    let mut parked = 0u64;
    for gp in crate::stack::pool::all_slots() {
        // SAFETY: slots are never unmapped.
        let g = unsafe { &*gp };
        match g.status() {
            IDLE => {}
            WAITING => {
                parked = parked
                    .rotate_left(7)
                    .wrapping_add(g.wait_since.load(Relaxed) as u64)
            }
            _ => return None,
        }
    }
    // Last, the whole walk over the timers (channel timers nobody waits on can be many); then
    // whether an M has taken timers out of their heaps without having woken their goroutines
    // yet (read after the heaps: an M counts itself before it takes any, so a timer seen gone
    // from its heap is seen counted).
    let dead = !timers_could_wake(None) && SCHED.pless_timer_runs.load(SeqCst) == 0;
    dead.then_some(parked)
}

/// How many timers of each heap the detector's first, bounded look at the timers examines.
const TIMERS_LOOKED_AT_FIRST: usize = 64;

/// The check whether a channel timer could wake anyone (a receiver waits on its channel),
/// registered by the time module.
static CHANNEL_TIMER_WATCHED: std::sync::OnceLock<unsafe fn(*const super::Timer) -> bool> =
    std::sync::OnceLock::new();

/// Registers the check whether a channel timer (`Timer::for_channel`) could wake anyone. It
/// runs under a timer heap's lock, so it must take no lock.
pub(crate) fn set_channel_timers(watched: unsafe fn(*const super::Timer) -> bool) {
    let _ = CHANNEL_TIMER_WATCHED.set(watched);
}

/// Whether some timer could wake anyone: any timer but a channel timer whose channel nobody
/// waits on. Go 1.23 keeps such a timer out of every heap until a goroutine blocks on its
/// channel, so its deadlock check never sees it; gort's timers are always in a heap
/// (ARCHITECTURE.md, "Lifetimes without a garbage collector"), so this check skips them.
/// With a `limit`, only that many timers of each heap are examined (earliest first, roughly: a
/// heap's array order), so false then means "none found", not "none".
fn timers_could_wake(limit: Option<usize>) -> bool {
    if global::earliest_timer() == i64::MAX {
        return false;
    }
    // No channel timer exists before the check is registered.
    let Some(&watched) = CHANNEL_TIMER_WATCHED.get() else {
        return true;
    };
    global::allp().any(|p| {
        let mut left = limit.unwrap_or(usize::MAX);
        let mut wakes = false;
        p.timers.any(|t| {
            // SAFETY: `t` is in the heap, alive; `watched` takes no lock.
            wakes = !t.is_channel() || unsafe { watched(t) };
            left -= 1;
            wakes || left == 0
        });
        wakes
    })
}

fn os_threads() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|v| v.trim().parse().ok())
}
