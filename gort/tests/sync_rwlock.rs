//! `gort::sync::RwLock`: Go's src/sync/rwmutex_test.go where it maps onto the API, and our
//! "a writer gets in while 10 readers loop". Tests here change the processor count, so they run
//! one at a time.
//!
//! The ported tests are adapted from the Go sources (Copyright The Go Authors; BSD license).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort::sync::{RwLock, WaitGroup};
use gort_test_support::{Chan, bounded, scaled, serial, wait_for_state, with_procs};

/// Go: src/sync/rwmutex_test.go, parallelReader / doTestParallelReaders.
fn do_test_parallel_readers(num_readers: usize) {
    let m = Arc::new(RwLock::new(()));
    let clocked = Arc::new(Chan::new());
    let cunlock = Arc::new(Chan::new());
    let cdone = Arc::new(Chan::new());
    for _ in 0..num_readers {
        let (m, clocked, cunlock, cdone) =
            (m.clone(), clocked.clone(), cunlock.clone(), cdone.clone());
        gort::go(move || {
            let g = m.read();
            clocked.send(true);
            cunlock.recv();
            drop(g);
            cdone.send(true);
        });
    }
    // Wait for all parallel read locks to succeed.
    for _ in 0..num_readers {
        clocked.recv();
    }
    for _ in 0..num_readers {
        cunlock.send(true);
    }
    for _ in 0..num_readers {
        cdone.recv();
    }
}

/// Go: src/sync/rwmutex_test.go, TestParallelReaders.
#[test]
fn go_test_parallel_readers() {
    for (readers, procs) in [(1, 4), (3, 4), (4, 2)] {
        with_procs(procs, 60, move || do_test_parallel_readers(readers));
    }
}

/// Go: src/sync/rwmutex_test.go, reader / writer / HammerRWMutex. `activity` is the number of
/// active readers plus 10000 per active writer.
fn hammer_rwmutex(procs: usize, num_readers: usize, iterations: usize) {
    with_procs(procs, 120, move || {
        let rwm = Arc::new(RwLock::new(()));
        let activity = Arc::new(AtomicI32::new(0));
        let wg = WaitGroup::new();
        let writer = || {
            let (rwm, activity, wg) = (rwm.clone(), activity.clone(), wg.clone());
            wg.add(1);
            gort::go(move || {
                for _ in 0..iterations {
                    let g = rwm.write();
                    let n = activity.fetch_add(10000, SeqCst) + 10000;
                    assert_eq!(n, 10000, "wlock({n})");
                    for _ in 0..100 {
                        std::hint::black_box(());
                    }
                    activity.fetch_sub(10000, SeqCst);
                    drop(g);
                }
                wg.done();
            });
        };
        let reader = || {
            let (rwm, activity, wg) = (rwm.clone(), activity.clone(), wg.clone());
            wg.add(1);
            gort::go(move || {
                for _ in 0..iterations {
                    let g = rwm.read();
                    let n = activity.fetch_add(1, SeqCst) + 1;
                    assert!((1..10000).contains(&n), "rlock({n})");
                    for _ in 0..100 {
                        std::hint::black_box(());
                    }
                    activity.fetch_sub(1, SeqCst);
                    drop(g);
                }
                wg.done();
            });
        };
        writer();
        let mut i = 0;
        while i < num_readers / 2 {
            reader();
            i += 1;
        }
        writer();
        while i < num_readers {
            reader();
            i += 1;
        }
        wg.wait();
    });
}

/// Go: src/sync/rwmutex_test.go, TestRWMutex.
#[test]
fn go_test_rwmutex() {
    let n = scaled(1000, 100);
    for (procs, readers) in [
        (1, 1),
        (1, 3),
        (1, 10),
        (4, 1),
        (4, 3),
        (4, 10),
        (10, 1),
        (10, 3),
        (10, 10),
        (10, 5),
    ] {
        hammer_rwmutex(procs, readers, n);
    }
}

/// Go: src/sync/rwmutex_test.go, TestRLocker, adapted: guards are not Send, so the goroutine
/// that takes the read locks also releases them, on request. Checks that a writer waits for both
/// read locks, and that readers wait for the writer.
#[test]
fn go_test_rlocker_adapted() {
    with_procs(2, 60, || {
        let wl = Arc::new(RwLock::new(()));
        let rlocked = Arc::new(Chan::new());
        let release = Arc::new(Chan::new());
        let wlocked = Arc::new(Chan::new());
        let wrelease = Arc::new(Chan::new());
        for _ in 0..10 {
            {
                let (wl, rlocked, release) = (wl.clone(), rlocked.clone(), release.clone());
                gort::go(move || {
                    let a = wl.read();
                    let b = wl.read();
                    rlocked.send(true);
                    release.recv();
                    drop(a);
                    release.recv();
                    drop(b);
                });
            }
            rlocked.recv();
            {
                let (wl, wlocked, wrelease) = (wl.clone(), wlocked.clone(), wrelease.clone());
                gort::go(move || {
                    let g = wl.write();
                    wlocked.send(true);
                    wrelease.recv();
                    drop(g);
                });
            }
            release.send(()); // one read lock left
            wait_for_state("sync.RWMutex.Lock", 1); // the writer waits for it
            assert!(
                wlocked.try_recv().is_none(),
                "RLocker() didn't read-lock it"
            );
            release.send(()); // none left: the writer gets in
            wlocked.recv();
            assert!(wl.try_read().is_none(), "readers must wait for the writer");
            wrelease.send(());
            // The writer is gone once a read lock succeeds.
            drop(wl.read());
        }
    });
}

/// a writer gets in while 10 readers loop taking read locks (writer preference).
#[test]
fn writer_gets_in_while_ten_readers_loop() {
    with_procs(2, 60, || {
        let l = Arc::new(RwLock::new(0u64));
        let stop = Arc::new(AtomicBool::new(false));
        let reads = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..10)
            .map(|_| {
                let (l, stop, reads) = (l.clone(), stop.clone(), reads.clone());
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        let g = l.read();
                        std::hint::black_box(*g);
                        reads.fetch_add(1, Relaxed);
                        drop(g);
                    }
                })
            })
            .collect();
        while reads.load(Relaxed) < 1000 {
            gort::yield_now();
        }
        let mut worst = Duration::ZERO;
        for i in 0..20 {
            let t = Instant::now();
            let mut g = l.write();
            worst = worst.max(t.elapsed());
            *g = i;
            drop(g);
            gort::sleep(Duration::from_millis(1));
        }
        stop.store(true, Relaxed);
        for r in readers {
            r.join().unwrap();
        }
        assert_eq!(*l.read(), 19);
        // Starvation would mean waiting for ever; a reader descheduled by a loaded machine while
        // it holds the read lock can delay the writer, so the bound is generous.
        assert!(worst < Duration::from_secs(2), "writer waited {worst:?}");
    });
}

#[test]
fn try_read_try_write_and_helpers() {
    let mut l = RwLock::new(vec![1]);
    {
        let r1 = l.try_read().expect("free");
        let r2 = l.try_read().expect("shared");
        assert!(l.try_write().is_none());
        assert_eq!(r1.len() + r2.len(), 2);
        assert_eq!(format!("{r1:?}"), "[1]");
    }
    {
        let mut w = l.try_write().expect("free");
        w.push(2);
        assert!(l.try_read().is_none());
        assert!(l.try_write().is_none());
        assert_eq!(format!("{l:?}"), "RwLock { data: <locked>, .. }");
    }
    assert_eq!(format!("{l:?}"), "RwLock { data: [1, 2], .. }");
    l.get_mut().push(3);
    assert_eq!(l.into_inner(), [1, 2, 3]);
    let d: RwLock<u8> = RwLock::default();
    assert_eq!(*d.read(), 0);
    static S: RwLock<u8> = RwLock::new(7);
    assert_eq!(*S.read(), 7);
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RwLock<Vec<u8>>>();
}

/// Plain threads and goroutines share one RwLock: readers never see a half-done write.
#[test]
fn threads_and_goroutines_share_an_rwlock() {
    let per = scaled(5000, 500);
    let _serial = serial();
    gort::set_procs(2);
    let l = Arc::new(RwLock::new((0u64, 0u64)));
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let l = l.clone();
            std::thread::spawn(move || {
                for i in 0..per {
                    if (i + t) % 4 == 0 {
                        let mut g = l.write();
                        g.0 += 1;
                        g.1 += 1;
                    } else {
                        let g = l.read();
                        assert_eq!(g.0, g.1);
                    }
                }
            })
        })
        .collect();
    let l2 = l.clone();
    bounded(60, move || {
        gort::run(move || {
            let wg = WaitGroup::new();
            for t in 0..4 {
                wg.add(1);
                let (l, wg) = (l2.clone(), wg.clone());
                gort::go(move || {
                    for i in 0..per {
                        if (i + t) % 4 == 0 {
                            let mut g = l.write();
                            g.0 += 1;
                            gort::yield_now();
                            g.1 += 1;
                        } else {
                            let g = l.read();
                            assert_eq!(g.0, g.1);
                        }
                    }
                    wg.done();
                });
            }
            wg.wait();
        })
    });
    for t in threads {
        t.join().unwrap();
    }
    let g = l.read();
    assert_eq!(g.0, g.1);
    assert_eq!(g.0 as usize, 6 * per / 4);
}
