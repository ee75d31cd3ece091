//! The per-P local run queue: Go's `runqput`/`runqget`/`runqgrab`/`runqsteal` (proc.go).
//!
//! A 256-slot ring owned by one P. Only the owner pushes (writes `tail`); the owner and thieves
//! pop by CAS on `head`. `runnext` holds the G that should run next (a just-readied or just-spawned
//! G inherits the rest of the time slice, which makes ping-pong between two goroutines cheap).
//! When the ring is full, half of it plus the new G move to the global queue in one batch.
//!
//! Pure: no syscalls, no knowledge of G's layout (the pointers are opaque here), so it has unit
//! tests of its own. Slots are `AtomicPtr` with relaxed loads where Go uses plain racy reads.

use std::ptr::null_mut;
use std::sync::atomic::Ordering::*;

use super::g::G;
use crate::util::loom::{AtomicPtr, AtomicU32};

/// Slots in the ring (shrunk under loom, so that models reach the full-ring paths).
#[cfg(not(loom))]
pub(crate) const RUNQ_SIZE: u32 = 256;
#[cfg(loom)]
pub(crate) const RUNQ_SIZE: u32 = 4;

pub(crate) struct RunQueue {
    /// Next slot to pop. Written by CAS by the owner and by thieves.
    head: AtomicU32,
    /// Next slot to push. Written only by the owning P's M.
    tail: AtomicU32,
    buf: [AtomicPtr<G>; RUNQ_SIZE as usize],
    /// The G to run next, ahead of `buf`. Swapped by the owner, stolen by CAS.
    next: AtomicPtr<G>,
}

impl RunQueue {
    pub(crate) fn new() -> RunQueue {
        RunQueue {
            head: AtomicU32::new(0),
            tail: AtomicU32::new(0),
            buf: std::array::from_fn(|_| AtomicPtr::new(null_mut())),
            next: AtomicPtr::new(null_mut()),
        }
    }

    /// Number of queued Gs including `next` (racy snapshot, as Go's `runqempty`).
    pub(crate) fn len(&self) -> usize {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Acquire);
            let n = self.next.load(Acquire);
            if t == self.tail.load(Acquire) {
                return t.wrapping_sub(h) as usize + usize::from(!n.is_null());
            }
        }
    }

    /// Whether the ring is empty and only `next` may hold a G (racy snapshot).
    pub(crate) fn only_next(&self) -> bool {
        self.head.load(Acquire) == self.tail.load(Acquire)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Owner only. Queues `gp`; with `next`, puts it in the `next` slot and queues the G it
    /// displaces. When the ring is full, `overflow` receives half the ring plus the G, in order,
    /// for the global queue.
    #[inline]
    pub(crate) fn put(&self, mut gp: *mut G, next: bool, overflow: &mut dyn FnMut(&[*mut G])) {
        if next {
            let old = self.next.swap(gp, AcqRel);
            if old.is_null() {
                return;
            }
            gp = old;
        }
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if t.wrapping_sub(h) < RUNQ_SIZE {
                self.buf[(t % RUNQ_SIZE) as usize].store(gp, Relaxed);
                self.tail.store(t.wrapping_add(1), Release);
                return;
            }
            if self.put_slow(gp, h, t, overflow) {
                return;
            }
        }
    }

    /// Go's `runqputslow`: moves half of a full ring and `gp` out in one batch.
    #[cold]
    #[inline(never)]
    fn put_slow(&self, gp: *mut G, h: u32, t: u32, overflow: &mut dyn FnMut(&[*mut G])) -> bool {
        const HALF: usize = (RUNQ_SIZE / 2) as usize;
        let mut batch = [null_mut(); HALF + 1];
        let n = t.wrapping_sub(h) / 2;
        debug_assert_eq!(n as usize, HALF);
        for (i, slot) in batch.iter_mut().take(HALF).enumerate() {
            *slot = self.buf[(h.wrapping_add(i as u32) % RUNQ_SIZE) as usize].load(Relaxed);
        }
        if self
            .head
            .compare_exchange(h, h.wrapping_add(n), Release, Relaxed)
            .is_err()
        {
            return false;
        }
        batch[HALF] = gp;
        overflow(&batch);
        true
    }

    /// Owner only. Pops the next G; the bool says whether it came from `next` (and so inherits
    /// the current time slice).
    pub(crate) fn get(&self) -> Option<(*mut G, bool)> {
        let next = self.next.load(Relaxed);
        if !next.is_null()
            && self
                .next
                .compare_exchange(next, null_mut(), AcqRel, Relaxed)
                .is_ok()
        {
            return Some((next, true));
        }
        self.get_ring().map(|gp| (gp, false))
    }

    /// Owner only. Takes the G in `next`, if any: to run it on the current time slice, or to
    /// requeue it at the tail after the slice ran out (a goroutine woken into `next` while every
    /// slice ends by expiry would otherwise never run).
    pub(crate) fn take_next(&self) -> Option<*mut G> {
        // A load first: no locked instruction when `next` is empty (the common case on a
        // scheduling pass that starts a new slice).
        if self.next.load(Relaxed).is_null() {
            return None;
        }
        let next = self.next.swap(null_mut(), AcqRel);
        (!next.is_null()).then_some(next)
    }

    /// Owner only. Pops the head of the ring, passing over `next`: after a time slice ran out,
    /// the goroutine that has waited longest goes first, not the one a runnext hand-off chain
    /// would run next.
    pub(crate) fn get_ring(&self) -> Option<*mut G> {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Relaxed);
            if t == h {
                return None;
            }
            let gp = self.buf[(h % RUNQ_SIZE) as usize].load(Relaxed);
            if self
                .head
                .compare_exchange(h, h.wrapping_add(1), Release, Relaxed)
                .is_ok()
            {
                if t.wrapping_sub(h) > 1 {
                    // Start loading the G likely to run after this one while this one runs
                    // (a hint only: a thief may take it first).
                    let after = self.buf[(h.wrapping_add(1) % RUNQ_SIZE) as usize].load(Relaxed);
                    crate::arch::prefetch_write(after.cast());
                    crate::arch::prefetch_write(after.cast::<u8>().wrapping_add(64));
                }
                return Some(gp);
            }
        }
    }

    /// Owner only. Pops everything (used when a P is destroyed), `next` first.
    pub(crate) fn drain(&self, out: &mut dyn FnMut(*mut G)) {
        while let Some((gp, _)) = self.get() {
            out(gp);
        }
    }

    /// Go's `runqgrab`: copies about half of `self`'s Gs into `dst`'s ring starting at
    /// `dst_tail`, without publishing them. With `steal_next`, takes `next` when the ring is empty.
    fn grab(&self, dst: &RunQueue, dst_tail: u32, steal_next: bool) -> u32 {
        loop {
            let h = self.head.load(Acquire);
            let t = self.tail.load(Acquire);
            let n = t.wrapping_sub(h);
            let n = n - n / 2;
            if n == 0 {
                if steal_next {
                    let next = self.next.load(Acquire);
                    if !next.is_null()
                        && self
                            .next
                            .compare_exchange(next, null_mut(), AcqRel, Relaxed)
                            .is_ok()
                    {
                        dst.buf[(dst_tail % RUNQ_SIZE) as usize].store(next, Relaxed);
                        return 1;
                    }
                }
                return 0;
            }
            if n > RUNQ_SIZE / 2 {
                // Read inconsistent h and t; retry.
                continue;
            }
            for i in 0..n {
                let gp = self.buf[(h.wrapping_add(i) % RUNQ_SIZE) as usize].load(Relaxed);
                dst.buf[(dst_tail.wrapping_add(i) % RUNQ_SIZE) as usize].store(gp, Relaxed);
            }
            if self
                .head
                .compare_exchange(h, h.wrapping_add(n), AcqRel, Relaxed)
                .is_ok()
            {
                return n;
            }
        }
    }

    /// Go's `runqsteal`, called by `self`'s owner: steals half of `victim`'s Gs into `self` and
    /// returns one of them to run.
    pub(crate) fn steal_from(&self, victim: &RunQueue, steal_next: bool) -> Option<*mut G> {
        let t = self.tail.load(Relaxed);
        let n = victim.grab(self, t, steal_next);
        if n == 0 {
            return None;
        }
        let n = n - 1;
        let gp = self.buf[(t.wrapping_add(n) % RUNQ_SIZE) as usize].load(Relaxed);
        if n != 0 {
            self.tail.store(t.wrapping_add(n), Release);
        }
        Some(gp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(i: usize) -> *mut G {
        (i * 64) as *mut G
    }

    #[test]
    fn fifo_and_next() {
        let q = RunQueue::new();
        let mut spill = |_: &[*mut G]| panic!("no overflow expected");
        for i in 1..=10 {
            q.put(fake(i), false, &mut spill);
        }
        q.put(fake(100), true, &mut spill);
        assert_eq!(q.len(), 11);
        assert_eq!(q.get(), Some((fake(100), true)));
        for i in 1..=10 {
            assert_eq!(q.get(), Some((fake(i), false)));
        }
        assert_eq!(q.get(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn next_displaces_to_tail() {
        let q = RunQueue::new();
        let mut spill = |_: &[*mut G]| panic!("no overflow expected");
        q.put(fake(1), true, &mut spill);
        q.put(fake(2), true, &mut spill);
        assert_eq!(q.get(), Some((fake(2), true)));
        assert_eq!(q.get(), Some((fake(1), false)));
    }

    #[test]
    fn overflow_moves_half_plus_one() {
        let q = RunQueue::new();
        let mut spilled = Vec::new();
        for i in 1..=(RUNQ_SIZE as usize + 1) {
            q.put(fake(i), false, &mut |b: &[*mut G]| {
                spilled.extend_from_slice(b)
            });
        }
        assert_eq!(spilled.len(), 129);
        assert_eq!(spilled[0], fake(1));
        assert_eq!(spilled[128], fake(257));
        assert_eq!(q.len(), 128);
        assert_eq!(q.get(), Some((fake(129), false)));
    }

    #[test]
    fn steal_takes_half() {
        let victim = RunQueue::new();
        let thief = RunQueue::new();
        let mut spill = |_: &[*mut G]| panic!("no overflow expected");
        for i in 1..=10 {
            victim.put(fake(i), false, &mut spill);
        }
        let got = thief.steal_from(&victim, false).unwrap();
        assert_eq!(got, fake(5));
        assert_eq!(thief.len(), 4);
        assert_eq!(victim.len(), 5);
        assert_eq!(victim.get(), Some((fake(6), false)));
        assert_eq!(thief.get(), Some((fake(1), false)));
    }

    #[test]
    fn steal_next_only_when_asked() {
        let victim = RunQueue::new();
        let thief = RunQueue::new();
        let mut spill = |_: &[*mut G]| panic!("no overflow expected");
        victim.put(fake(7), true, &mut spill);
        assert_eq!(thief.steal_from(&victim, false), None);
        assert_eq!(thief.steal_from(&victim, true), Some(fake(7)));
        assert!(victim.is_empty());
    }

    #[test]
    fn concurrent_steal_exactly_once() {
        use std::sync::Arc;
        let victim = Arc::new(RunQueue::new());
        let seen = Arc::new(std::sync::Mutex::new(Vec::<usize>::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let thief = {
            let (victim, seen, stop) = (victim.clone(), seen.clone(), stop.clone());
            std::thread::spawn(move || {
                let mine = RunQueue::new();
                loop {
                    let done = stop.load(Acquire);
                    if let Some(gp) = mine.steal_from(&victim, true) {
                        seen.lock().unwrap().push(gp as usize);
                    }
                    while let Some((gp, _)) = mine.get() {
                        seen.lock().unwrap().push(gp as usize);
                    }
                    if done {
                        break;
                    }
                }
            })
        };
        let total = 100_000;
        let mut spilled = Vec::new();
        for i in 1..=total {
            victim.put(fake(i), i % 3 == 0, &mut |b: &[*mut G]| {
                spilled.extend_from_slice(b)
            });
            if i % 5 == 0
                && let Some((gp, _)) = victim.get()
            {
                seen.lock().unwrap().push(gp as usize);
            }
        }
        stop.store(true, Release);
        thief.join().unwrap();
        while let Some((gp, _)) = victim.get() {
            seen.lock().unwrap().push(gp as usize);
        }
        let mut all = seen.lock().unwrap().clone();
        all.extend(spilled.iter().map(|&g| g as usize));
        all.sort();
        let want: Vec<_> = (1..=total).map(|i| fake(i) as usize).collect();
        assert_eq!(all, want);
    }
}

/// Model checks (run with `--cfg loom`, see util::loom): the ring has 4 slots here.
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    fn fake(i: usize) -> *mut G {
        std::ptr::without_provenance_mut(i * 8)
    }

    /// The owner pushes past the ring's capacity (overflowing to the "global queue"), sets
    /// `next` and pops, while a thief steals: every G is taken exactly once.
    #[test]
    fn loom_owner_and_thief_take_each_g_once() {
        loom::model(|| {
            let q = Arc::new(RunQueue::new());
            let thief = Arc::new(RunQueue::new());
            let (q2, t2) = (q.clone(), thief.clone());
            let th = loom::thread::spawn(move || {
                let mut got = Vec::new();
                if let Some(g) = t2.steal_from(&q2, true) {
                    got.push(g);
                    while let Some((g, _)) = t2.get() {
                        got.push(g);
                    }
                }
                got
            });
            let mut taken = Vec::new();
            for i in 1..=5 {
                q.put(fake(i), i == 5, &mut |b| taken.extend_from_slice(b));
            }
            while let Some((g, _)) = q.get() {
                taken.push(g);
            }
            taken.extend(th.join().unwrap());
            taken.sort();
            assert_eq!(taken, (1..=5).map(fake).collect::<Vec<_>>());
        });
    }
}
