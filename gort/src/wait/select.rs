//! `select`: wait on several channel operations at once (Go's src/runtime/select.go, selectgo),
//! over any channel that implements `Selectable` (crossbeam-channel's `SelectHandle` idea): the
//! algorithm sits below the channels, which use it for their timeouts, and the public `Select`
//! and `select!` above them hand it typed cases.
//!
//! 1. Poll order: a random permutation of the cases, so that among ready cases each is chosen
//!    with equal probability.
//! 2. Lock order: the cases sorted by channel address; every distinct channel is locked in that
//!    order, so concurrent selects over overlapping channels cannot deadlock.
//! 3. Pass 1: in poll order, the first case that can proceed completes, exactly as a plain
//!    send/receive would.
//! 4. Otherwise (and unless non-blocking), pass 2 links one `Waiter` per case, all pointing to one
//!    `SelectSync`, and parks; the park commit releases the locks. Whoever dequeues one of our
//!    waiters must first claim the select, so exactly one case fires (or the deadline timer).
//! 5. Pass 3, after wake-up: lock again and unlink the waiters of the cases that did not fire.
//!    A send case of the dynamic `Select` was only told that sending may be possible: it
//!    reserves the operation here, under the locks, or the select starts again from pass 1.
//!    So does a select whose reserved peer let go of it (`Waiter::retry`).
//!
//! Waiters, orders and the timeout timer live in this frame (stacks never move), so a select
//! allocates nothing for up to `INLINE` cases.

use std::sync::atomic::{AtomicBool, Ordering::*};

use super::{Reservation, SelectSync, Selectable, Status, TIMEOUT, WaitQueue, Waiter, WakeList};
use crate::rt::{G, Timer, WaitReason, current_g, park, ready};

/// Cases handled without heap allocation.
const INLINE: usize = 16;

/// One operation of a select. `elem` is the value (send) or destination (receive). A send with
/// a null `elem` (the dynamic `Select`'s) is a reservation: when it fires, the right to send
/// without blocking is written to `reserve`. `result`, if not null, receives the outcome when
/// this case fires.
#[doc(hidden)]
pub struct Case<'a, C: ?Sized> {
    pub(crate) chan: &'a C,
    pub(crate) send: bool,
    pub(crate) elem: *mut u8,
    pub(crate) result: *mut CaseResult,
    pub(crate) reserve: *mut Reservation,
}

/// What became of a case's value: written through `Case::result` when the case fires (and by
/// a send slot when it gives its value back).
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CaseResult {
    /// The case has not fired (or its outcome was taken).
    Pending,
    /// The value moved: received into the destination, or sent (or, for a send slot, given
    /// back to the caller).
    Moved,
    /// The channel was closed: nothing was received, or the value was not sent.
    Closed,
}

/// How long a select may wait.
#[derive(Clone, Copy)]
pub(crate) enum Mode {
    Block,
    NonBlock,
    /// Until this nanotime.
    Until(i64),
}

/// Runs a select. Returns the case that fired and whether it succeeded (false: closed), or None
/// if nothing was ready (non-blocking) or the deadline passed.
pub(crate) fn select<C: Selectable + ?Sized>(
    cases: &[Case<'_, C>],
    mode: Mode,
) -> Option<(usize, bool)> {
    let n = cases.len();
    if n == 0 {
        return select_nothing(mode);
    }
    // Every select is a preemption point, one with a default arm too: a goroutine that polls in
    // a loop must still give way when its time slice is up.
    crate::rt::check_preempt();
    let mut inline_orders = [0usize; 2 * INLINE];
    let mut heap_orders = Vec::new();
    let orders: &mut [usize] = if n <= INLINE {
        &mut inline_orders[..2 * n]
    } else {
        heap_orders.resize(2 * n, 0);
        &mut heap_orders
    };
    let (poll, lock) = orders.split_at_mut(n);
    // Initialised (afresh) by each blocking round.
    let mut inline_waiters: [Waiter; INLINE];
    let mut heap_waiters = Vec::new();
    loop {
        for (i, c) in cases.iter().enumerate() {
            // Before anything is locked, a due timer fires into its channel (only receive
            // cases can be on one: a timer's channel has no `Sender` outside its timer).
            c.chan.run_due_timer();
            let j = crate::util::rand::below(i as u32 + 1) as usize;
            poll[i] = poll[j];
            poll[j] = i;
        }
        lock_order(cases, poll, lock);

        lock_all(cases, lock);
        let mut wake = WakeList::new();
        for &i in poll.iter() {
            let c = &cases[i];
            // A select that may wait waits for its send to be taken (`try_send_locked`).
            let blocking = !matches!(mode, Mode::NonBlock);
            // SAFETY: all locks held; elems are valid per `Case`'s contract.
            if let Some(st) = unsafe { try_case(c, &mut wake, blocking) } {
                unlock_all(cases, lock, C::unlock);
                let ok = st == Status::Done;
                set_result(c, ok);
                wake.wake_all();
                // After a take, as every receive does (`RawChan::run_due_timer`).
                c.chan.run_due_timer();
                return Some((i, ok));
            }
        }
        if let Mode::NonBlock = mode {
            unlock_all(cases, lock, C::unlock);
            wake.wake_all();
            return None;
        }

        // Pass 2: enqueue on every channel and park.
        let waiters: &mut [Waiter] = if n <= INLINE {
            inline_waiters = [const { Waiter::new(std::ptr::null_mut()) }; INLINE];
            &mut inline_waiters[..n]
        } else {
            heap_waiters.clear();
            heap_waiters.resize_with(n, || Waiter::new(std::ptr::null_mut()));
            &mut heap_waiters
        };
        let sync = SelectSync::new();
        let gp = current_g();
        for &i in lock.iter() {
            let c = &cases[i];
            let w = &mut waiters[i];
            w.g = gp;
            w.elem = c.elem;
            w.sel = &sync;
            w.case = i;
            // SAFETY: lock held; the waiter lives in this frame until pass 3 unlinks it.
            unsafe { queue(c).enqueue(w) };
        }
        let mut timer = TimeoutTimer::new(&sync, gp);
        let deadline = match mode {
            Mode::Until(t) => Some(t),
            _ => None,
        };
        let lock: &[usize] = lock;
        park(WaitReason::Select, &mut |_| {
            // Take what we need from this (parked) frame before releasing the locks: once the
            // last (lowest) is released, the goroutine may run on and the frame may be gone,
            // and so may the channels (hence `unlock_final`). A case or the timer may ready us
            // earlier, but we then block in pass 3 until every lock below is released.
            let wake = std::mem::replace(&mut wake, WakeList::new());
            let timer_wake = deadline.and_then(|t| timer.arm(t));
            unlock_all(cases, lock, C::unlock_final);
            wake.wake_all();
            if let Some(when) = timer_wake {
                crate::rt::wake_for_timer(when);
            }
            true
        });

        // Pass 3: unlink the waiters that did not fire.
        let fired = sync.fired();
        lock_all(cases, lock);
        for (i, c) in cases.iter().enumerate() {
            if i != fired {
                // SAFETY: lock held; the waiter is ours and, if queued, queued on this channel.
                unsafe { queue(c).remove(&mut waiters[i]) };
            }
        }
        let mut wake = WakeList::new();
        // A readiness case that fired reserves its operation now (see `dynamic`); if another
        // goroutine took the chance first, or a reserved peer let go, start again.
        let settled = fired == TIMEOUT
            || (!waiters[fired].retry
                // SAFETY: all locks held.
                && (!cases[fired].elem.is_null() || unsafe { try_case(&cases[fired], &mut wake, false) }.is_some()));
        unlock_all(cases, lock, C::unlock);
        wake.wake_all();
        timer.disarm();
        if !settled {
            continue;
        }
        if fired == TIMEOUT {
            return None;
        }
        let ok = waiters[fired].success;
        set_result(&cases[fired], ok);
        // After a take, as every receive does (`RawChan::run_due_timer`): a value passed on by
        // a dropped async receive is a buffered tick, taken here.
        cases[fired].chan.run_due_timer();
        return Some((fired, ok));
    }
}

/// A select with no cases: nothing can ever be ready.
fn select_nothing(mode: Mode) -> Option<(usize, bool)> {
    match mode {
        Mode::NonBlock => None,
        Mode::Until(t) => {
            let left = t - crate::sys::nanotime();
            if left > 0 {
                crate::rt::sleep(std::time::Duration::from_nanos(left as u64));
            }
            None
        }
        Mode::Block => {
            panic!("gort: select with no cases and no default or timeout would block forever")
        }
    }
}

fn set_result<C: ?Sized>(c: &Case<'_, C>, ok: bool) {
    if !c.result.is_null() {
        // SAFETY: `result` points to the outcome of the case's slot (Case contract).
        unsafe {
            *c.result = if ok {
                CaseResult::Moved
            } else {
                CaseResult::Closed
            }
        };
    }
}

/// The queue a waiter for `c` goes to. Caller holds the channel's lock.
unsafe fn queue<'a, C: Selectable + ?Sized>(c: &Case<'a, C>) -> &'a mut WaitQueue {
    // SAFETY: the caller holds the lock.
    unsafe { c.chan.waiters(c.send) }
}

/// A channel's address: the lock order, and how cases on one channel are told apart.
fn addr<C: ?Sized>(c: &C) -> usize {
    c as *const C as *const () as usize
}

/// The non-blocking part of one case (channel locked). A case without a value (a send of the
/// dynamic `Select`) reserves its operation instead, into `Case::reserve`. Inlined into the
/// select loop by force: left to itself, the compiler's choice cost W7 25 instructions a select.
#[inline(always)]
unsafe fn try_case<C: Selectable + ?Sized>(
    c: &Case<'_, C>,
    wake: &mut WakeList,
    blocking: bool,
) -> Option<Status> {
    // SAFETY: forwarded from the caller.
    unsafe {
        if c.elem.is_null() {
            let r = c.chan.reserve_send_locked()?;
            *c.reserve = r;
            return Some(Status::Done);
        }
        if c.send {
            c.chan.try_send_locked(c.elem, wake, blocking)
        } else {
            c.chan.try_recv_locked(c.elem, wake)
        }
    }
}

/// Fills `lock` with the cases in lock order: by channel address and, among cases on one
/// channel, in poll order, so that they are enqueued in random order and a waker's choice among
/// them is fair (Go heap-sorts the poll order, to the same end).
///
/// The sort starts from the cases' own order, which is the same at every run of one select, so
/// its comparisons branch the same way each time. Sorting the random poll order instead made
/// them unpredictable: that sort was a tenth of the select benchmark's time at one processor.
fn lock_order<C: ?Sized>(cases: &[Case<'_, C>], poll: &[usize], lock: &mut [usize]) {
    for (k, i) in lock.iter_mut().enumerate() {
        *i = k;
    }
    // Stable: cases on one channel stay in the cases' order, put in poll order below.
    lock.sort_by_key(|&i| addr(cases[i].chan));
    let mut k = 0;
    while k < lock.len() {
        let a = addr(cases[lock[k]].chan);
        let mut end = k + 1;
        while end < lock.len() && addr(cases[lock[end]].chan) == a {
            end += 1;
        }
        if end - k > 1 {
            let same = poll.iter().filter(|&&i| addr(cases[i].chan) == a);
            for (slot, &i) in lock[k..end].iter_mut().zip(same) {
                *slot = i;
            }
        }
        k = end;
    }
}

fn lock_all<C: Selectable + ?Sized>(cases: &[Case<'_, C>], order: &[usize]) {
    let mut prev = 0;
    for &i in order {
        let c = addr(cases[i].chan);
        if c != prev {
            cases[i].chan.lock();
            prev = c;
        }
    }
}

/// Go's selunlock: releases every channel locked by `lock_all`, in reverse lock order, each at
/// its *last* entry in that walk (the first in lock order). A channel that appears in several
/// cases is unlocked only after its final entry has been read, so that in a park commit the
/// final unlock is the last access to `cases` and `order`, which live in the parked goroutine's
/// frames: a waker may run the goroutine, and reuse its stack, the moment a lock is released,
/// although it blocks in pass 3's `lock_all` until the lowest channel, released last, is free.
/// A park commit passes `Selectable::unlock_final`, which touches no channel after releasing
/// it (once the last is released the goroutine may return and drop them); others pass `unlock`.
fn unlock_all<C: Selectable + ?Sized>(cases: &[Case<'_, C>], order: &[usize], unlock: fn(&C)) {
    for k in (0..order.len()).rev() {
        let c = cases[order[k]].chan;
        if k > 0 && addr(c) == addr(cases[order[k - 1]].chan) {
            continue;
        }
        unlock(c);
    }
}

/// The deadline of a blocked select: a timer in the selecting frame that claims the select for
/// `TIMEOUT` when it fires.
#[repr(C)]
struct TimeoutTimer {
    timer: Timer,
    sync: *const SelectSync,
    g: *mut G,
    armed: bool,
    /// Set by the callback as its last access to this frame.
    finished: AtomicBool,
}

impl TimeoutTimer {
    fn new(sync: &SelectSync, g: *mut G) -> TimeoutTimer {
        TimeoutTimer {
            timer: Timer::new(),
            sync,
            g,
            armed: false,
            finished: AtomicBool::new(false),
        }
    }

    /// Arms the timer under the channel locks; an M that must wake for it is left to the
    /// caller, after it releases them (`rt::add_timer_quietly`).
    fn arm(&mut self, when: i64) -> Option<i64> {
        self.armed = true;
        // SAFETY: the timer lives in the selecting frame, which does not return before
        // `disarm` has stopped it or waited for its callback.
        unsafe { crate::rt::add_timer_quietly(&self.timer, when, fire) }
    }

    /// Stops the timer; if its callback already started, waits until it is done with us.
    fn disarm(&self) {
        if self.armed && !self.timer.stop() {
            while !self.finished.load(Acquire) {
                std::hint::spin_loop();
            }
        }
    }
}

/// The deadline passed: claims the select for `TIMEOUT` and readies its G if that won.
///
/// `finished` is set before the G is readied, not after: a plain thread's G is woken by the
/// kernel, often onto this CPU, ahead of this thread, and its `disarm` would then spin on a
/// flag that this thread, no longer running, cannot set (a kernel time slice, 2-4 ms). Once
/// `finished` is set the frame may be gone, so nothing of it is touched after; a G whose
/// select this callback claimed stays parked until readied here, and Gs are never freed.
unsafe fn fire(t: *const Timer, _: u64) {
    let tt = t as *const TimeoutTimer;
    // SAFETY: `timer` is the first field of the repr(C) TimeoutTimer, which outlives the callback
    // until `finished` is set (see `disarm`).
    unsafe {
        let g = (*tt).g;
        let claimed = (*(*tt).sync).claim(TIMEOUT);
        (*tt).finished.store(true, Release);
        if claimed {
            ready(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(chan: &u8) -> Case<'_, u8> {
        Case {
            chan,
            send: false,
            elem: std::ptr::null_mut(),
            result: std::ptr::null_mut(),
            reserve: std::ptr::null_mut(),
        }
    }

    #[test]
    fn lock_order_is_by_address_then_poll_order() {
        let chans = [0u8; 3];
        let (a, b, c) = (&chans[0], &chans[1], &chans[2]);
        // Cases 0 and 3 share `c`, 1 and 4 share `a`.
        let cases = [case(c), case(a), case(b), case(c), case(a)];
        for poll in [
            [0, 1, 2, 3, 4],
            [4, 3, 2, 1, 0],
            [3, 0, 4, 2, 1],
            [2, 4, 1, 3, 0],
        ] {
            let mut lock = [usize::MAX; 5];
            lock_order(&cases, &poll, &mut lock);
            let pos = |i: usize| poll.iter().position(|&p| p == i).unwrap();
            let (a1, a2) = if pos(1) < pos(4) { (1, 4) } else { (4, 1) };
            let (c1, c2) = if pos(0) < pos(3) { (0, 3) } else { (3, 0) };
            assert_eq!(lock, [a1, a2, 2, c1, c2], "poll order {poll:?}");
        }
    }
}
