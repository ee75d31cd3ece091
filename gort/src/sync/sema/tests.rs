//! Unit tests of the semaphore table: the treap alone (no runtime), then semacquire/semrelease
//! between plain threads and goroutines.

use super::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize};
use std::time::Duration;

/// Checks the treap's order (addresses) and heap (tickets) properties and the parent links;
/// returns the number of waiters (tree nodes and list members).
fn check(root: &Root) -> usize {
    fn walk(n: *const Waiter, parent: *const Waiter, lo: usize, hi: usize) -> usize {
        // SAFETY: test waiters outlive the root's use of them.
        let Some(w) = (unsafe { n.as_ref() }) else {
            return 0;
        };
        assert_eq!(w.parent.get(), parent, "parent link");
        assert!(w.addr.get() >= lo && w.addr.get() < hi, "search order");
        // SAFETY: as above.
        if let Some(p) = unsafe { parent.as_ref() } {
            assert!(p.ticket.get() <= w.ticket.get(), "heap order");
        }
        let mut count = 1;
        let mut l = w.waitlink.get();
        let mut last = n;
        while !l.is_null() {
            // SAFETY: as above.
            let lw = unsafe { &*l };
            assert_eq!(
                lw.addr.get(),
                w.addr.get(),
                "list member on another address"
            );
            count += 1;
            last = l;
            l = lw.waitlink.get();
        }
        if count > 1 {
            assert_eq!(w.waittail.get(), last, "waittail");
        }
        count
            + walk(w.prev.get(), n, lo, w.addr.get())
            + walk(w.next.get(), n, w.addr.get() + 1, hi)
    }
    walk(root.treap.get(), null(), 0, usize::MAX)
}

#[test]
fn treap_fifo_per_address_and_lifo() {
    let root = Root {
        treap: Cell::new(null()),
    };
    let ws: Vec<Waiter> = (0..600).map(|_| Waiter::new()).collect();
    // 200 addresses, 3 waiters each; the third of each address queues LIFO.
    for round in 0..3 {
        for a in 0..200usize {
            let w = &ws[round * 200 + a];
            w.g.set((round * 200 + a + 1) as *mut G);
            // SAFETY: `ws` outlives the root's use of its waiters; single-threaded.
            unsafe { root.queue(0x1000 + a * 8 * 251, w, round == 2) };
        }
        assert_eq!(check(&root), (round + 1) * 200);
    }
    for a in (0..200usize).rev() {
        let addr = 0x1000 + a * 8 * 251;
        // LIFO waiter first, then the FIFO ones in order.
        for want in [2 * 200 + a, a, 200 + a] {
            // SAFETY: as above.
            let s = unsafe { root.dequeue(addr) };
            assert_eq!(s, &ws[want] as *const Waiter);
        }
        // SAFETY: as above.
        assert!(unsafe { root.dequeue(addr) }.is_null());
        check(&root);
    }
    assert!(root.treap.get().is_null());
}

#[test]
fn treap_random_interleaving() {
    let root = Root {
        treap: Cell::new(null()),
    };
    let ws: Vec<Waiter> = (0..2000).map(|_| Waiter::new()).collect();
    let mut queued: Vec<std::collections::VecDeque<usize>> = vec![Default::default(); 37];
    let mut next = 0;
    let mut live = 0;
    for step in 0..4000 {
        let r = crate::util::rand::next_u64() as usize;
        let a = r % 37;
        if next < ws.len() && !(r >> 8).is_multiple_of(3) {
            // SAFETY: `ws` outlives the root's use of its waiters; single-threaded.
            unsafe { root.queue(a * 8, &ws[next], false) };
            queued[a].push_back(next);
            next += 1;
            live += 1;
        } else {
            // SAFETY: as above.
            let s = unsafe { root.dequeue(a * 8) };
            match queued[a].pop_front() {
                Some(i) => {
                    assert_eq!(s, &ws[i] as *const Waiter);
                    live -= 1;
                }
                None => assert!(s.is_null()),
            }
        }
        if step % 97 == 0 {
            assert_eq!(check(&root), live);
        }
    }
}

/// Go's src/sync/mutex_test.go, TestSemaphore: 10 hammerers acquire and release a count of 1.
#[test]
fn hammer_semaphore_goroutines_and_threads() {
    static S: AtomicU32 = AtomicU32::new(1);
    let done = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    let mut gs = Vec::new();
    for i in 0..10 {
        let done = done.clone();
        let hammer = move || {
            for _ in 0..1000 {
                semacquire(&S, false, WaitReason::Semacquire);
                semrelease(&S, i % 2 == 0);
            }
            done.fetch_add(1, SeqCst);
        };
        if i < 3 {
            threads.push(std::thread::spawn(hammer));
        } else {
            gs.push(crate::spawn(hammer));
        }
    }
    for t in threads {
        t.join().unwrap();
    }
    for g in gs {
        g.join().unwrap();
    }
    assert_eq!(done.load(SeqCst), 10);
    assert_eq!(S.load(SeqCst), 1);
}

#[test]
fn release_before_acquire_is_not_lost() {
    let s = AtomicU32::new(0);
    semrelease(&s, false);
    semacquire(&s, false, WaitReason::Semacquire);
    assert_eq!(s.load(SeqCst), 0);
}

/// Waiters on many addresses that share one bucket wake only on their own address.
#[test]
fn colliding_addresses_wake_the_right_waiter() {
    const N: usize = 50;
    // Counters 251 * 8 bytes apart all hash to the same bucket.
    let sems: Arc<Vec<AtomicU32>> = Arc::new((0..N * 251 * 2).map(|_| AtomicU32::new(0)).collect());
    let woke: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let hs: Vec<_> = (0..N)
        .map(|i| {
            let (sems, woke) = (sems.clone(), woke.clone());
            crate::spawn(move || {
                semacquire(&sems[i * 251 * 2], false, WaitReason::Semacquire);
                woke[i].fetch_add(1, SeqCst);
            })
        })
        .collect();
    let b = bucket_for(&sems[0] as *const _ as usize);
    for i in 0..N {
        assert!(std::ptr::eq(
            b,
            bucket_for(&sems[i * 251 * 2] as *const _ as usize)
        ));
    }
    // Wait until every goroutine is queued (other tests may add waiters to this bucket: then a
    // release may come first, which the count absorbs), then release in a scrambled order.
    while b.nwait.load(SeqCst) < N as u32 {
        std::thread::sleep(Duration::from_millis(1));
    }
    for k in 0..N {
        let i = (k * 17) % N;
        semrelease(&sems[i * 251 * 2], false);
        while woke[i].load(SeqCst) == 0 {
            std::thread::sleep(Duration::from_micros(100));
        }
        for (j, w) in woke.iter().enumerate() {
            let expect = usize::from((0..=k).any(|kk| (kk * 17) % N == j));
            assert_eq!(w.load(SeqCst), expect, "waiter {j} after releasing {i}");
        }
    }
    for h in hs {
        h.join().unwrap();
    }
}
