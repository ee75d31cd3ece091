//! `goroutine_local!`: one value per goroutine, created on first use, carried across threads
//! with its goroutine, dropped when the goroutine exits; per thread on plain threads.

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};

use gort_test_support::{Tracked, bounded, eventually, gettid, with_procs};

gort::goroutine_local! {
    static COUNTER: Cell<u64> = Cell::new(0);
    static OWNER: Cell<u64> = Cell::new(0);
}

/// Each goroutine sees its own value, unchanged across yields and sleeps that move it between
/// threads (procs 2), while hundreds of others write theirs.
#[test]
fn values_follow_their_goroutine() {
    with_procs(2, 60, || {
        let hs: Vec<_> = (1..=400u64)
            .map(|id| {
                gort::spawn(move || {
                    OWNER.with(|o| o.set(id));
                    for i in 0..50 {
                        COUNTER.with(|c| c.set(c.get() + 1));
                        if i % 10 == 0 {
                            gort::sleep(std::time::Duration::from_micros(100));
                        } else {
                            gort::yield_now();
                        }
                        assert_eq!(OWNER.with(|o| o.get()), id);
                    }
                    COUNTER.with(|c| c.get())
                })
            })
            .collect();
        for h in hs {
            assert_eq!(h.join().unwrap(), 50);
        }
    });
}

/// A new goroutine starts from the initialiser, not from its parent's value; plain threads
/// have one value each.
#[test]
fn fresh_per_goroutine_and_per_thread() {
    bounded(30, || {
        COUNTER.with(|c| c.set(7));
        let t = std::thread::spawn(|| COUNTER.with(|c| c.get()));
        assert_eq!(t.join().unwrap(), 0);
        assert_eq!(COUNTER.with(|c| c.get()), 7);
        gort::run(|| {
            COUNTER.with(|c| c.set(9));
            assert_eq!(gort::spawn(|| COUNTER.with(|c| c.get())).join().unwrap(), 0);
            assert_eq!(COUNTER.with(|c| c.get()), 9);
        });
    });
}

/// Values are dropped when their goroutine exits, exactly once each, and a drop may use the
/// runtime (here: a channel send).
#[test]
fn dropped_when_the_goroutine_exits() {
    gort::goroutine_local! {
        static SLOT: std::cell::RefCell<Option<Tracked>> = std::cell::RefCell::new(None);
        static ON_EXIT: std::cell::RefCell<Option<gort::Sender<u32>>> =
            std::cell::RefCell::new(None);
    }
    with_procs(2, 60, || {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = gort::chan::<u32>(1000);
        for i in 0..500 {
            let (drops, tx) = (drops.clone(), tx.clone());
            gort::go!(move || {
                SLOT.with(|s| *s.borrow_mut() = Some(Tracked::new(i, &drops)));
                ON_EXIT.with(|s| *s.borrow_mut() = Some(tx));
                gort::yield_now();
            });
        }
        drop(tx);
        // Every goroutine's sender was dropped with it: the channel closes after 0 values.
        assert_eq!(rx.iter().count(), 0);
        eventually("every goroutine-local value to be dropped", || {
            drops.load(SeqCst) == 500
        });
    });
}

/// An initialiser may use other goroutine-local values, and `with` may nest.
#[test]
fn initialisers_and_nesting() {
    gort::goroutine_local! {
        static BASE: u64 = 40;
        static DERIVED: u64 = BASE.with(|b| b + 2);
    }
    bounded(30, || {
        gort::run(|| {
            let v = DERIVED.with(|d| BASE.with(|b| *d + *b));
            assert_eq!(v, 82);
        });
    });
}

/// An initialiser that sets its own key through a nested `with` replaces the nested value with
/// its own, as std's `thread_local!` does, and the nested value is dropped only after `with`
/// has let go of the goroutine's table: that drop may use goroutine-locals never used before,
/// which grows the table. A value was dropped while the table was borrowed, so `with` then
/// read the value through a freed table.
#[test]
fn an_initialiser_that_sets_its_own_key_drops_its_value_safely() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    static NESTED: AtomicBool = AtomicBool::new(false);
    struct Grows(u64);
    impl Drop for Grows {
        fn drop(&mut self) {
            DROPS.fetch_add(1, SeqCst);
            for k in [&G0, &G1, &G2, &G3, &G4, &G5, &G6, &G7] {
                k.with(|_| ());
            }
            for k in [&G8, &G9, &G10, &G11, &G12, &G13, &G14, &G15] {
                k.with(|_| ());
            }
            // Reuse what the table freed, as any later allocation would.
            std::hint::black_box((0..64u64).map(|i| vec![i; 4]).collect::<Vec<_>>());
        }
    }
    fn make() -> Grows {
        if !NESTED.swap(true, SeqCst) {
            SELF_SET.with(|_| ());
            return Grows(1);
        }
        Grows(2)
    }
    gort::goroutine_local! {
        static SELF_SET: Grows = make();
        static G0: u64 = 0; static G1: u64 = 0; static G2: u64 = 0; static G3: u64 = 0;
        static G4: u64 = 0; static G5: u64 = 0; static G6: u64 = 0; static G7: u64 = 0;
        static G8: u64 = 0; static G9: u64 = 0; static G10: u64 = 0; static G11: u64 = 0;
        static G12: u64 = 0; static G13: u64 = 0; static G14: u64 = 0; static G15: u64 = 0;
    }
    bounded(30, || {
        gort::run(|| {
            let v = SELF_SET.with(|g| g.0);
            assert_eq!(
                v, 1,
                "the outer initialisation's value replaces the nested one"
            );
            assert_eq!(DROPS.load(SeqCst), 1, "the nested value is dropped once");
        });
    });
}

gort::goroutine_local! {
    static TRAVELLER: RefCell<Vec<u64>> = RefCell::new(Vec::new());
}

/// One goroutine's value survives 10,000 moves to another thread. Two relay goroutines spin on
/// the two processors (neither ever parks, so neither processor goes idle and steals the other's);
/// the traveller parks on one relay's channel, then the other's, and the relay that readies it
/// puts it on its own processor, so it alternates threads. It counts the moves (its thread id
/// changed since its last park) and checks its value after each.
#[test]
fn a_value_survives_10000_migrations() {
    with_procs(2, 120, || {
        let stop = Arc::new(AtomicBool::new(false));
        let mut wakes = Vec::new();
        let relays: Vec<_> = (0..2)
            .map(|_| {
                let (tx, rx) = gort::chan::<()>(0);
                wakes.push(rx);
                let stop = stop.clone();
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        TRAVELLER.with(|t| assert!(t.borrow().is_empty()));
                        let _ = tx.try_send(());
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let traveller = gort::spawn(move || {
            TRAVELLER.with(|t| t.borrow_mut().extend(0..100));
            let (mut moves, mut parks, mut last) = (0, 0u64, gettid());
            while moves < 10_000 {
                wakes[parks as usize % 2].recv().unwrap();
                parks += 1;
                let tid = gettid();
                if tid != last {
                    moves += 1;
                    last = tid;
                }
                TRAVELLER.with(|t| {
                    let mut t = t.borrow_mut();
                    assert_eq!(t.len(), 100);
                    assert_eq!(t[0], parks - 1);
                    t[0] += 1;
                });
                assert!(parks < 1_000_000, "only {moves} moves in {parks} parks");
            }
            parks
        });
        let parks = traveller.join().unwrap();
        stop.store(true, Relaxed);
        for r in relays {
            r.join().unwrap();
        }
        eprintln!("10,000 moves in {parks} parks");
    });
}

static A_DROPS: AtomicUsize = AtomicUsize::new(0);
static B_DROPS: AtomicUsize = AtomicUsize::new(0);

/// A value whose drop reads another goroutine-local.
struct UsesB;

impl Drop for UsesB {
    fn drop(&mut self) {
        A_DROPS.fetch_add(1, SeqCst);
        LOCAL_B.with(|b| assert_eq!(b.0, 2));
    }
}

struct B(u8);

impl Drop for B {
    fn drop(&mut self) {
        B_DROPS.fetch_add(1, SeqCst);
    }
}

gort::goroutine_local! {
    static LOCAL_A: UsesB = UsesB;
    static LOCAL_B: B = B(2);
}

/// A value's drop may use another goroutine-local, on a plain thread (whose values go when its
/// thread-locals do) as on a goroutine; the order of creation does not matter.
#[test]
fn a_drop_may_use_another_goroutine_local() {
    bounded(30, || {
        let use_both = |b_first: bool| {
            if b_first {
                LOCAL_B.with(|_| ());
            }
            LOCAL_A.with(|_| ());
            LOCAL_B.with(|_| ());
        };
        for b_first in [true, false] {
            let (a, b) = (A_DROPS.load(SeqCst), B_DROPS.load(SeqCst));
            std::thread::spawn(move || use_both(b_first))
                .join()
                .unwrap();
            assert_eq!(A_DROPS.load(SeqCst) - a, 1);
            assert!(B_DROPS.load(SeqCst) - b >= 1);
            let (a, b) = (A_DROPS.load(SeqCst), B_DROPS.load(SeqCst));
            gort::spawn(move || use_both(b_first)).join().unwrap();
            assert_eq!(A_DROPS.load(SeqCst) - a, 1);
            assert!(B_DROPS.load(SeqCst) - b >= 1);
        }
    });
}

/// Two values whose drops each create the other again: the goroutine's (and the thread's) exit
/// still ends, leaving what its drops keep creating.
struct Recreates(&'static gort::GoroutineLocal<Recreates>);

impl Drop for Recreates {
    fn drop(&mut self) {
        self.0.with(|_| ());
    }
}

gort::goroutine_local! {
    static PING: Recreates = Recreates(&PONG);
    static PONG: Recreates = Recreates(&PING);
}

#[test]
fn values_that_recreate_each_other_do_not_hang_an_exit() {
    bounded(30, || {
        gort::spawn(|| PING.with(|_| ())).join().unwrap();
        std::thread::spawn(|| PING.with(|_| ())).join().unwrap();
    });
}

static SEEN_BY_DROP: AtomicUsize = AtomicUsize::new(0);

/// A value whose drop records what another goroutine-local holds.
struct ReadsCount;

impl Drop for ReadsCount {
    fn drop(&mut self) {
        SEEN_BY_DROP.store(COUNT.with(|c| c.get()), SeqCst);
    }
}

gort::goroutine_local! {
    static COUNT: std::cell::Cell<usize> = std::cell::Cell::new(0);
    static READS_COUNT: ReadsCount = ReadsCount;
}

/// A drop that uses a goroutine-local not dropped yet sees its value, not a fresh one, as a
/// thread-local's destructor sees another live thread-local. (Values go in reverse order of
/// their statics' first use anywhere, so `READS_COUNT` goes before `COUNT` here.)
#[test]
fn a_drop_sees_the_live_value_of_another_goroutine_local() {
    bounded(30, || {
        let use_both = || {
            COUNT.with(|c| c.set(42));
            READS_COUNT.with(|_| ());
        };
        SEEN_BY_DROP.store(0, SeqCst);
        gort::spawn(use_both).join().unwrap();
        assert_eq!(SEEN_BY_DROP.load(SeqCst), 42, "on a goroutine");
        SEEN_BY_DROP.store(0, SeqCst);
        std::thread::spawn(use_both).join().unwrap();
        assert_eq!(SEEN_BY_DROP.load(SeqCst), 42, "on a plain thread");
    });
}

/// A scoped goroutine's locals are dropped before its `join` returns, and before `scope`
/// returns for the ones not joined, as a spawned goroutine's are (and std's scoped threads'
/// thread-locals). They were dropped after, at the goroutine's exit. The drop parks, so that
/// on the old path the joiner ran first nearly every time.
#[test]
fn scoped_goroutines_drop_their_locals_before_join_and_scope_return() {
    static DROPS: AtomicUsize = AtomicUsize::new(0);
    struct SlowDrop;
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            gort::sleep(std::time::Duration::from_millis(2));
            DROPS.fetch_add(1, SeqCst);
        }
    }
    gort::goroutine_local! {
        static SLOW: SlowDrop = SlowDrop;
    }
    bounded(30, || {
        gort::run(|| {
            gort::scope(|s| {
                s.go(|| SLOW.with(|_| ())).join().unwrap();
                assert_eq!(DROPS.load(SeqCst), 1, "join returned before the drop");
            });
            gort::scope(|s| {
                for _ in 0..4 {
                    s.go(|| SLOW.with(|_| ()));
                }
            });
            assert_eq!(DROPS.load(SeqCst), 5, "scope returned before the drops");
        });
    });
}
