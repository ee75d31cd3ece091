//! The execution tracer's recording side (Go's trace.go, tracebuf.go and traceevent.go, much
//! reduced). `runtime::trace` turns the events into a file.
//!
//! While a trace runs, the scheduler records what it does as [`Event`]s: every time slice a
//! goroutine ran on a P (with why it stopped), goroutine creation, who readied whom, blocking
//! calls, P hand-offs, timer and netpoll batches, P starts and stops, and `set_procs`. When no
//! trace runs, each site costs one load of [`ON`] and a predictable branch; everything else is
//! out of line.
//!
//! Buffers: each thread records into a buffer of its own (Go ≥1.21 keeps them per M too; per P
//! would leave out events recorded without a P, such as a blocking call's end). A full buffer
//! goes to the writer through a channel. A buffer is lock-free: only its thread writes it. The
//! one shared step is the stop handshake, Dekker style, with rt::hog's barriers: a recorder
//! sets its buffer's `busy` flag and then reads `ON`; `end` clears `ON`, runs the process-wide
//! barrier, and then waits for every `busy` flag to clear. Either the recorder sees the trace
//! stopped, or `end` waits for its event to land, so no buffer is read while written. Buffers
//! are never freed (a thread's is reused by the next trace), so a thread keeps a plain pointer
//! to its own.
//!
//! Deviations from Go: events are kept as Rust values and formatted by the writer, not encoded
//! into a binary stream; and a time slice is recorded once, when it ends, with its start time
//! (Go records GoStart and GoStop separately), so each event is complete on its own and the
//! writer needs no state to pair them. Slices still open when the trace stops are recorded by
//! `end`, cut at the stop ("trace end"), as Go's tracer emits the running goroutines when it
//! stops; `end` also records the processor count then, which marks where the trace ends.
//!
//! Invariants: a slice is open on an M (`M::trace_start` non-zero) only while a goroutine runs
//! on that M holding `M::trace_p`, from an `execute` that saw the trace running. A blocking call
//! closes it and stamps `M::trace_block`, and only a stamped call's end opens a new one, on
//! whatever P the goroutine gets; so the call path tests the M's own fields, not `ON`. A P
//! taken from a hog records when (`P::trace_taken`), so the hog's slice ends there and never
//! overlaps the next M's on the same P.

use std::cell::{Cell, UnsafeCell};
use std::panic::Location;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::mpsc::Sender;

use super::g::{G, WaitReason};
use super::m::{M, current_m};
use super::p::P;

/// The trace clock: the CPU's counter (the TSC on x86-64, the virtual counter on aarch64),
/// which costs a few nanoseconds to read where `clock_gettime` costs about twenty. The writer
/// converts it to nanoseconds with two readings of both clocks, at `begin` and at `end`
/// (Go's tracer uses `cputicks` the same way).
#[inline]
pub(crate) fn now() -> i64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: rdtsc reads a counter and has no other effect.
    return unsafe { std::arch::x86_64::_rdtsc() } as i64;
    #[cfg(target_arch = "aarch64")]
    {
        let t: u64;
        // SAFETY: reading the virtual counter, which EL0 may do on Linux.
        unsafe { std::arch::asm!("mrs {}, cntvct_el0", out(reg) t, options(nomem, nostack)) };
        return t as i64;
    }
    #[allow(unreachable_code)]
    crate::sys::nanotime()
}

/// Both clocks read together: (trace clock, nanotime).
pub(crate) fn clocks() -> (i64, i64) {
    (now(), crate::sys::nanotime())
}

/// Whether a trace is running. Every recording site tests it first.
pub(crate) static ON: AtomicBool = AtomicBool::new(false);

/// Events per buffer before it goes to the writer.
const CHUNK: usize = 8192;

/// The P field of an event recorded without a P.
pub(crate) const NO_P: u32 = u32::MAX;

/// Why a time slice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Parked for this reason.
    Block(WaitReason),
    Yield,
    /// Its time slice ran out (sysmon's flag).
    Preempted,
    Exit,
    /// Entered a blocking call (`gort::blocking`, `ffi::call`, a thread-mode park).
    Blocking,
    /// Sysmon took its P while it ran without calling the runtime.
    Hog,
    /// Still running when the trace stopped.
    TraceEnd,
}

/// One recorded event. Times are trace-clock readings (`now`).
#[derive(Debug)]
pub(crate) enum Event {
    /// Goroutine `g` ran on P `p` over [`start`, `end`) and stopped for `why`. `ready` is when
    /// it was made runnable before (0 if before the trace); `flow` the id of the `Ready` that
    /// made it runnable, if a goroutine did.
    Run {
        p: u32,
        g: u64,
        start: i64,
        end: i64,
        why: Stop,
        ready: i64,
        flow: u64,
    },
    /// Goroutine `g` was created by `parent` (0: a plain thread), or already `existed` when the
    /// trace began.
    Create {
        p: u32,
        ts: i64,
        g: u64,
        parent: u64,
        existed: bool,
        name: Option<Box<str>>,
        site: Option<&'static Location<'static>>,
    },
    /// The goroutine running on `p` made another runnable; `flow` pairs this with that one's
    /// next `Run`.
    Ready { p: u32, ts: i64, flow: u64 },
    /// Goroutine `g` was in a blocking call on M `m` over [`start`, `end`).
    Blocking {
        m: u64,
        g: u64,
        start: i64,
        end: i64,
    },
    /// Sysmon handed `p` to another M: from a blocking call, or from a hog.
    Handoff { p: u32, ts: i64, hog: bool },
    /// `n` timers fired.
    Timers { p: u32, ts: i64, n: u32 },
    /// A netpoll found `n` goroutines ready.
    Netpoll { p: u32, ts: i64, n: u32 },
    /// `set_procs(n)`.
    Procs { ts: i64, n: u32 },
    /// M `m` took P `p` (`start`), or `p` went idle.
    Proc {
        p: u32,
        ts: i64,
        m: u64,
        start: bool,
    },
}

/// A thread's buffer (see the module doc).
struct Buf {
    busy: AtomicBool,
    events: UnsafeCell<Vec<Event>>,
    /// The next flow id this thread hands out: the buffer's number in the high bits, so that
    /// ids are unique without a shared counter (and stay below 2^53, for JSON readers).
    next_flow: Cell<u64>,
}

// SAFETY: `events` and `next_flow` are touched only by the buffer's thread while `busy` is
// set, and `events` read by `end` only after `ON` is clear and `busy` was seen clear (the
// handshake in the module doc).
unsafe impl Sync for Buf {}

/// Every thread's buffer, for `end` to collect (never freed); and the writer's channel.
static BUFS: Mutex<Vec<&'static Buf>> = Mutex::new(Vec::new());
static SINK: Mutex<Option<Sender<Vec<Event>>>> = Mutex::new(None);
/// Emptied buffers, back from the writer (`recycle`).
static SPARE: Mutex<Vec<Vec<Event>>> = Mutex::new(Vec::new());

std::thread_local! {
    static MINE: Cell<*const Buf> = const { Cell::new(std::ptr::null()) };
}

/// Starts recording; full buffers go to `sink`. False if a trace is running already.
///
/// The caller serialises `begin` and `end` (rt::trace_file holds its writer's lock across
/// each): a trace must not begin while `end` still collects the last one, whose buffers
/// recorders would then write while `end` empties them.
pub(crate) fn begin(sink: Sender<Vec<Event>>) -> bool {
    let mut s = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if s.is_some() {
        return false;
    }
    *s = Some(sink);
    drop(s);
    ON.store(true, SeqCst);
    true
}

/// Stops recording and sends every buffer's remaining events to the sink, then drops it; last,
/// the slices still running now, cut at this moment, and the processor count, which marks
/// when the trace ended.
pub(crate) fn end() {
    ON.store(false, SeqCst);
    super::hog::taker_barrier();
    let bufs = BUFS.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for b in &bufs {
        while b.busy.load(Acquire) {
            std::hint::spin_loop();
        }
    }
    let last = still_running();
    let sink = SINK.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(s) = &sink {
        let _ = s.send(last);
    }
    for b in bufs {
        // SAFETY: `ON` is clear and `busy` was seen clear afterwards, so its thread no longer
        // touches the events (module doc).
        let events = std::mem::take(unsafe { &mut *b.events.get() });
        if let Some(s) = &sink
            && !events.is_empty()
        {
            let _ = s.send(events);
        }
    }
}

/// The slices open when the trace stopped, ending now (Go's tracer, stopping, emits the
/// running goroutines' state the same way), then the processor count at the end. An M whose
/// slice ends meanwhile records nothing (the trace is off), so none is counted twice; one that
/// ended just before the stop was recorded then.
fn still_running() -> Vec<Event> {
    let end = now();
    let mut out = Vec::new();
    for m in super::m::all_ms() {
        let start = m.trace_start.load(Relaxed);
        // SAFETY: Gs are never freed.
        let g = unsafe { m.curg.load(Relaxed).as_ref() };
        if start != 0
            && let Some(g) = g
        {
            let p = m.trace_p.load(Relaxed);
            let (end, why) = cut(m, start, p, end.max(start), Stop::TraceEnd);
            out.push(Event::Run {
                p,
                g: g.id(),
                start,
                end,
                why,
                ready: 0,
                flow: 0,
            });
        }
    }
    out.push(Event::Procs {
        ts: end,
        n: super::global::SCHED.procs.load(Relaxed) as u32,
    });
    out
}

/// This thread's buffer, created on first use.
fn mine() -> &'static Buf {
    let b = MINE.with(Cell::get);
    if !b.is_null() {
        // SAFETY: buffers are never freed.
        return unsafe { &*b };
    }
    let mut bufs = BUFS.lock().unwrap_or_else(|e| e.into_inner());
    let b: &'static Buf = Box::leak(Box::new(Buf {
        busy: AtomicBool::new(false),
        events: UnsafeCell::new(Vec::new()),
        next_flow: Cell::new(((bufs.len() as u64 + 1) << 32) + 1),
    }));
    bufs.push(b);
    MINE.with(|m| m.set(b));
    b
}

/// Records the event `make` returns (given a fresh flow id) into this thread's buffer, if the
/// trace still runs.
#[inline(never)]
fn record_with(make: impl FnOnce(u64) -> Event) {
    let buf = mine();
    buf.busy.store(true, Relaxed);
    super::hog::owner_barrier();
    if !ON.load(Relaxed) {
        buf.busy.store(false, Release);
        return;
    }
    let flow = buf.next_flow.get();
    buf.next_flow.set(flow + 1);
    // SAFETY: this thread owns the buffer while `busy` is set and `ON` was seen set.
    let events = unsafe { &mut *buf.events.get() };
    if events.capacity() == 0 {
        events.reserve_exact(CHUNK);
    }
    events.push(make(flow));
    // A full buffer is sent before `busy` clears, so that `end` cannot drop the sink first.
    if events.len() >= CHUNK
        && let Some(s) = &*SINK.lock().unwrap_or_else(|e| e.into_inner())
    {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let _ = s.send(std::mem::replace(events, spare.unwrap_or_default()));
    }
    buf.busy.store(false, Release);
}

/// Gives an emptied buffer back for reuse.
pub(crate) fn recycle(mut v: Vec<Event>) {
    v.clear();
    let mut spare = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if spare.len() < 64 {
        spare.push(v);
    }
}

/// Records `ev` into this thread's buffer, if the trace still runs.
pub(crate) fn record(ev: Event) {
    record_with(|_| ev);
}

/// A P's number in events.
pub(crate) fn p_id(p: Option<&P>) -> u32 {
    p.map_or(NO_P, |p| p.id as u32)
}

/// The P of the calling thread's M, if any.
fn current_p() -> u32 {
    p_id(current_m().and_then(|m| m.p()))
}

/// Goroutine `g` starts a slice on `p` (the scheduler's `execute`, or a blocking call's end).
#[cold]
pub(crate) fn slice_start(m: &M, p: &P) {
    m.trace_p.store(p.id as u32, Relaxed);
    m.trace_start.store(now(), Relaxed);
}

/// The slice open on `m` (if any) ends now, for `why`.
#[cold]
pub(crate) fn slice_end(m: &M, g: &G, why: Stop) {
    // A load and a store: only this thread writes it (`end` only reads it).
    let start = m.trace_start.load(Relaxed);
    if start == 0 {
        return;
    }
    m.trace_start.store(0, Relaxed);
    let p = m.trace_p.load(Relaxed);
    let (end, why) = cut(m, start, p, now(), why);
    // A goroutine that stays runnable waits for a P from now.
    let runnable = matches!(why, Stop::Yield | Stop::Preempted | Stop::Hog);
    let ready = g.trace_ready.swap(if runnable { end } else { 0 }, Relaxed);
    record(Event::Run {
        p,
        g: g.id(),
        start,
        end,
        why,
        ready,
        flow: g.trace_flow.swap(0, Relaxed),
    });
}

/// Where the slice of `m` that began at `start` on P `p` ends, if it ends at `end` for `why`:
/// there, unless sysmon took the P from a hog before, which ended the slice then (module doc).
fn cut(m: &M, start: i64, p: u32, end: i64, why: Stop) -> (i64, Stop) {
    let taken = m.p().is_none_or(|pp| pp.id as u32 != p);
    if taken && let Some(pp) = super::p::p_ref(super::global::SCHED.allp[p as usize].load(Acquire))
    {
        let at = pp.trace_taken.load(Relaxed);
        if at > start && at < end {
            return (at, Stop::Hog);
        }
    }
    (end, why)
}

/// `gp` was made runnable by the caller (`ready`), which runs on `p`.
#[cold]
pub(crate) fn readied(gp: &G, p: Option<&P>) {
    let ts = now();
    gp.trace_ready.store(ts, Relaxed);
    // The readier: the goroutine running here, if any (not the scheduler or a plain thread).
    let by = current_m().map_or(std::ptr::null_mut(), |m| m.curg.load(Relaxed));
    if by.is_null() {
        return;
    }
    let p = p_id(p);
    record_with(|flow| {
        gp.trace_flow.store(flow, Relaxed);
        Event::Ready { p, ts, flow }
    });
}

/// A goroutine was created.
#[cold]
pub(crate) fn created(gp: &G, p: Option<&P>, name: Option<&str>) {
    let ts = now();
    gp.trace_ready.store(ts, Relaxed);
    let parent = super::m::current_g();
    // SAFETY: the running G (or thread's G) is alive.
    let parent = unsafe { parent.as_ref() }.map_or(0, G::id);
    record(Event::Create {
        p: p_id(p),
        ts,
        g: gp.id(),
        parent,
        existed: false,
        name: name.map(Box::from),
        site: gp.spawn_location(),
    });
}

/// The calling M enters a blocking call: its slice ends.
#[cold]
pub(crate) fn blocking_enter(m: &M, g: &G) {
    slice_end(m, g, Stop::Blocking);
    m.trace_block.set(now());
}

/// The calling M's blocking call ended; `p` is the P it runs on now, if it got one.
#[cold]
pub(crate) fn blocking_exit(m: &M, g: &G, p: Option<&P>) {
    let start = m.trace_block.replace(0);
    if start != 0 {
        record(Event::Blocking {
            m: m.id.load(Relaxed),
            g: g.id(),
            start,
            end: now(),
        });
    }
    match p {
        Some(p) => slice_start(m, p),
        // Runnable from now, queued by itself: no flow.
        None => g.trace_ready.store(now(), Relaxed),
    }
}

/// Sysmon handed `p` off.
#[cold]
pub(crate) fn handoff(p: &P, hog: bool) {
    let ts = now();
    if hog {
        p.trace_taken.store(ts, Relaxed);
    }
    record(Event::Handoff {
        p: p.id as u32,
        ts,
        hog,
    });
}

/// `n` timers are firing on the calling thread.
#[cold]
pub(crate) fn timers(n: usize) {
    record(Event::Timers {
        p: current_p(),
        ts: now(),
        n: n as u32,
    });
}

/// A netpoll on the calling thread readied `n` goroutines.
#[cold]
pub(crate) fn netpoll(n: usize) {
    record(Event::Netpoll {
        p: current_p(),
        ts: now(),
        n: n as u32,
    });
}

/// `set_procs(n)` took effect.
#[cold]
pub(crate) fn procs(n: usize) {
    record(Event::Procs {
        ts: now(),
        n: n as u32,
    });
}

/// `m` took `p` (`start`), or `p` went idle.
#[cold]
pub(crate) fn proc(p: &P, m: Option<&M>, start: bool) {
    record(Event::Proc {
        p: p.id as u32,
        ts: now(),
        m: m.map_or(0, |m| m.id.load(Relaxed)),
        start,
    });
}

/// Records a `Create` for every goroutine alive now (a trace's first events), with the name of
/// those that are parked (`name_of` holds one still while reading it).
pub(crate) fn snapshot(name_of: impl Fn(&G) -> Option<String>) {
    let ts = now();
    for gp in crate::stack::pool::all_slots() {
        // SAFETY: slots are never unmapped; a free slot reads as IDLE.
        let g = unsafe { &*gp };
        if g.status() == super::g::IDLE {
            continue;
        }
        record(Event::Create {
            p: NO_P,
            ts,
            g: g.id(),
            parent: 0,
            existed: true,
            name: name_of(g).map(Box::from),
            site: g.spawn_location(),
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn events_stay_small() {
        assert!(
            size_of::<super::Event>() <= 56,
            "{}",
            size_of::<super::Event>()
        );
    }
}
