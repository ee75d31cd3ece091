//! Regression tests for select under stress at procs >= 2, where a woken goroutine runs on the
//! other processor while its waker is still inside the park commit.

mod common;

use std::time::Duration;

use common::go_test;

/// Two goroutines share one unbuffered channel through a send arm and a receive arm of the same
/// select, plus a timer arm. The park commit must not read the parked frame (its case and lock
/// order arrays) after releasing the last lock of a channel that appears in two arms: the
/// goroutine may already be running, and reusing that stack, on the other processor.
///
/// Plain threads spinning beside the runtime make the OS preempt its threads at random points,
/// which widens the window the bug needs.
#[test]
fn same_channel_send_and_recv_arms_with_timer() {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burners: Vec<_> = (0..3)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    go_test(120, || {
        gort::set_procs(2);
        for _ in 0..100 {
            let (tx, rx) = gort::chan::<bool>(0);
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (tx, rx) = (tx.clone(), rx.clone());
                    gort::spawn(move || {
                        let timer = gort::after(Duration::from_millis(20));
                        let mut n = 0u64;
                        loop {
                            gort::select! {
                                send(tx, true) -> _ => n += 1,
                                recv(rx) -> _ => n += 1,
                                recv(timer) -> _ => break,
                            }
                        }
                        n
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
        }
    });
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in burners {
        b.join().unwrap();
    }
}
