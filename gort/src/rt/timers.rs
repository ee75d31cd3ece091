//! Per-P timer heaps, run by the scheduler: no timer thread (Go's `time.go`, simplified).
//!
//! Each P owns a min-heap of `Timer`s ordered by `when` (monotonic nanoseconds). Schedulers run the
//! expired timers of their own P on every scheduling round (a direct switch does, in its middle:
//! rt::handoff), idle Ms run other Ps' expired timers while looking for work, and the one M that
//! sleeps for timers sleeps until the earliest `when` across all heaps. Add, stop and reset are
//! O(log n): a timer knows its heap and its index. As Go's, the heap is 4-ary and keeps each
//! deadline beside the timer's pointer (`timerWhen`), so sifting reads only the heap's own
//! array. Only stoppable timers have their index kept up to date: a sleep's timer is never
//! stopped, and writing the index into every timer a sift moves costs a cache miss per level
//! (each timer lives in its own G).
//!
//! Beside the heap, each P keeps a run: a queue of fire-only timers added in deadline order
//! (each no earlier than the last one queued). Sleeps of one duration, the common case (a poll
//! interval, a retry delay, every sleeper of a benchmark), arrive in that order, since each
//! deadline is the clock plus the same amount; they go to the back of the run and leave from
//! its front, with no sift either way. Any other timer goes to the heap, and the earliest of the
//! two heads fires first. (A long sleep at the back of the run sends shorter ones to the heap
//! until it fires: the run helps where durations repeat, and costs nothing where they do not.)
//! W8 (10,000 goroutines sleeping 1 ms) at one processor: 10% less CPU a sleep. tokio's hashed
//! wheel gets the same O(1) for every timer by rounding deadlines to the millisecond, which Go's
//! timers (and ours) do not do.
//!
//! Deviation from Go: Go 1.23 keeps timers in a heap per P with lazy deletion and per-timer
//! locks; here each heap has one short lock and deletion is eager, which keeps the state of a
//! timer simple (in exactly one heap, or in none) at a small cost in lock traffic.
//!
//! Invariants: `Timer::heap` is non-null exactly while the timer is in that heap, and it and
//! `Timer::idx` change only under that heap's lock (both heaps' locks while `move_all_to` moves
//! it). A stoppable timer's `idx` is its position in the heap; a slot's tag bit says whether its
//! timer is stoppable; stoppable timers are never in the run, whose deadlines never decrease
//! from front to back. A callback runs after its timer left the heap and with no heap lock held,
//! so it may add timers and ready goroutines.

use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use crate::util::loom::{AtomicI64, AtomicPtr, AtomicU64, AtomicUsize, Mutex};

/// What a timer does when it fires. Runs on a scheduler (or in the middle of a direct switch, on
/// the same system stack), with no goroutine current and no lock held; must not block.
/// The second argument is the timer's arming number at the moment it left the heap: a callback
/// that can race with re-arming (`time::Timer::reset`) compares it with `Timer::arming()` to
/// tell a current firing from a stale one.
pub(crate) type TimerFn = unsafe fn(*const Timer, u64);

/// A timer node. Lives inside the object that owns it (a G for `sleep`); the owner keeps it alive
/// and unmoved while it is in a heap or its callback may run.
pub(crate) struct Timer {
    when: AtomicI64,
    /// Incremented by every `add`, under the heap lock (written only by `add`, whose callers
    /// never add one timer twice at once).
    arming: AtomicU64,
    idx: AtomicUsize,
    heap: AtomicPtr<TimerHeap>,
    f: AtomicUsize,
    /// Whether `stop` may be called: fixed at creation. A heap keeps only stoppable timers'
    /// `idx` current.
    stoppable: bool,
    /// Whether this is a channel timer's (`Timer::for_channel`): fixed at creation.
    channel: bool,
}

impl Timer {
    /// A timer that can be stopped.
    pub(crate) fn new() -> Timer {
        Timer::with_stop(true)
    }

    /// A timer that is never stopped once added (a sleep's): it only fires.
    pub(crate) fn fire_only() -> Timer {
        Timer::with_stop(false)
    }

    /// A stoppable timer that sends on a channel (`time::Timer`, `after`, `Ticker`): the
    /// deadlock detector asks whether anyone waits on the channel (`rt::set_channel_timers`).
    pub(crate) fn for_channel() -> Timer {
        Timer {
            channel: true,
            ..Timer::new()
        }
    }

    fn with_stop(stoppable: bool) -> Timer {
        Timer {
            channel: false,
            when: AtomicI64::new(0),
            arming: AtomicU64::new(0),
            idx: AtomicUsize::new(0),
            heap: AtomicPtr::new(null_mut()),
            f: AtomicUsize::new(0),
            stoppable,
        }
    }

    pub(crate) fn when(&self) -> i64 {
        self.when.load(Relaxed)
    }

    /// How many times the timer has been added to a heap.
    pub(crate) fn arming(&self) -> u64 {
        self.arming.load(Acquire)
    }

    /// Whether this is a channel timer's (`Timer::for_channel`).
    pub(crate) fn is_channel(&self) -> bool {
        self.channel
    }

    /// Removes the timer from whichever heap holds it. Returns whether it was pending (so its
    /// callback will not run for that arming).
    pub(crate) fn stop(&self) -> bool {
        assert!(self.stoppable, "stop called on a fire-only timer");
        loop {
            let h = self.heap.load(Acquire);
            if h.is_null() {
                return false;
            }
            // SAFETY: heaps live in Ps, which are never freed.
            let heap = unsafe { &*h };
            let mut v = heap.lock();
            if self.heap.load(Relaxed) == h {
                let i = self.idx.load(Relaxed);
                heap.remove_at(&mut v, i);
                return true;
            }
        }
    }
}

/// A heap entry: the timer's deadline is kept beside the pointer (as Go's `timerWhen`), so
/// sifting compares without touching the timers, which live all over memory (in Gs).
#[derive(Clone, Copy)]
struct Slot {
    when: i64,
    /// The timer's address, with bit 0 set if the timer is stoppable (its `idx` is tracked).
    tagged: usize,
}

impl Slot {
    fn new(when: i64, t: &Timer) -> Slot {
        Slot {
            when,
            tagged: t as *const Timer as usize | usize::from(t.stoppable),
        }
    }

    fn timer(self) -> *const Timer {
        (self.tagged & !1) as *const Timer
    }

    fn tracked(self) -> bool {
        self.tagged & 1 != 0
    }
}

/// A heap's entries: the 4-ary heap, and beside it the in-order run (see the module doc).
struct Slots {
    heap: Vec<Slot>,
    /// Fire-only timers, each added no earlier than the one before it: already sorted.
    run: VecDeque<Slot>,
}

impl Slots {
    /// The entry due first, and whether it is the run's (else the heap's root).
    fn first(&self) -> Option<(Slot, bool)> {
        match (self.heap.first(), self.run.front()) {
            (Some(&h), Some(&r)) => Some(if r.when <= h.when {
                (r, true)
            } else {
                (h, false)
            }),
            (Some(&h), None) => Some((h, false)),
            (None, Some(&r)) => Some((r, true)),
            (None, None) => None,
        }
    }

    fn first_when(&self) -> i64 {
        self.first().map_or(i64::MAX, |(s, _)| s.when)
    }

    /// Adds an entry: to the back of the run if it is fire-only and no earlier than the run's
    /// last, else to the heap.
    fn push(&mut self, s: Slot) {
        if !s.tracked() && self.run.back().is_none_or(|b| b.when <= s.when) {
            self.run.push_back(s);
        } else {
            let i = self.heap.len();
            self.heap.push(s);
            sift_up(&mut self.heap, i);
        }
    }
}
// SAFETY: the pointers are only dereferenced under the heap lock, and every Timer in a heap is
// kept alive by its owner (see `Timer`).
unsafe impl Send for Slots {}

/// A min-heap of timers with its earliest `when` readable without the lock.
pub(crate) struct TimerHeap {
    slots: Mutex<Slots>,
    /// Earliest `when` in the heap, i64::MAX when empty. Written under the lock.
    next: AtomicI64,
}

impl TimerHeap {
    pub(crate) fn new() -> TimerHeap {
        TimerHeap {
            slots: Mutex::new(Slots {
                heap: Vec::new(),
                run: VecDeque::new(),
            }),
            next: AtomicI64::new(i64::MAX),
        }
    }

    fn lock(&self) -> impl std::ops::DerefMut<Target = Slots> + '_ {
        crate::util::loom::lock(&self.slots)
    }

    /// The earliest deadline, without locking.
    pub(crate) fn next_when(&self) -> i64 {
        self.next.load(Acquire)
    }

    /// Timers in the heap, or None if its lock is held (for a report that must not wait).
    pub(crate) fn try_len(&self) -> Option<usize> {
        let v = self.slots.try_lock().ok()?;
        Some(v.heap.len() + v.run.len())
    }

    /// Whether `wakes(timer)` holds for some timer here. Runs under the heap lock, so `wakes`
    /// must take no lock.
    pub(crate) fn any(&self, mut wakes: impl FnMut(&Timer) -> bool) -> bool {
        let v = self.lock();
        v.heap.iter().chain(&v.run).any(|s| {
            // SAFETY: a timer in the heap is alive (see `Timer`).
            wakes(unsafe { &*s.timer() })
        })
    }

    /// Timers in the heap (takes the lock).
    pub(crate) fn len(&self) -> usize {
        let v = self.lock();
        v.heap.len() + v.run.len()
    }

    /// Adds `t`, firing `f` at `when`. Returns true if `t` is now the earliest timer here.
    ///
    /// # Safety
    /// `t` must not be in any heap, and must stay alive and unmoved until it is stopped or its
    /// callback has run. Adds of one timer are ordered (each happens after the previous one
    /// ended): its owner arms it, never two threads at once.
    pub(crate) unsafe fn add(&self, t: *const Timer, when: i64, f: TimerFn) -> bool {
        // `i64::MAX` is "no timer" to the readers of `next`: a timer that never fires (a sleep
        // of `Duration::MAX`, saturated) still is one, which the deadlock detector must see.
        let when = when.min(i64::MAX - 1);
        // SAFETY: the caller guarantees `t` is alive.
        let tr = unsafe { &*t };
        let mut v = self.lock();
        tr.when.store(when, Relaxed);
        // A load and a store, not a locked add: every `add` of a timer holds a heap lock and
        // comes from its one owner (the contract above), so writes never race; and the
        // locked add stalled on the timer's cold line in every sleep.
        tr.arming
            .store(tr.arming.load(Relaxed).wrapping_add(1), Release);
        tr.f.store(f as usize, Relaxed);
        tr.heap.store(self as *const _ as *mut _, Release);
        let earliest = when < v.first_when();
        v.push(Slot::new(when, tr));
        self.next.store(v.first_when(), Release);
        earliest
    }

    /// Takes the stoppable timer at `i` of the heap out (stoppable timers are never in the run).
    fn remove_at(&self, v: &mut Slots, i: usize) -> *const Timer {
        let t = Self::take(&mut v.heap, i);
        // SAFETY: `t` was in the heap, so it is alive.
        unsafe { (*t).heap.store(null_mut(), Release) };
        self.next.store(v.first_when(), Release);
        t
    }

    /// Takes the entry at `i` out of the heap without updating `next` or the timer's `heap`
    /// (the caller does both, before it unlocks).
    fn take(v: &mut Vec<Slot>, i: usize) -> *const Timer {
        let last = v.len() - 1;
        v.swap(i, last);
        let t = v.pop().expect("heap not empty").timer();
        if i < last {
            // The entry moved into the hole goes one way only.
            if i > 0 && v[(i - 1) / ARITY].when > v[i].when {
                sift_up(v, i);
            } else {
                sift_down(v, i);
            }
        }
        t
    }

    /// Runs every timer due at `now`. Returns how many ran.
    pub(crate) fn run_expired(&self, now: i64) -> usize {
        let mut ran = 0;
        if self.next_when() > now {
            return 0;
        }
        loop {
            // Uninitialised: zeroing it was 5% of a sleep's instructions (W8 under callgrind).
            let mut batch = [const { MaybeUninit::<(*const Timer, u64)>::uninit() }; 32];
            let mut n = 0;
            {
                let mut v = self.lock();
                while n < batch.len() {
                    let t = match v.first() {
                        Some((s, _)) if s.when > now => break,
                        None => break,
                        Some((s, true)) => {
                            v.run.pop_front();
                            s.timer()
                        }
                        Some((_, false)) => Self::take(&mut v.heap, 0),
                    };
                    if let Some((s, _)) = v.first() {
                        crate::arch::prefetch_write(s.timer().cast());
                    }
                    // SAFETY: `t` was just in the heap, so it is alive; read and cleared under
                    // the lock, as it leaves the heap.
                    unsafe {
                        (*t).heap.store(null_mut(), Release);
                        batch[n].write((t, (*t).arming()));
                    }
                    n += 1;
                }
                // Once per batch: until here it only lagged (an earlier `when` than the heap's,
                // which sends a reader to the lock for nothing, never past a due timer).
                self.next.store(v.first_when(), Release);
            }
            // Recorded before the callbacks: a goroutine they wake may stop the trace at once.
            if n > 0 && super::trace::ON.load(Relaxed) {
                super::trace::timers(n);
            }
            for slot in &batch[..n] {
                // SAFETY: the first `n` entries were written above.
                let (t, arming) = unsafe { slot.assume_init() };
                // SAFETY: the timer just left the heap; its owner keeps it alive until the
                // callback has run (contract of `add`), and `f` was stored from a `TimerFn`.
                unsafe {
                    let f: TimerFn = std::mem::transmute::<usize, TimerFn>((*t).f.load(Relaxed));
                    f(t, arming);
                }
            }
            ran += n;
            if n < batch.len() {
                return ran;
            }
        }
    }

    /// Moves every timer of `self` into `to` (a P is retiring), holding both heaps' locks
    /// throughout (Go's moveTimers, with both Ps' timer locks held): a concurrent `stop` either
    /// finds its timer still in `self` with a valid index, or in `to` with a valid index, and
    /// never sees it in neither. The only place two heap locks are held; they are taken in
    /// address order, so two opposite moves cannot deadlock.
    pub(crate) fn move_all_to(&self, to: &TimerHeap) {
        if std::ptr::eq(self, to) {
            return;
        }
        let (mut v, mut w) = if (self as *const TimerHeap) < (to as *const TimerHeap) {
            let v = self.lock();
            (v, to.lock())
        } else {
            let w = to.lock();
            (self.lock(), w)
        };
        let Slots { heap, run } = &mut *v;
        // The run first: it is sorted, so it can stay a run; the heap's array is not.
        for s in run.drain(..).chain(heap.drain(..)) {
            w.push(s);
            // SAFETY: the timer was in `self`, so it is alive; it moves under both locks.
            unsafe { (*s.timer()).heap.store(to as *const _ as *mut _, Release) };
        }
        self.next.store(i64::MAX, Release);
        to.next.store(w.first_when(), Release);
    }
}

/// Children per node: a 4-ary heap (as Go's timer heap) is half as deep as a binary one, and
/// the four children of a node share a cache line or two.
const ARITY: usize = 4;
// `sift_down` compares the four children in two pairs (`min_of_four`).
const _: () = assert!(ARITY == 4);

/// Puts `s` at `i` and, for a stoppable timer, records the position in it.
fn place(v: &mut [Slot], i: usize, s: Slot) {
    v[i] = s;
    if s.tracked() {
        // SAFETY: timers in the heap are alive; idx is written under the heap lock held by the
        // caller.
        unsafe { (*s.timer()).idx.store(i, Relaxed) };
    }
}

/// Moves the entry at `i` up to its place (a hole travels up; each entry moved is written
/// once).
fn sift_up(v: &mut [Slot], mut i: usize) {
    let s = v[i];
    while i > 0 {
        let parent = (i - 1) / ARITY;
        if v[parent].when <= s.when {
            break;
        }
        place(v, i, v[parent]);
        i = parent;
    }
    place(v, i, s);
}

/// Moves the entry at `i` down to its place (Go's `timers.siftDown`: the smaller of each pair of
/// children, then the smaller of the two). Where all four children exist, the choice is made
/// with selects rather than branches: which child is smallest is data, and a mispredicted
/// branch at every level was most of a sleep's mispredictions (W8 under cachegrind's branch
/// model: 1.8 of 2.6 per sleep).
fn sift_down(v: &mut [Slot], mut i: usize) {
    let n = v.len();
    let s = v[i];
    loop {
        let c = ARITY * i + 1;
        let (c, w) = if c + 3 < n {
            min_of_four(v, c)
        } else if c < n {
            min_of_tail(v, c, n)
        } else {
            break;
        };
        if s.when <= w {
            break;
        }
        place(v, i, v[c]);
        i = c;
    }
    place(v, i, s);
}

/// The smallest of the four entries from `c` and its deadline, without data-dependent branches.
#[inline(always)]
fn min_of_four(v: &[Slot], c: usize) -> (usize, i64) {
    let (w0, w1, w2, w3) = (v[c].when, v[c + 1].when, v[c + 2].when, v[c + 3].when);
    let (a, wa) = select(w1 < w0, (c + 1, w1), (c, w0));
    let (b, wb) = select(w3 < w2, (c + 3, w3), (c + 2, w2));
    select(wb < wa, (b, wb), (a, wa))
}

/// `if cond { x } else { y }` for an index and a deadline, as selects (cmov) rather than a branch.
#[inline(always)]
fn select(cond: bool, x: (usize, i64), y: (usize, i64)) -> (usize, i64) {
    let m = (cond as usize).wrapping_neg();
    let mw = m as i64;
    ((x.0 & m) | (y.0 & !m), (x.1 & mw) | (y.1 & !mw))
}

/// The smallest of the one to three entries from `c` to the end of the heap, and its deadline.
fn min_of_tail(v: &[Slot], c: usize, n: usize) -> (usize, i64) {
    let mut best = (c, v[c].when);
    for (k, s) in v[..n].iter().enumerate().skip(c + 1) {
        if s.when < best.1 {
            best = (k, s.when);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    static FIRED: AtomicUsize = AtomicUsize::new(0);
    unsafe fn count(_: *const Timer, _: u64) {
        FIRED.fetch_add(1, SeqCst);
    }

    #[test]
    fn order_stop_and_run() {
        let h = TimerHeap::new();
        let timers: Vec<Timer> = (0..100).map(|_| Timer::new()).collect();
        for (i, t) in timers.iter().enumerate() {
            let when = ((i * 37) % 100) as i64;
            // SAFETY: `timers` outlives the heap's use of them.
            unsafe { h.add(t, when, count) };
        }
        assert_eq!(h.next_when(), 0);
        // Stop every timer whose when is odd.
        let mut stopped = 0;
        for t in &timers {
            if t.when() % 2 == 1 {
                assert!(t.stop());
                assert!(!t.stop());
                stopped += 1;
            }
        }
        assert_eq!(h.len(), 100 - stopped);
        let before = FIRED.load(SeqCst);
        assert_eq!(h.run_expired(49), 25);
        assert_eq!(h.next_when(), 50);
        assert_eq!(h.run_expired(1000), 25);
        assert_eq!(FIRED.load(SeqCst) - before, 50);
        assert_eq!(h.next_when(), i64::MAX);
    }

    /// A timer that never fires (a sleep of `Duration::MAX`, saturated to `i64::MAX`) is still
    /// a pending timer: `next_when` is not the empty heap's `i64::MAX`, which the deadlock
    /// detector and the timer waiter read as "no timer".
    #[test]
    fn a_timer_at_the_end_of_time_is_still_pending() {
        let h = TimerHeap::new();
        let t = Timer::new();
        // SAFETY: `t` outlives the heap's use of it.
        unsafe { h.add(&t, i64::MAX, count) };
        assert_ne!(h.next_when(), i64::MAX);
        assert_eq!(h.run_expired(i64::MAX - 2), 0);
        assert!(t.stop());
        assert_eq!(h.next_when(), i64::MAX);
    }

    thread_local! {
        /// The deadlines `record` saw fire, on this test's thread (callbacks run on the thread
        /// that calls `run_expired`), so tests running at once do not mix their records.
        static ORDER: std::cell::RefCell<Vec<i64>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    unsafe fn record(t: *const Timer, _: u64) {
        // SAFETY: the test keeps its timers alive.
        ORDER.with_borrow_mut(|o| o.push(unsafe { (*t).when() }));
    }

    /// Takes what `record` saw so far.
    fn fired() -> Vec<i64> {
        ORDER.take()
    }

    /// `n` timers, those at indices `stoppable` picks stoppable, the rest fire-only.
    fn timers(n: usize, stoppable: impl Fn(usize) -> bool) -> Vec<Timer> {
        (0..n)
            .map(|i| {
                if stoppable(i) {
                    Timer::new()
                } else {
                    Timer::fire_only()
                }
            })
            .collect()
    }

    /// Every stoppable timer's `idx` is its position in the heap.
    fn check_indices(h: &TimerHeap) {
        let v = h.lock();
        for (i, s) in v.heap.iter().enumerate() {
            // SAFETY: timers in the heap are alive.
            let t = unsafe { &*s.timer() };
            assert_eq!(s.tracked(), t.stoppable);
            if t.stoppable {
                assert_eq!(t.idx.load(Relaxed), i, "stale index");
            }
        }
    }

    /// Random adds, stops and re-adds among fire-only timers: timers fire in deadline order,
    /// each exactly once, and `stop` finds every stoppable timer where the heap says it is.
    #[test]
    fn random_operations_keep_the_heap_ordered() {
        let h = TimerHeap::new();
        let timers = timers(2000, |i| i % 3 != 0);
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rand = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for t in &timers {
            // SAFETY: `timers` outlives the heap's use of them.
            unsafe { h.add(t, (rand() % 10_000) as i64, record) };
        }
        let mut live = timers.len();
        for k in 0..3000 {
            let t = &timers[(rand() % timers.len() as u64) as usize];
            if k % 100 == 0 {
                check_indices(&h);
            }
            if !t.stoppable {
                continue;
            }
            if t.stop() {
                live -= 1;
            }
            if rand() % 2 == 0 {
                // SAFETY: as above; the timer is in no heap after `stop`.
                unsafe { h.add(t, (rand() % 10_000) as i64, record) };
                live += 1;
            }
        }
        check_indices(&h);
        assert_eq!(h.len(), live);
        fired();
        let mut now = 0;
        while h.next_when() != i64::MAX {
            now += 500;
            h.run_expired(now);
        }
        let order = fired();
        assert_eq!(order.len(), live);
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "fired out of order");
    }

    /// In-order sleeps (the run) mixed with out-of-order and stoppable timers (the heap), then
    /// a move to another P's heap: everything fires once, in deadline order, from both.
    #[test]
    fn the_run_and_the_heap_fire_in_one_order() {
        let (a, b) = (TimerHeap::new(), TimerHeap::new());
        let timers = timers(3000, |i| i % 4 == 0);
        for (i, t) in timers.iter().enumerate() {
            // Mostly rising, every fifth one early, as a shorter sleep would be.
            let when = if i % 5 == 0 { i as i64 / 2 } else { i as i64 };
            // SAFETY: `timers` outlives both heaps' use of them.
            unsafe { a.add(t, when, record) };
        }
        {
            let v = a.lock();
            assert!(v.run.len() > 1000, "in-order sleeps went to the run");
            assert!(
                v.run.iter().all(|s| !s.tracked()),
                "a stoppable timer in the run"
            );
        }
        for t in timers.iter().filter(|t| t.stoppable).step_by(2) {
            assert!(t.stop());
        }
        let live = a.len();
        assert_eq!(live, 3000 - 375);
        fired();
        a.run_expired(999);
        let early = fired();
        a.move_all_to(&b);
        assert_eq!((a.len(), b.len()), (0, live - early.len()));
        assert!(b.lock().run.len() > 500, "the moved run stays a run");
        while b.next_when() != i64::MAX {
            b.run_expired(b.next_when() + 7);
        }
        let order = [early, fired()].concat();
        assert_eq!(order.len(), live);
        assert!(order.windows(2).all(|w| w[0] <= w[1]), "fired out of order");
    }

    #[test]
    fn move_all_keeps_order() {
        let a = TimerHeap::new();
        let b = TimerHeap::new();
        let timers: Vec<Timer> = (0..10).map(|_| Timer::new()).collect();
        for (i, t) in timers.iter().enumerate() {
            // SAFETY: `timers` outlives both heaps' use of them.
            unsafe { a.add(t, 100 - i as i64, count) };
        }
        a.move_all_to(&b);
        assert_eq!(a.len(), 0);
        assert_eq!(b.next_when(), 91);
        assert!(timers[9].stop());
        assert_eq!(b.next_when(), 92);
    }

    /// A `stop` racing `move_all_to` removes exactly its own timer: before the fix, the mover
    /// published the new heap before the timer was in it, and `stop` removed whatever sat at
    /// the timer's stale index there (another timer), or underflowed an empty heap.
    #[test]
    fn stop_racing_move_removes_only_its_timer() {
        for round in 0..20_000u32 {
            let (a, b) = (TimerHeap::new(), TimerHeap::new());
            let (t, u) = (Timer::new(), Timer::new());
            // SAFETY: both timers outlive both heaps' use of them (stopped below).
            unsafe {
                a.add(&t, 10, count);
                if round % 2 == 0 {
                    b.add(&u, 5, count);
                }
            }
            let barrier = std::sync::Barrier::new(2);
            let stopped = std::thread::scope(|sc| {
                let h = sc.spawn(|| {
                    barrier.wait();
                    for _ in 0..(round % 64) {
                        std::hint::spin_loop();
                    }
                    t.stop()
                });
                barrier.wait();
                a.move_all_to(&b);
                h.join().unwrap()
            });
            assert!(
                stopped || t.stop(),
                "round {round}: the moved timer was lost"
            );
            if round % 2 == 0 {
                assert!(u.stop(), "round {round}: stop removed another timer");
            }
            assert_eq!(b.len(), 0);
            assert_eq!(a.len(), 0);
        }
    }
}

/// Model check (run with `--cfg loom`, see util::loom).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    unsafe fn nop(_: *const Timer, _: u64) {}

    /// `stop` racing `move_all_to` removes exactly its own timer from whichever heap holds it.
    #[test]
    fn loom_stop_racing_move() {
        loom::model(|| {
            let a = Arc::new(TimerHeap::new());
            let b = Arc::new(TimerHeap::new());
            let t = Arc::new(Timer::new());
            let u = Arc::new(Timer::new());
            // SAFETY: the timers outlive the heaps' use of them (both are stopped below).
            unsafe {
                a.add(&*t, 10, nop);
                b.add(&*u, 5, nop);
            }
            let (a2, b2) = (a.clone(), b.clone());
            let mover = loom::thread::spawn(move || a2.move_all_to(&b2));
            let stopped = t.stop();
            mover.join().unwrap();
            assert!(stopped || t.stop(), "the moved timer was lost");
            assert!(u.stop(), "stop removed another timer");
            assert_eq!(a.len() + b.len(), 0);
        });
    }
}
