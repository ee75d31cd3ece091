//! The address-keyed semaphore table: sleep and wakeup for the contended paths of `Mutex` and
//! `RwLock` (Go's `src/runtime/sema.go`: semacquire1 / semrelease1 / semaRoot).
//!
//! As Go's comment says, these are not semaphores to program with: a `semacquire(s)` waits until
//! it can decrement the counter `*s`, a `semrelease(s)` increments it and wakes one waiter, and
//! every sleep is paired with exactly one wakeup even when the wakeup comes first (Mullender and
//! Cox, "Semaphores in Plan 9"). The counter is the caller's own `AtomicU32`; its address is the
//! key into the table.
//!
//! # Structure
//! A fixed table of 251 buckets (a prime, so that it does not correlate with allocation
//! patterns), each on its own cache line. A bucket has a short runtime lock (`util::lock::Lock`,
//! Go's lock_futex), a waiter count readable without the lock (`nwait`, so that a release with
//! nobody waiting costs one atomic add and one load), and a treap of waiters with distinct
//! addresses; each tree node heads a FIFO list of further waiters on the same address. Finding an
//! address is O(log n) in the number of distinct addresses waiting in the bucket; queueing and
//! dequeueing within an address are O(1) (Go's golang.org/issue/17953).
//!
//! # Invariants
//! - A `Waiter` (Go's sudog) lives on the stack of the goroutine (or thread) that waits in it. It
//!   is linked into a bucket only while that goroutine is parked, and every field of it is read
//!   or written only under the bucket lock, except `handoff`, which the releaser writes after
//!   dequeueing the waiter and before `ready`ing it (the ready is the happens-before edge).
//! - A releaser reads everything it needs from a dequeued waiter before calling `ready`: after
//!   that the waiter's frame may be gone.
//! - `nwait` counts waiters of the bucket that have announced themselves (under the lock) and
//!   not yet been dequeued. Acquirers increment it before their last check of the counter and
//!   releasers load it after incrementing the counter, both SeqCst, so one of the two always sees
//!   the other (no lost wakeup).
//! - The counter outlives its waiters and releasers: the primitives here hold a borrow of the
//!   object that embeds it for the whole call.
//!
//! # Deviations from Go
//! - Parking goes through `park`'s commit callback, which runs once the goroutine is off its
//!   stack: the commit takes the bucket lock, announces the waiter, re-checks the counter
//!   (declining the park if it can be decremented now) and links the waiter. Go takes the lock
//!   before the switch and releases it in goparkunlock; doing all of it in the commit means no
//!   lock is held across a switch, and a goroutine that parks by blocking its thread (locked,
//!   unwinding, plain threads) hands its P off before it takes the lock, never while holding it.
//! - A waiter that is woken but finds the count already taken by a newcomer (semacquire's fast
//!   path) re-queues at the *head* of its address's queue; Go re-queues it where it asked to be
//!   (usually the tail). It was at the head when woken, so this keeps FIFO order. Measured: with
//!   four goroutines hammering a mutex at procs=2, Go's rule let a fifth wait 0.1-3 s (every
//!   wake-up stolen, back to the tail each time, and the mutex's starvation check never reached
//!   because it runs only after semacquire returns); with this rule the worst wait was ~10 ms.
//! - The hand-off flag is its own field (`handoff`) instead of reusing the treap's `ticket`.
//! - No block or mutex profiling, so no acquire/release times.
//!
//! # Model checking
//! `loom_tests` runs this code — counter checks, `nwait`, the treap, hand-offs — under loom
//! (`scripts/loom.sh`), with a two-bucket table, a spin lock for the bucket lock and a park that
//! sleeps the thread until `ready` (`model`).

use std::cell::Cell;
use std::ptr::null;
use std::sync::atomic::Ordering::*;

use crate::rt::{G, WaitReason};
use crate::util::fatal;
use crate::util::loom as la;
#[cfg(loom)]
use model::{Lock, can_yield, park, ready, yield_now};
#[cfg(not(loom))]
use {
    crate::rt::{can_yield, park, ready, yield_now},
    crate::util::lock::Lock,
};

/// Number of buckets (Go's semTabSize; two in the model, so that addresses share buckets).
#[cfg(not(loom))]
const SEM_TAB_SIZE: usize = 251;
#[cfg(loom)]
const SEM_TAB_SIZE: usize = 2;

/// The counter of a semaphore: the caller's own `AtomicU32` (loom's in the model tests).
pub(crate) trait Count {
    fn load(&self) -> u32;
    fn cas_weak(&self, cur: u32, new: u32) -> Result<u32, u32>;
    fn add_one(&self);
}

macro_rules! impl_count {
    ($t:ty) => {
        impl Count for $t {
            #[inline]
            fn load(&self) -> u32 {
                self.load(SeqCst)
            }
            #[inline]
            fn cas_weak(&self, cur: u32, new: u32) -> Result<u32, u32> {
                self.compare_exchange_weak(cur, new, SeqCst, SeqCst)
            }
            #[inline]
            fn add_one(&self) {
                self.fetch_add(1, SeqCst);
            }
        }
    };
}
impl_count!(std::sync::atomic::AtomicU32);
#[cfg(loom)]
impl_count!(la::AtomicU32);

/// A goroutine waiting in the table (Go's sudog, the fields sema.go uses). See the module
/// invariants for who may touch it when.
struct Waiter {
    /// The parked goroutine (or plain thread's G).
    g: Cell<*mut G>,
    /// The address waited on (Go's elem).
    addr: Cell<usize>,
    /// Treap priority, random; meaningful only for tree nodes.
    ticket: Cell<u32>,
    /// Tree links (Go's parent / prev / next): left child is `prev`, right child is `next`.
    parent: Cell<*const Waiter>,
    prev: Cell<*const Waiter>,
    next: Cell<*const Waiter>,
    /// Further waiters on the same address, FIFO (Go's waitlink); `waittail` is the last of them,
    /// kept only in the tree node.
    waitlink: Cell<*const Waiter>,
    waittail: Cell<*const Waiter>,
    /// Set by a releasing `semrelease(_, true)` that decremented the counter on our behalf: the
    /// woken waiter owns the unit and must not take another (Go's `s.ticket = 1`).
    handoff: Cell<bool>,
}

impl Waiter {
    const fn new() -> Waiter {
        Waiter {
            g: Cell::new(std::ptr::null_mut()),
            addr: Cell::new(0),
            ticket: Cell::new(0),
            parent: Cell::new(null()),
            prev: Cell::new(null()),
            next: Cell::new(null()),
            waitlink: Cell::new(null()),
            waittail: Cell::new(null()),
            handoff: Cell::new(false),
        }
    }
}

/// The waiters of one bucket (Go's semaRoot without the lock and count). Every method must be
/// called with the bucket lock held.
struct Root {
    treap: Cell<*const Waiter>,
}

/// One bucket: lock, waiter count and treap, alone on a cache line.
#[repr(align(64))]
struct Bucket {
    lock: Lock,
    /// Waiters announced and not yet dequeued (Go's nwait); read without the lock.
    nwait: la::AtomicU32,
    /// Protected by `lock`.
    root: Root,
}

// SAFETY: `root` (the only non-Sync field) is touched only under `lock`, and the waiters it
// points to follow the module invariants.
unsafe impl Sync for Bucket {}

/// An empty bucket (a macro: loom's atomics have no `const fn new`).
macro_rules! bucket {
    () => {
        Bucket {
            lock: Lock::new(),
            nwait: la::AtomicU32::new(0),
            root: Root {
                treap: Cell::new(null()),
            },
        }
    };
}

#[cfg(not(loom))]
static TABLE: [Bucket; SEM_TAB_SIZE] = [const { bucket!() }; SEM_TAB_SIZE];
#[cfg(loom)]
loom::lazy_static! {
    static ref TABLE: Vec<Bucket> = (0..SEM_TAB_SIZE).map(|_| bucket!()).collect();
}

fn bucket_for(addr: usize) -> &'static Bucket {
    &TABLE[(addr >> 3) % SEM_TAB_SIZE]
}

/// Nothing, except under the loom model: a SeqCst fence. The no-lost-wake-up argument (module
/// invariants) needs the single total order of SeqCst operations, which loom does not model for
/// loads and read-modify-writes (it treats them as AcqRel); a SeqCst fence after each of the two
/// read-modify-writes gives the model that order back. On x86-64 the locked instruction is a
/// full barrier anyway.
#[inline(always)]
fn seqcst_model() {
    #[cfg(loom)]
    la::fence(SeqCst);
}

/// Decrements `*sema` if it is positive (Go's cansemacquire).
#[inline]
fn cansemacquire(sema: &impl Count) -> bool {
    let mut v = sema.load();
    loop {
        if v == 0 {
            return false;
        }
        match sema.cas_weak(v, v - 1) {
            Ok(_) => return true,
            Err(cur) => v = cur,
        }
    }
}

/// Waits until `*sema > 0`, then decrements it (Go's semacquire1). With `lifo`, the caller goes
/// to the head of the address's queue (a mutex waiter that was woken and lost the race again).
/// Parks the goroutine; on a plain thread, blocks the thread.
pub(crate) fn semacquire<C: Count>(sema: &C, lifo: bool, reason: WaitReason) {
    if cansemacquire(sema) {
        return;
    }
    let addr = sema as *const C as usize;
    let b = bucket_for(addr);
    let w = Waiter::new();
    let mut lifo = lifo;
    loop {
        let mut acquired = false;
        park(reason, &mut |gp| {
            b.lock.lock();
            // Announce ourselves before the last check, so a release after it sees us.
            b.nwait.fetch_add(1, SeqCst);
            seqcst_model();
            if cansemacquire(sema) {
                b.nwait.fetch_sub(1, SeqCst);
                b.lock.unlock();
                acquired = true;
                return false;
            }
            w.g.set(gp);
            w.handoff.set(false);
            // SAFETY: the bucket lock is held; `w` lives in this (parked) frame until a releaser
            // dequeues it under the lock and readies us.
            unsafe { b.root.queue(addr, &w, lifo) };
            b.lock.unlock();
            true
        });
        if acquired || w.handoff.get() || cansemacquire(sema) {
            return;
        }
        // Woken, but a newcomer took the count first: we were at the head of the queue, so go
        // back to the head rather than the tail.
        lifo = true;
    }
}

/// Increments `*sema` and wakes one waiter on it, if any (Go's semrelease1). With `handoff`,
/// the unit is handed straight to the woken waiter when possible and the caller yields to it
/// (a starving mutex's direct hand-off).
pub(crate) fn semrelease<C: Count>(sema: &C, handoff: bool) {
    let addr = sema as *const C as usize;
    let b = bucket_for(addr);
    sema.add_one();
    seqcst_model();
    // Easy case: nobody waits. Must come after the add (see `semacquire`).
    if b.nwait.load(SeqCst) == 0 {
        return;
    }
    b.lock.lock();
    if b.nwait.load(SeqCst) == 0 {
        // Someone else consumed the count (or woke the waiter) meanwhile.
        b.lock.unlock();
        return;
    }
    // SAFETY: the bucket lock is held.
    let s = unsafe { b.root.dequeue(addr) };
    if !s.is_null() {
        b.nwait.fetch_sub(1, SeqCst);
    }
    b.lock.unlock();
    if s.is_null() {
        return;
    }
    // SAFETY: `s` was just dequeued: its goroutine stays parked (and its frame alive) until the
    // `ready` below, and nobody else can reach it any more.
    let s = unsafe { &*s };
    let gp = s.g.get();
    let direct = handoff && cansemacquire(sema);
    if direct {
        s.handoff.set(true);
    }
    // SAFETY: just dequeued (see above): we are the parked waiter's one waker.
    unsafe { ready(gp) };
    if direct && can_yield() {
        // The waiter sits in our P's runnext; let it run now on our time slice (Go's goyield,
        // which queues the yielder locally).
        yield_now(false);
    }
}

impl Root {
    /// Adds `s` to the waiters on `addr` (Go's semaRoot.queue): at the tail of the address's
    /// list, or at its head with `lifo`.
    ///
    /// # Safety
    /// The bucket lock is held; `s` is in no list and stays alive until dequeued; every waiter
    /// already in the treap is alive (module invariants).
    unsafe fn queue(&self, addr: usize, s: &Waiter, lifo: bool) {
        let sp: *const Waiter = s;
        s.addr.set(addr);
        s.parent.set(null());
        s.prev.set(null());
        s.next.set(null());
        s.waitlink.set(null());
        s.waittail.set(null());

        let mut last: *const Waiter = null();
        let mut pt: &Cell<*const Waiter> = &self.treap;
        loop {
            let tp = pt.get();
            if tp.is_null() {
                break;
            }
            // SAFETY: waiters in the treap are alive (caller's contract).
            let t = unsafe { &*tp };
            if t.addr.get() == addr {
                if lifo {
                    // Substitute s in t's place in the treap, t first in s's list.
                    pt.set(sp);
                    s.ticket.set(t.ticket.get());
                    s.parent.set(t.parent.get());
                    s.prev.set(t.prev.get());
                    s.next.set(t.next.get());
                    // SAFETY: children of a treap node are treap nodes, alive.
                    unsafe {
                        if let Some(c) = s.prev.get().as_ref() {
                            c.parent.set(sp);
                        }
                        if let Some(c) = s.next.get().as_ref() {
                            c.parent.set(sp);
                        }
                    }
                    s.waitlink.set(tp);
                    let tail = t.waittail.get();
                    s.waittail.set(if tail.is_null() { tp } else { tail });
                    t.parent.set(null());
                    t.prev.set(null());
                    t.next.set(null());
                    t.waittail.set(null());
                } else {
                    // Append s to t's list.
                    let tail = t.waittail.get();
                    if tail.is_null() {
                        t.waitlink.set(sp);
                    } else {
                        // SAFETY: list members are alive.
                        unsafe { (*tail).waitlink.set(sp) };
                    }
                    t.waittail.set(sp);
                }
                return;
            }
            last = tp;
            pt = if addr < t.addr.get() {
                &t.prev
            } else {
                &t.next
            };
        }

        // A new leaf; the treap's heap order on `ticket` (smallest at the root) keeps it
        // balanced on average. Tickets are odd so that they are never zero.
        s.ticket.set(crate::util::rand::next_u64() as u32 | 1);
        s.parent.set(last);
        pt.set(sp);
        loop {
            let pp = s.parent.get();
            if pp.is_null() {
                break;
            }
            // SAFETY: treap nodes are alive.
            let p = unsafe { &*pp };
            if p.ticket.get() <= s.ticket.get() {
                break;
            }
            // SAFETY: as above; the lock is held.
            unsafe {
                if p.prev.get() == sp {
                    self.rotate_right(p);
                } else {
                    if p.next.get() != sp {
                        fatal!("semaRoot queue: broken tree links");
                    }
                    self.rotate_left(p);
                }
            }
        }
    }

    /// Removes and returns the first waiter on `addr`, or null (Go's semaRoot.dequeue).
    ///
    /// # Safety
    /// The bucket lock is held; every waiter in the treap is alive.
    unsafe fn dequeue(&self, addr: usize) -> *const Waiter {
        let mut ps: &Cell<*const Waiter> = &self.treap;
        let sp = loop {
            let sp = ps.get();
            if sp.is_null() {
                return null();
            }
            // SAFETY: treap nodes are alive (caller's contract).
            let s = unsafe { &*sp };
            if s.addr.get() == addr {
                break sp;
            }
            ps = if addr < s.addr.get() {
                &s.prev
            } else {
                &s.next
            };
        };
        // SAFETY: as above.
        let s = unsafe { &*sp };
        let tp = s.waitlink.get();
        if !tp.is_null() {
            // Substitute t, the next waiter on addr, for s in the treap.
            // SAFETY: list members are alive.
            let t = unsafe { &*tp };
            ps.set(tp);
            t.ticket.set(s.ticket.get());
            t.parent.set(s.parent.get());
            t.prev.set(s.prev.get());
            t.next.set(s.next.get());
            // SAFETY: children of a treap node are treap nodes, alive.
            unsafe {
                if let Some(c) = t.prev.get().as_ref() {
                    c.parent.set(tp);
                }
                if let Some(c) = t.next.get().as_ref() {
                    c.parent.set(tp);
                }
            }
            t.waittail.set(if t.waitlink.get().is_null() {
                null()
            } else {
                s.waittail.get()
            });
            s.waitlink.set(null());
            s.waittail.set(null());
        } else {
            // Rotate s down to a leaf, respecting priorities, and cut it off.
            loop {
                let (l, r) = (s.prev.get(), s.next.get());
                if l.is_null() && r.is_null() {
                    break;
                }
                // SAFETY: treap nodes are alive; the lock is held.
                unsafe {
                    if r.is_null() || (!l.is_null() && (*l).ticket.get() < (*r).ticket.get()) {
                        self.rotate_right(s);
                    } else {
                        self.rotate_left(s);
                    }
                }
            }
            let pp = s.parent.get();
            if pp.is_null() {
                self.treap.set(null());
            } else {
                // SAFETY: treap nodes are alive.
                let p = unsafe { &*pp };
                if p.prev.get() == sp {
                    p.prev.set(null());
                } else {
                    p.next.set(null());
                }
            }
        }
        s.parent.set(null());
        s.prev.set(null());
        s.next.set(null());
        s.ticket.set(0);
        sp
    }

    /// Turns (x a (y b c)) into (y (x a b) c) (Go's rotateLeft).
    ///
    /// # Safety
    /// Lock held; `x` is a treap node with a right child.
    unsafe fn rotate_left(&self, x: &Waiter) {
        let xp: *const Waiter = x;
        let pp = x.parent.get();
        // SAFETY: the caller guarantees the right child exists; treap nodes are alive.
        let y = unsafe { &*x.next.get() };
        let yp: *const Waiter = y;
        let b = y.prev.get();
        y.prev.set(xp);
        x.parent.set(yp);
        x.next.set(b);
        // SAFETY: treap nodes are alive.
        if let Some(b) = unsafe { b.as_ref() } {
            b.parent.set(xp);
        }
        y.parent.set(pp);
        // SAFETY: treap nodes are alive.
        unsafe { self.replace_child(pp, xp, yp) };
    }

    /// Turns (y (x a b) c) into (x a (y b c)) (Go's rotateRight).
    ///
    /// # Safety
    /// Lock held; `y` is a treap node with a left child.
    unsafe fn rotate_right(&self, y: &Waiter) {
        let yp: *const Waiter = y;
        let pp = y.parent.get();
        // SAFETY: the caller guarantees the left child exists; treap nodes are alive.
        let x = unsafe { &*y.prev.get() };
        let xp: *const Waiter = x;
        let b = x.next.get();
        x.next.set(yp);
        y.parent.set(xp);
        y.prev.set(b);
        // SAFETY: treap nodes are alive.
        if let Some(b) = unsafe { b.as_ref() } {
            b.parent.set(yp);
        }
        x.parent.set(pp);
        // SAFETY: treap nodes are alive.
        unsafe { self.replace_child(pp, yp, xp) };
    }

    /// Points the link that referred to `old` (a child of `pp`, or the root) at `new`.
    ///
    /// # Safety
    /// Lock held; `pp` is null or a live treap node.
    unsafe fn replace_child(&self, pp: *const Waiter, old: *const Waiter, new: *const Waiter) {
        // SAFETY: the caller's contract.
        match unsafe { pp.as_ref() } {
            None => self.treap.set(new),
            Some(p) if p.prev.get() == old => p.prev.set(new),
            Some(p) => {
                if p.next.get() != old {
                    fatal!("semaRoot rotate: broken tree links");
                }
                p.next.set(new);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests;

/// The model of the table's surroundings for loom (see util::loom): a spin lock for the bucket
/// lock, and a park that runs the commit and then sleeps the parking thread until `ready`.
/// The table itself — counter checks, `nwait`, the treap and hand-offs — is the real code.
#[cfg(loom)]
mod model {
    use super::*;

    pub(super) struct Lock(la::AtomicBool);

    impl Lock {
        pub(super) fn new() -> Lock {
            Lock(la::AtomicBool::new(false))
        }
        pub(super) fn lock(&self) {
            while self
                .0
                .compare_exchange(false, true, Acquire, Relaxed)
                .is_err()
            {
                la::spin_loop();
            }
        }
        pub(super) fn unlock(&self) {
            self.0.store(false, Release);
        }
    }

    /// A parked "goroutine": its thread and the flag `ready` sets.
    struct Parked {
        thread: loom::thread::Thread,
        woken: la::AtomicBool,
    }

    /// Runs the commit; if it says park, sleeps (loom's thread park) until `ready`.
    pub(super) fn park(_: WaitReason, commit: &mut dyn FnMut(*mut G) -> bool) {
        let me = Parked {
            thread: loom::thread::current(),
            woken: la::AtomicBool::new(false),
        };
        if commit(&me as *const Parked as *mut G) {
            while !me.woken.load(Acquire) {
                loom::thread::park();
            }
        }
    }

    pub(super) fn ready(gp: *mut G) {
        // SAFETY: `gp` is the `Parked` of a thread waiting in `park` until the store below; the
        // thread handle is cloned first because the frame may be gone right after the store.
        let p = unsafe { &*(gp as *const Parked) };
        let thread = p.thread.clone();
        p.woken.store(true, Release);
        thread.unpark();
    }

    pub(super) fn can_yield() -> bool {
        false
    }

    pub(super) fn yield_now(_behind_global: bool) {
        unreachable!("the model never yields (`can_yield` is false)")
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Two acquirers wait on one semaphore while a releaser adds two units, one of them handed
    /// off directly: each acquirer gets exactly one unit, nobody sleeps through a release (a
    /// lost wake-up leaves a thread spinning for ever, which loom reports), and the count ends
    /// at zero with no waiter announced.
    /// The model's spin lock takes many branches: allow more than loom's 1,000. Two
    /// preemptions (instead of the script's three) keep each model to seconds; the lost wake-up
    /// of a missing SeqCst order is found within two.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut b = loom::model::Builder::new();
        b.max_branches = 100_000;
        b.preemption_bound = Some(2);
        b.check(f);
    }

    #[test]
    fn loom_two_waiters_two_releases() {
        model(|| {
            let sema = Arc::new(la::AtomicU32::new(0));
            let waiters: Vec<_> = (0..2)
                .map(|i| {
                    let s = sema.clone();
                    loom::thread::spawn(move || semacquire(&*s, i == 1, WaitReason::SyncMutexLock))
                })
                .collect();
            semrelease(&*sema, false);
            semrelease(&*sema, true);
            for w in waiters {
                w.join().unwrap();
            }
            assert_eq!(Count::load(&*sema), 0);
            let b = bucket_for(Arc::as_ptr(&sema) as usize);
            assert_eq!(b.nwait.load(SeqCst), 0);
        });
    }

    /// Waiters on two addresses that share a bucket (the model's table has two): a release on
    /// one address wakes a waiter of that address only, even with the other's in the treap.
    #[test]
    fn loom_addresses_sharing_a_bucket() {
        model(|| {
            let semas = Arc::new([
                la::AtomicU32::new(0),
                la::AtomicU32::new(0),
                la::AtomicU32::new(0),
            ]);
            // Find two counters in one bucket (of three, two share one of the two buckets).
            let addr = |i: usize| &semas[i] as *const la::AtomicU32 as usize;
            let (a, b) = (0..3)
                .flat_map(|i| (i + 1..3).map(move |j| (i, j)))
                .find(|&(i, j)| std::ptr::eq(bucket_for(addr(i)), bucket_for(addr(j))))
                .unwrap();
            let s = semas.clone();
            let wa =
                loom::thread::spawn(move || semacquire(&s[a], false, WaitReason::SyncMutexLock));
            let s = semas.clone();
            let wb =
                loom::thread::spawn(move || semacquire(&s[b], false, WaitReason::SyncMutexLock));
            semrelease(&semas[b], false);
            wb.join().unwrap();
            semrelease(&semas[a], false);
            wa.join().unwrap();
            assert_eq!(Count::load(&semas[a]) + Count::load(&semas[b]), 0);
            assert_eq!(bucket_for(addr(a)).nwait.load(SeqCst), 0);
        });
    }
}
