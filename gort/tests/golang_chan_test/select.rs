//! Go's select tests from chan_test.go (TestSelect*, TestChanSendInterface, TestPseudoRandomSend,
//! TestMultiConsumer, the stack-shrinking tests) and chanbarrier_test.go.

use super::*;

/// TestSelectStress: 4 goroutines send N values on each of the chans, 4 receive N values on
/// each, one sends N values on each in a single select and one receives N values on each in a
/// single select. All these interact chaotically at runtime, but the whole construct must not
/// deadlock.
#[test]
fn select_stress() {
    go_test(120, || {
        let n = scaled(100_000, 10_000);
        let (t0, r0) = gort::chan::<i32>(0);
        let (t1, r1) = gort::chan::<i32>(0);
        let (t2, r2) = gort::chan::<i32>(2);
        let (t3, r3) = gort::chan::<i32>(3);
        let tx = [t0, t1, t2, t3];
        let rx = [r0, r1, r2, r3];
        let mut handles = Vec::new();
        for (t, r) in tx.iter().zip(&rx) {
            let t = t.clone();
            handles.push(gort::spawn(move || {
                for _ in 0..n {
                    t.send(0).unwrap();
                }
            }));
            let r = r.clone();
            handles.push(gort::spawn(move || {
                for _ in 0..n {
                    r.recv().unwrap();
                }
            }));
        }
        let c = tx.clone();
        handles.push(gort::spawn(move || {
            let mut c1 = c;
            let mut n_sent = [0; 4];
            // Stands in for a nil channel: unbuffered, and nobody receives from it.
            let (disabled, _keep) = gort::chan::<i32>(0);
            for _ in 0..4 * n {
                let k = gort::select! {
                    send(c1[3], 0) -> res => { res.unwrap(); 3 },
                    send(c1[2], 0) -> res => { res.unwrap(); 2 },
                    send(c1[0], 0) -> res => { res.unwrap(); 0 },
                    send(c1[1], 0) -> res => { res.unwrap(); 1 },
                };
                n_sent[k] += 1;
                if n_sent[k] == n {
                    c1[k] = disabled.clone();
                }
            }
        }));
        let c = rx.clone();
        handles.push(gort::spawn(move || {
            let mut c1 = c;
            let mut n_recv = [0; 4];
            for _ in 0..4 * n {
                let k = gort::select! {
                    recv(c1[0]) -> v => { v.unwrap(); 0 },
                    recv(c1[1]) -> v => { v.unwrap(); 1 },
                    recv(c1[2]) -> v => { v.unwrap(); 2 },
                    recv(c1[3]) -> v => { v.unwrap(); 3 },
                };
                n_recv[k] += 1;
                if n_recv[k] == n {
                    c1[k] = gort::never();
                }
            }
        }));
        for h in handles {
            h.join().unwrap();
        }
    });
}

/// TestSelectFairness, with 100,000 trials and a 47-53% bound (Go: 10,000 trials
/// within 10 sigma). Two cases are always ready, two never are.
#[test]
fn select_fairness() {
    go_test(60, || {
        const TRIALS: usize = 100_000;
        let (c1_tx, c1) = gort::chan::<u8>(TRIALS + 1);
        let (c2_tx, c2) = gort::chan::<u8>(TRIALS + 1);
        for _ in 0..TRIALS + 1 {
            c1_tx.send(1).unwrap();
            c2_tx.send(2).unwrap();
        }
        let (_c3_tx, c3) = gort::chan::<u8>(0);
        let (_c4_tx, c4) = gort::chan::<u8>(0);
        let (out_tx, out) = gort::chan::<u8>(0);
        let (done_tx, done) = gort::chan::<u8>(0);
        let h = gort::spawn(move || {
            loop {
                let b = gort::select! {
                    recv(c3) -> v => v,
                    recv(c4) -> v => v,
                    recv(c1) -> v => v,
                    recv(c2) -> v => v,
                };
                let stop = gort::select! {
                    send(out_tx, b.unwrap()) -> res => res.is_err(),
                    recv(done) -> _ => true,
                };
                if stop {
                    return;
                }
            }
        });
        let (mut cnt1, mut cnt2) = (0, 0);
        for _ in 0..TRIALS {
            match out.recv() {
                Some(1) => cnt1 += 1,
                Some(2) => cnt2 += 1,
                b => panic!("unexpected value {b:?} on channel"),
            }
        }
        // If the select in the goroutine is fair, cnt1 and cnt2 should be about the same.
        assert!(
            fair(cnt1, TRIALS) && fair(cnt2, TRIALS),
            "unfair select: in {TRIALS} trials, results were {cnt1}, {cnt2}"
        );
        done_tx.close();
        h.join().unwrap();
    });
}

/// The fairness check in its plainest form: one select, two always-ready cases.
#[test]
fn select_fairness_two_ready_cases() {
    go_test(60, || {
        const TRIALS: usize = 100_000;
        let (t1, r1) = gort::chan::<u8>(1);
        let (t2, r2) = gort::chan::<u8>(1);
        t1.send(1).unwrap();
        t2.send(2).unwrap();
        let mut counts = [0; 2];
        for _ in 0..TRIALS {
            let k = gort::select! {
                recv(r1) -> v => { assert_eq!(v, Some(1)); 0 },
                recv(r2) -> v => { assert_eq!(v, Some(2)); 1 },
            };
            counts[k] += 1;
            // Refill the one that was taken: both are ready at every select.
            if k == 0 {
                t1.send(1).unwrap();
            } else {
                t2.send(2).unwrap();
            }
        }
        assert!(
            fair(counts[0], TRIALS) && fair(counts[1], TRIALS),
            "unfair select: in {TRIALS} trials, results were {counts:?}"
        );
    });
}

/// TestChanSendInterface: sends of interface values through select; here boxed `dyn Any`.
/// A send case that loses is dropped, exactly once.
#[test]
fn chan_send_interface() {
    go_test(30, || {
        struct Mt;
        let m = Arc::new(Mt);
        let (tx, c) = gort::chan::<Box<dyn Any + Send>>(1);
        tx.send(Box::new(m.clone())).unwrap();
        let boxed = |v: Arc<Mt>| -> Box<dyn Any + Send> { Box::new(v) };
        gort::select! {
            send(tx, boxed(m.clone())) -> _ => panic!("sent to a full channel"),
            default => {}
        }
        gort::select! {
            send(tx, boxed(m.clone())) -> _ => panic!("sent to a full channel"),
            send(tx, boxed(Arc::new(Mt))) -> _ => panic!("sent to a full channel"),
            default => {}
        }
        // One reference in the channel, ours: the losing values were dropped.
        assert_eq!(Arc::strong_count(&m), 2);
        let v = c.recv().unwrap();
        assert!(v.downcast_ref::<Arc<Mt>>().is_some());
        drop(v);
        assert_eq!(Arc::strong_count(&m), 1);
    });
}

/// TestPseudoRandomSend: two send cases on one channel are chosen pseudo-randomly, both when
/// the channel has room (cap n) and when the sends wait for the receiver (cap 0).
#[test]
fn pseudo_random_send() {
    go_test(30, || {
        let n = 100;
        for chan_cap in [0, n] {
            let (tx, c) = gort::chan::<usize>(chan_cap);
            let h = gort::spawn(move || {
                let mut l = Vec::with_capacity(n);
                for _ in 0..n {
                    gort::yield_now();
                    l.push(c.recv().unwrap());
                }
                l
            });
            for _ in 0..n {
                gort::select! {
                    send(tx, 1) -> res => res.unwrap(),
                    send(tx, 0) -> res => res.unwrap(),
                }
            }
            let l = h.join().unwrap();
            let n1: usize = l.iter().sum();
            let n0 = n - n1;
            assert!(
                n0 > n / 10 && n1 > n / 10,
                "Want pseudorandom, got {n0} zeros and {n1} ones (chan cap {chan_cap})"
            );
        }
    });
}

/// TestMultiConsumer
#[test]
fn multi_consumer() {
    go_test(120, || {
        const NWORK: usize = 23;
        let niter = scaled(271_828, 50_000);
        const PN: [usize; 10] = [2, 3, 7, 11, 13, 17, 19, 23, 27, 31];

        let (q_tx, q) = gort::chan::<usize>(NWORK * 3);
        let (r_tx, r) = gort::chan::<usize>(NWORK * 3);

        // workers
        let wg = gort::sync::WaitGroup::new();
        for w in 0..NWORK {
            wg.add(1);
            let (q, r_tx, wg) = (q.clone(), r_tx.clone(), wg.clone());
            gort::go(move || {
                for v in &q {
                    // mess with the fifo-ish nature of range
                    if PN[w % PN.len()] == v {
                        gort::yield_now();
                    }
                    r_tx.send(v).unwrap();
                }
                wg.done();
            });
        }
        drop(q);

        // feeder & closer
        let feeder = gort::spawn(move || {
            let mut expect = 0;
            for i in 0..niter {
                let v = PN[i % PN.len()];
                expect += v;
                q_tx.send(v).unwrap();
            }
            q_tx.close(); // no more work
            wg.wait(); // workers done
            r_tx.close(); // ... so there can be no more results
            expect
        });

        // consume & check
        let (mut n, mut s) = (0, 0);
        for v in &r {
            n += 1;
            s += v;
        }
        let expect = feeder.join().unwrap();
        assert!(
            n == niter && s == expect,
            "Expected sum {expect} (got {s}) from {niter} iter (saw {n})"
        );
    });
}

/// TestShrinkStackDuringBlockedSend, as a plain test: channel operations work when the
/// blocked sender used a lot of stack in between.
#[test]
fn shrink_stack_during_blocked_send() {
    go_test(30, || {
        const N: i32 = 10;
        let (tx, c) = gort::chan(0);
        let (done_tx, done) = gort::chan::<()>(0);
        gort::go(move || {
            for i in 0..N {
                tx.send(i).unwrap();
                // use lots of stack, briefly.
                stack_growth_recursive(20);
            }
            done_tx.send(()).unwrap();
        });
        for i in 0..N {
            assert_eq!(c.recv(), Some(i), "bad channel read");
            // Wait until the sender has finished using lots of stack and blocked in send.
            wait_for_state("chan send", 1);
        }
        done.recv().unwrap();
    });
}

/// TestNoShrinkStackWhileParking, as a plain test: a sender that grows its stack and then
/// fully blocks, many times over.
#[test]
fn no_shrink_stack_while_parking() {
    go_test(60, || {
        const N: i32 = 10;
        fn send(c: Sender<i32>, done: Sender<()>) {
            for i in 0..N {
                c.send(i).unwrap();
                // Use lots of stack briefly.
                stack_growth_recursive(20);
            }
            done.send(()).unwrap();
        }
        fn recv(c: Receiver<i32>, done: Sender<()>) {
            for i in 0..N {
                // Wait here until the sender has fully blocked.
                wait_for_state("chan send", 1);
                assert_eq!(c.recv(), Some(i));
            }
            done.send(()).unwrap();
        }
        for _ in 0..N * 20 {
            let (tx, c) = gort::chan(0);
            let (done_tx, done) = gort::chan(0);
            let d = done_tx.clone();
            gort::go(move || recv(c, d));
            gort::go(move || send(tx, done_tx));
            // Wait until the sender and receiver have gotten into their groove (the sender
            // blocked in its first send).
            wait_for_state("chan send", 1);
            done.recv().unwrap();
            done.recv().unwrap();
        }
    });
}

/// TestSelectDuplicateChannel: a goroutine can be queued on the same channel several times.
#[test]
fn select_duplicate_channel() {
    go_test(30, || {
        let (c_tx, c) = gort::chan::<i32>(0);
        let (d_tx, d) = gort::chan::<i32>(0);
        let (e_tx, e) = gort::chan::<i32>(0);

        // goroutine A
        let ca = c.clone();
        gort::go(move || {
            gort::select! {
                recv(ca) -> _ => {},
                recv(ca) -> _ => {},
                recv(d) -> _ => {},
            }
            e_tx.send(9).unwrap();
        });
        wait_for_state("select", 1); // make sure goroutine A gets queued first on c

        // goroutine B
        let b = gort::spawn(move || c.recv());
        wait_for_state("chan receive", 1); // make sure goroutine B gets queued on c before continuing

        d_tx.send(7).unwrap(); // wake up A, it dequeues itself from c. This used to corrupt c.recvq.
        assert_eq!(e.recv(), Some(9)); // A tells us it's done
        c_tx.send(8).unwrap(); // wake up B. This used to fail because c.recvq was corrupted.
        assert_eq!(b.join().unwrap(), Some(8));
    });
}

/// TestSelectStackAdjust: receive slots of a select over duplicated channels, in goroutines
/// that grew their stacks, are left intact when another case fires.
#[test]
fn select_stack_adjust() {
    go_test(30, || {
        let (_c_tx, c) = gort::chan::<&'static i32>(0);
        let (d_tx, d) = gort::chan::<&'static i32>(0);
        let (ready1_tx, ready1) = gort::chan::<bool>(0);
        let (ready2_tx, ready2) = gort::chan::<bool>(0);

        let f = move |ready: Sender<bool>,
                      dup: bool,
                      c: Receiver<&'static i32>,
                      d: Receiver<&'static i32>| {
            // Temporarily grow the stack to 10K.
            stack_growth_recursive((10 << 10) / (128 * 8));

            // We're ready to trigger GC and stack shrink.
            ready.send(true).unwrap();

            let mut val = 42;
            let mut cx: &i32 = &val;

            let (c2, d2) = if dup {
                (c.clone(), d.clone())
            } else {
                (gort::never(), gort::never())
            };

            // Receive from d. cx won't be affected.
            gort::select! {
                recv(c) -> v => cx = v.unwrap(),
                recv(c2) -> _ => {},
                recv(d) -> _ => {},
                recv(d2) -> _ => {},
            }

            // Check that pointer in cx is intact.
            assert!(std::ptr::eq(cx, &val), "cx no longer points to val");
            assert_eq!(val, 42, "val changed");
            val = 43;
            assert_eq!(val, 43);
            ready.send(true).unwrap();
        };

        let (c1, d1) = (c.clone(), d.clone());
        gort::go(move || f(ready1_tx, false, c1, d1));
        gort::go(move || f(ready2_tx, true, c, d));

        // Let the goroutines get into the select.
        ready1.recv();
        ready2.recv();
        wait_for_state("select", 2);

        // Wake selects.
        d_tx.close();
        assert_eq!(ready1.recv(), Some(true));
        assert_eq!(ready2.recv(), Some(true));
    });
}

/// chanbarrier_test.go: doRequest's reply travels through an unbuffered channel, sent from a
/// fresh goroutine directly or through a select.
mod barrier {
    use super::*;

    #[derive(Debug)]
    struct MyError;

    impl std::fmt::Display for MyError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("")
        }
    }

    impl std::error::Error for MyError {}

    struct Response;

    type Error = Box<dyn std::error::Error + Send + Sync>;

    struct Async {
        resp: Option<Response>,
        err: Option<Error>,
    }

    fn do_request(use_select: bool) -> (Option<Response>, Option<Error>) {
        let (ch_tx, ch) = gort::chan::<Box<Async>>(0);
        let (_done_tx, done) = gort::chan::<()>(0);

        let reply = || {
            Box::new(Async {
                resp: None,
                err: Some(Box::new(MyError)),
            })
        };
        if use_select {
            gort::go(move || {
                gort::select! {
                    send(ch_tx, reply()) -> _ => {},
                    recv(done) -> _ => {},
                }
            });
        } else {
            gort::go(move || {
                let _ = ch_tx.send(reply());
            });
        }

        let r = ch.recv().unwrap();
        gort::yield_now();
        (r.resp, r.err)
    }

    fn test_chan_send_barrier(use_select: bool) {
        let outer = scaled(100, 10);
        let inner = 1000;
        let mut handles = Vec::new();
        for _ in 0..outer {
            handles.push(gort::spawn(move || {
                let mut garbage = Vec::new();
                for _ in 0..inner {
                    let (_, err) = do_request(use_select);
                    assert!(err.unwrap().downcast_ref::<MyError>().is_some());
                    garbage = std::hint::black_box(vec![0u8; 1 << 10]);
                }
                drop(garbage);
            }));
        }
        for h in handles {
            h.join().unwrap();
        }
    }

    /// TestChanSendSelectBarrier
    #[test]
    fn chan_send_select_barrier() {
        go_test(120, || test_chan_send_barrier(true));
    }

    /// TestChanSendBarrier
    #[test]
    fn chan_send_barrier() {
        go_test(120, || test_chan_send_barrier(false));
    }
}

/// In the spirit of Go's timeout tests: a select with a timer case times out when nothing else
/// is ready, and does not when something is.
#[test]
fn select_timeout() {
    go_test(30, || {
        let (_keep, c) = gort::chan::<i32>(0);
        for _ in 0..20 {
            let start = Instant::now();
            let timed_out = gort::select! {
                recv(c) -> _ => false,
                recv(gort::after(Duration::from_millis(5))) -> _ => true,
            };
            assert!(timed_out);
            assert!(start.elapsed() >= Duration::from_millis(5));
        }
        let (tx, c) = gort::chan::<i32>(0);
        gort::go(move || {
            wait_for_state("select", 1);
            tx.send(1).unwrap();
        });
        let got = gort::select! {
            recv(c) -> v => v,
            recv(gort::after(Duration::from_secs(10))) -> _ => None,
        };
        assert_eq!(got, Some(1));
    });
}
