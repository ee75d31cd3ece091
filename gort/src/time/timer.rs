//! Timer channels (Go's time.Timer, time.Ticker, time.After, time.Tick), on the scheduler's
//! per-P timer heaps: a timer is a heap node whose callback does a non-blocking send of the
//! current time on a one-slot channel.
//!
//! A timer lives as long as something can receive from it, as Go 1.23 collects unreferenced
//! timers: when its channel's last `Receiver` goes, a hook on the channel stops it. So a lost
//! `after` in a select loop leaves its heap at once instead of when it would have fired, a
//! dropped `Timer` or `Ticker` stops (it holds a receiver), and one whose receiver was cloned
//! keeps firing into the clone.
//!
//! A receive does not wait for a scheduler to run the heap: as Go 1.23's (maybeRunChan), every
//! receive from a timer's channel, a select case included, first fires the timer itself if it
//! is due (`fire_if_due`), so a goroutine that computed past the deadline and then polls sees
//! the value. What is sent is the time the timer was due, as Go's sendTime.

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::chan::raw::Hook;
use crate::rt::{Timer as TimerNode, add_timer};
use crate::sys::deadline_after;

/// State shared by a `Timer`/`Ticker`/`after`/`tick` and the scheduler's heap. While the timer
/// is armed, the heap owns one strong reference (leaked into the heap by `arm`, reclaimed by
/// the callback or by a successful `stop`); while a ticker is idle (`Shared::idle`), the idle
/// state owns it.
///
/// Go 1.23 semantics: the channel holds at most one value, and after `stop` or `reset` returns
/// no value from an earlier arming is ever received (`seq` tells the callback its arming is
/// stale; the channel is drained under `lock`).
#[repr(C)]
struct Shared {
    node: TimerNode,
    lock: crate::util::lock::Lock,
    /// Generation, bumped by stop/reset. Under `lock`.
    seq: std::cell::Cell<u64>,
    /// Generation the node was armed with. Under `lock`.
    armed: std::cell::Cell<u64>,
    /// Whether the current arming is over: delivered, or stopped. Written under `lock`; read
    /// without it only as a hint (`fire_if_due`).
    over: AtomicBool,
    /// A ticker left out of the heap because its last tick still waits in the channel (see
    /// `deliver`); the next receive arms it again (`fire_if_due`). While set, it owns the
    /// strong reference the heap owned. Written under `lock`; read without it only as a hint.
    idle: AtomicBool,
    /// Period in nanoseconds, 0 for a one-shot timer. Under `lock`.
    period: std::cell::Cell<i64>,
    tx: crate::Sender<Instant>,
}

// SAFETY: the Cells are only touched under `lock`; the rest is thread-safe.
unsafe impl Sync for Shared {}
// SAFETY: as above.
unsafe impl Send for Shared {}

fn new_shared(period: i64) -> (Arc<Shared>, crate::Receiver<Instant>) {
    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| crate::rt::set_channel_timers(shared_watched));
    let mut rx = None;
    let s = Arc::new_cyclic(|weak: &Weak<Shared>| {
        // The channel never closes, even when the timer is gone (Go's timer channels don't
        // close); when its last receiver goes, nobody can see the timer fire: it stops.
        let hook = Hook {
            run: stop_unreceivable,
            due: fire_if_due,
            data: Weak::into_raw(weak.clone()).cast(),
        };
        let (tx, r) = crate::chan::timer_chan(hook);
        rx = Some(r);
        Shared {
            node: TimerNode::for_channel(),
            lock: crate::util::lock::Lock::new(),
            seq: std::cell::Cell::new(0),
            armed: std::cell::Cell::new(0),
            over: AtomicBool::new(false),
            idle: AtomicBool::new(false),
            period: std::cell::Cell::new(period),
            tx,
        }
    });
    (s, rx.expect("the channel is made with the timer"))
}

/// The channel's hook: its last receiver is gone (`run`), so the timer leaves its heap now
/// instead of when it would have fired; or the channel is freed (`!run`).
///
/// # Safety
/// `data` is a `Weak<Shared>` from `Weak::into_raw`, passed here once.
unsafe fn stop_unreceivable(data: *const (), run: bool) {
    // SAFETY: the caller's contract.
    let weak = unsafe { Weak::from_raw(data.cast::<Shared>()) };
    if run && let Some(s) = weak.upgrade() {
        s.lock.lock();
        s.disarm();
        s.lock.unlock();
    }
}

/// The channel's `due` hook (Go 1.23's maybeRunChan): a receive fires the timer now if its time
/// has come, instead of leaving it to the scheduler that runs its heap. A firing already in
/// flight (out of the heap, its callback not yet past `lock`) is delivered here too, and the
/// callback then finds it `over`: a receive never misses a due timer because another thread
/// is halfway through firing it.
///
/// # Safety
/// `data` is the hook's `Weak<Shared>` from `Weak::into_raw`, still owned by the channel.
unsafe fn fire_if_due(data: *const ()) {
    // SAFETY: the caller's contract; the channel keeps its reference (not released here).
    let weak = ManuallyDrop::new(unsafe { Weak::from_raw(data.cast::<Shared>()) });
    let Some(s) = weak.upgrade() else { return };
    // Pairs with `deliver`'s fence: a take just before this call, or a look just before a
    // block, is ordered with a delivery that found the channel full.
    std::sync::atomic::fence(SeqCst);
    if s.idle.load(Acquire) {
        s.lock.lock();
        if s.idle.load(Relaxed) {
            s.arm(s.next_tick(crate::sys::nanotime()));
        }
        s.lock.unlock();
        return;
    }
    // Unlocked hints first: most receives find the arming over (delivered or stopped), or not
    // due yet.
    if s.over.load(Acquire) {
        return;
    }
    let now = crate::sys::nanotime();
    if s.node.when() > now {
        return;
    }
    s.lock.lock();
    // Under `lock` nobody arms the node, so `when` is the current arming's if it is current.
    if s.armed.get() == s.seq.get() && !s.over.load(Relaxed) && s.node.when() <= now {
        if s.node.stop() {
            // SAFETY: the node left its heap before firing, so the heap's reference is ours to
            // release (`s` holds another).
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(&s)) };
        }
        // Else the firing is in flight: a current, unfired arming leaves its heap only by
        // firing (a stop under `lock` bumps `seq` or delivers). Its callback keeps the heap's
        // reference and, finding the arming over (or replaced, for a ticker), sends nothing.
        // A task waiting on the channel is woken elsewhere: its waker may want `lock`.
        crate::rt::deferring_wakers(|| s.deliver());
    }
    s.lock.unlock();
}

impl Shared {
    /// Delivers the current arming's firing: sends the time it was due (as Go's sendTime) and
    /// re-arms a ticker that someone can still receive from. Caller holds `lock`; the node is in
    /// no heap.
    ///
    /// A ticker whose previous tick is still in the channel is not re-armed: its ticks would be
    /// dropped until someone receives, and nobody waits (a receiver finds the tick instead of
    /// waiting). It stays `idle`, out of the heap, until a receive arms it for the next tick
    /// after that receive (`fire_if_due`, which every receive runs before it looks at the
    /// channel and again after it took a value), as Go 1.23 keeps a channel timer in a heap
    /// only while someone is blocked on its channel. So a ticker nobody reads costs nothing.
    /// The hook after the take is what keeps a second receiver from waiting for ever: it may
    /// have looked before the ticker went idle, and block once the first took the tick.
    fn deliver(self: &Arc<Self>) {
        let when = self.node.when();
        let now = crate::sys::nanotime();
        let ticker = self.period.get() > 0 && self.tx.has_receivers();
        // Raised before the send, so that a receive that takes the waiting tick after the send
        // found it there sees the flag when it runs the due hook again after its take
        // (`RawChan::run_due_timer`, after every receive). The send may find the channel full
        // without its lock (`RawChan::send`'s fast path reads the count alone), so nothing but
        // fences orders the two: this one and the hook's, before it reads the flag (a store
        // then a load on each side, Dekker's pattern). Its reference is taken only below;
        // nobody acts on the flag without `lock`, held here.
        if ticker {
            self.idle.store(true, SeqCst);
            std::sync::atomic::fence(SeqCst);
        }
        let sent = self
            .tx
            .send_now(crate::sys::instant_at(when.min(now)))
            .is_ok();
        // After the send: a receive that sees `over` without the lock (`fire_if_due`'s hint)
        // goes on to find the value.
        self.over.store(true, Release);
        if ticker {
            if sent {
                self.idle.store(false, Relaxed);
                self.arm(self.next_tick(now));
            } else {
                // The heap's reference passes to the idle state (a `tick` has no other owner
                // than its heap), until `arm` or `disarm` ends it.
                std::mem::forget(self.clone());
            }
        }
    }

    /// A ticker's next tick after `now`: its last deadline plus whole periods.
    fn next_tick(&self, now: i64) -> i64 {
        let (when, period) = (self.node.when(), self.period.get());
        when.saturating_add(period.saturating_mul(1 + (now - when).max(0) / period))
    }

    /// Arms the node at `when` for the current generation. Caller holds `lock`.
    fn arm(self: &Arc<Self>, when: i64) {
        self.armed.set(self.seq.get());
        self.over.store(false, Relaxed);
        self.wake_idle();
        let p = Arc::into_raw(self.clone());
        // SAFETY: the heap's strong reference (`p`) keeps the node alive and unmoved until the
        // callback or `disarm` reclaims it.
        unsafe { add_timer(&(*p).node, when, shared_fire) };
    }

    /// Stops the node and drains the channel; returns whether a firing was still pending
    /// (armed, in flight, or fired but not yet received). Caller holds `lock`.
    ///
    /// In flight: the node left the heap but its callback has not run yet (it waits for
    /// `lock`). The callback will find the generation changed and send nothing, so the firing
    /// counts as stopped, as in Go 1.23, where Stop returns true unless the value was received.
    fn disarm(&self) -> bool {
        let current = self.armed.get() == self.seq.get();
        self.seq.set(self.seq.get() + 1);
        let mut pending = false;
        if self.node.stop() {
            // SAFETY: the node left the heap before firing, so the heap's reference is ours
            // to release.
            unsafe { Arc::decrement_strong_count(self as *const Shared) };
            pending = true;
        } else if current && self.node.arming() > 0 && !self.over.load(Relaxed) {
            pending = true;
        }
        while self.tx.drain_one() {
            pending = true;
        }
        // No arming is current now: receives pass by without the lock (`fire_if_due`).
        self.over.store(true, Release);
        self.wake_idle();
        pending
    }

    /// Ends the idle state, if the ticker is in it, and its reference. Caller holds `lock`
    /// and a reference of its own.
    fn wake_idle(&self) {
        if self.idle.load(Relaxed) {
            self.idle.store(false, Release);
            // SAFETY: the idle state's reference, leaked by `deliver`; the caller holds
            // another, so this is not the last.
            unsafe { Arc::decrement_strong_count(self as *const Shared) };
        }
    }
}

unsafe fn shared_fire(t: *const TimerNode, arming: u64) {
    // SAFETY: `node` is the first field of the repr(C) Shared; the heap's strong reference
    // (leaked by `arm`) is reclaimed here.
    let s = unsafe { Arc::from_raw(t as *const Shared) };
    s.lock.lock();
    // Stale if stopped or reset since this arming (`seq`), or re-armed by a `reset` (or a
    // ticker's early delivery) that ran between the node leaving the heap and this callback
    // (`arming`): then the node may be in a heap again and must not be touched. Done if a
    // receive delivered it meanwhile (`over`, see `fire_if_due`).
    if s.armed.get() == s.seq.get() && s.node.arming() == arming && !s.over.load(Relaxed) {
        s.deliver();
    }
    s.lock.unlock();
}

/// Whether firing the node at `t` could wake anyone: a receiver waits on its channel (a
/// goroutine, a plain thread, a select case or an async receive). For the deadlock detector,
/// which ignores a channel timer nobody waits on, as Go's does; takes no lock.
unsafe fn shared_watched(t: *const TimerNode) -> bool {
    // SAFETY: `node` is the first field of the repr(C) Shared, which the heap's strong
    // reference keeps alive while the node is in a heap.
    let s = unsafe { &*(t as *const Shared) };
    s.tx.receiver_waits()
}

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// A channel that receives the current time once, after `d` (Go's time.After). The channel
/// stays open. A huge `d` saturates (never wraps into a short timer).
///
/// ```
/// use std::time::Duration;
///
/// let (_tx, rx) = gort::chan::<u32>(0);
/// let got = gort::select! {
///     recv(rx) -> v => v,
///     recv(gort::after(Duration::from_millis(10))) -> _ => None, // nobody sent in time
/// };
/// assert_eq!(got, None);
/// ```
pub fn after(d: Duration) -> crate::Receiver<Instant> {
    crate::rt::ensure_started();
    let (s, rx) = new_shared(0);
    s.lock.lock();
    s.arm(deadline_after(d));
    s.lock.unlock();
    rx
}

/// A channel that receives the current time every `d` (Go's time.Tick). A slow reader loses
/// ticks: at most one is queued. The ticker stops when the receiver is dropped.
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let ticks = gort::tick(Duration::from_millis(5));
/// for _ in 0..3 {
///     ticks.recv().unwrap();
/// }
/// assert!(start.elapsed() >= Duration::from_millis(15));
/// ```
///
/// A zero `d` gives a channel that never fires, as Go's `time.Tick` returns a nil channel for a
/// non-positive interval (`Ticker::new` panics instead, as Go's `NewTicker` does).
pub fn tick(d: Duration) -> crate::Receiver<Instant> {
    if d.is_zero() {
        return crate::never();
    }
    crate::rt::ensure_started();
    let (s, rx) = new_shared(nanos(d));
    s.lock.lock();
    s.arm(deadline_after(d));
    s.lock.unlock();
    rx
}

/// A single event in the future (Go's time.Timer): the current time arrives on `receiver()`
/// once, after the duration. As in Go 1.23, a timer stops when nothing can receive from it any
/// more: dropping it stops it, unless a clone of its receiver is still alive.
///
/// ```
/// use std::time::Duration;
/// use gort::time::Timer;
///
/// let t = Timer::new(Duration::from_secs(3600));
/// assert!(t.stop(), "stopped before it fired");
/// t.reset(Duration::from_millis(1));
/// t.receiver().recv().unwrap(); // fires after the new duration
/// ```
pub struct Timer {
    shared: Arc<Shared>,
    rx: crate::Receiver<Instant>,
}

impl Timer {
    /// Starts a timer that fires once after `d`.
    pub fn new(d: Duration) -> Timer {
        crate::rt::ensure_started();
        let (shared, rx) = new_shared(0);
        shared.lock.lock();
        shared.arm(deadline_after(d));
        shared.lock.unlock();
        Timer { shared, rx }
    }

    /// The channel the time arrives on.
    pub fn receiver(&self) -> &crate::Receiver<Instant> {
        &self.rx
    }

    /// Stops the timer. Returns true if it was still pending (Go's result: false if it already
    /// fired and the value was received, or it was already stopped). No value from before the
    /// call is received afterwards.
    pub fn stop(&self) -> bool {
        let s = &self.shared;
        s.lock.lock();
        let pending = s.disarm();
        s.lock.unlock();
        pending
    }

    /// Re-arms the timer to fire after `d`. Returns whether it was still pending, as `stop`.
    pub fn reset(&self, d: Duration) -> bool {
        let s = &self.shared;
        s.lock.lock();
        let pending = s.disarm();
        s.arm(deadline_after(d));
        s.lock.unlock();
        pending
    }
}

impl std::fmt::Debug for Timer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Timer").finish_non_exhaustive()
    }
}

/// Delivers the current time every period (Go's time.Ticker). A slow reader loses ticks: at most
/// one is queued. As a `Timer`, it stops when it and every clone of its receiver are dropped.
pub struct Ticker {
    shared: Arc<Shared>,
    rx: crate::Receiver<Instant>,
}

impl Ticker {
    /// Starts a ticker with period `d`.
    ///
    /// # Panics
    /// If `d` is zero (as Go's NewTicker panics on a non-positive interval).
    pub fn new(d: Duration) -> Ticker {
        assert!(
            !d.is_zero(),
            "gort::time::Ticker::new: the interval must be positive"
        );
        crate::rt::ensure_started();
        let (shared, rx) = new_shared(nanos(d));
        shared.lock.lock();
        shared.arm(deadline_after(d));
        shared.lock.unlock();
        Ticker { shared, rx }
    }

    /// The channel the ticks arrive on.
    pub fn receiver(&self) -> &crate::Receiver<Instant> {
        &self.rx
    }

    /// Stops the ticker; no tick from before the call is received afterwards.
    pub fn stop(&self) {
        let s = &self.shared;
        s.lock.lock();
        s.disarm();
        s.lock.unlock();
    }

    /// Stops the ticker and restarts it with period `d`.
    ///
    /// # Panics
    /// If `d` is zero.
    pub fn reset(&self, d: Duration) {
        assert!(
            !d.is_zero(),
            "gort::time::Ticker::reset: the interval must be positive"
        );
        let s = &self.shared;
        s.lock.lock();
        s.disarm();
        s.period.set(nanos(d));
        s.arm(deadline_after(d));
        s.lock.unlock();
    }
}

impl std::fmt::Debug for Ticker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticker").finish_non_exhaustive()
    }
}

/// A function run in its own goroutine after a delay (Go's time.AfterFunc). Dropping the handle
/// does not cancel it; `stop` does.
pub struct AfterFunc {
    inner: Arc<AfterInner>,
}

#[repr(C)]
struct AfterInner {
    node: TimerNode,
    /// The goroutine's body (the function, wrapped as `goroutine::body` wraps one), until it
    /// starts or `stop` takes it.
    f: std::sync::Mutex<Option<Body>>,
    /// `f` runs in a goroutine of the runtime's own (`after_func_system`).
    system: bool,
    /// Where `after_func` was called: the goroutine's spawn site.
    loc: &'static std::panic::Location<'static>,
}

type Body = Box<dyn FnOnce() + Send + 'static>;

/// How long a function whose goroutine could not be started (no stack to be had) waits before
/// the next try.
const RETRY_NS: i64 = 10_000_000;

/// Runs `f` in a new goroutine once `d` has passed. Returns a handle that can stop it. The
/// goroutine's spawn site (in dumps and reports) is this call.
///
/// If no goroutine stack can be had when `d` has passed (the limits `Builder::spawn` reports
/// as errors), `f` is tried again every 10 ms until one can; a warning on stderr says so once.
#[track_caller]
pub fn after_func(d: Duration, f: impl FnOnce() + Send + 'static) -> AfterFunc {
    after_func_as(
        false,
        d,
        crate::goroutine::body(f),
        std::panic::Location::caller(),
    )
}

/// `after_func` whose goroutine is the runtime's own, which `num_goroutines` does not count
/// (a context's deadline).
#[track_caller]
pub(crate) fn after_func_system(d: Duration, f: impl FnOnce() + Send + 'static) -> AfterFunc {
    after_func_as(
        true,
        d,
        crate::goroutine::body(f),
        std::panic::Location::caller(),
    )
}

/// Starts `body` in a goroutine now if a stack can be had, else as `after_func` retries (a
/// context's `after_func`s, started by `cancel`).
pub(crate) fn go_or_retry(system: bool, body: Body, loc: &'static std::panic::Location<'static>) {
    if let Err(body) = try_go(system, body, loc) {
        after_func_as(system, Duration::from_nanos(RETRY_NS as u64), body, loc);
    }
}

/// Starts `body` in a goroutine; gives it back if no stack can be had.
fn try_go(
    system: bool,
    body: Body,
    loc: &'static std::panic::Location<'static>,
) -> Result<(), Body> {
    let r = if system {
        crate::rt::try_spawn_system(body, loc)
    } else {
        crate::rt::try_spawn(body, 0, None, loc)
    };
    r.map(drop).map_err(|(e, body)| {
        static WARNED: AtomicBool = AtomicBool::new(false);
        if !WARNED.swap(true, Relaxed) {
            crate::util::write_stderr(
                format!(
                    "gort: warning: the goroutine of an after_func ({loc}) could not be started \
                     ({e}); retrying every 10 ms until it can\n"
                )
                .as_bytes(),
            );
        }
        body
    })
}

fn after_func_as(
    system: bool,
    d: Duration,
    body: Body,
    loc: &'static std::panic::Location<'static>,
) -> AfterFunc {
    crate::rt::ensure_started();
    let inner = Arc::new(AfterInner {
        node: TimerNode::new(),
        f: std::sync::Mutex::new(Some(body)),
        system,
        loc,
    });
    let p = Arc::into_raw(inner.clone());
    // SAFETY: the heap's strong reference (`p`) keeps the node alive until the callback or a
    // successful `stop` reclaims it.
    unsafe { add_timer(&(*p).node, deadline_after(d), after_fire) };
    AfterFunc { inner }
}

impl AfterFunc {
    /// Prevents the function from running. Returns true if it had not started (Go's Stop).
    /// False means its time had come: it has started, or will as soon as its goroutine can be
    /// (while no stack can be had, it waits, and a later `stop` may still prevent it).
    pub fn stop(&self) -> bool {
        if self.inner.node.stop() {
            // SAFETY: the node left the heap without firing: release the heap's reference.
            unsafe { Arc::decrement_strong_count(Arc::as_ptr(&self.inner)) };
            let f = self
                .inner
                .f
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take();
            // Dropped unlocked: its captures' drops may use this handle.
            drop(f);
            true
        } else {
            false
        }
    }
}

impl std::fmt::Debug for AfterFunc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfterFunc").finish_non_exhaustive()
    }
}

/// Fires an `after_func`: starts its goroutine, or, if no stack can be had, puts the body back
/// and tries again in `RETRY_NS`. Never drops the body here: this runs on a scheduler's stack,
/// with no goroutine current, where the drop of a capture must not run.
unsafe fn after_fire(t: *const TimerNode, _: u64) {
    // SAFETY: `node` is the first field of the repr(C) AfterInner; the heap's strong reference
    // (leaked by `after_func_as`, or by the retry below) is reclaimed here.
    let inner = unsafe { Arc::from_raw(t as *const AfterInner) };
    let Some(body) = inner.f.lock().unwrap_or_else(|e| e.into_inner()).take() else {
        return;
    };
    if let Err(body) = try_go(inner.system, body, inner.loc) {
        *inner.f.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
        let p = Arc::into_raw(inner);
        // SAFETY: the node just left the heap (its callback is running) and is armed again by
        // its one owner, this callback; the reference leaked into `p` keeps it alive.
        unsafe {
            add_timer(
                &(*p).node,
                crate::sys::nanotime().saturating_add(RETRY_NS),
                after_fire,
            )
        };
    }
}
