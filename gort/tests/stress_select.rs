//! Regression tests for select under stress at procs >= 2, where a woken goroutine runs on the
//! other processor while its waker is still inside the park commit.

use std::time::Duration;

use gort_test_support::{go_test, serial, serial_go_test};

/// Two goroutines share one unbuffered channel through a send arm and a receive arm of the same
/// select, plus a timer arm. The park commit must not read the parked frame (its case and lock
/// order arrays) after releasing the last lock of a channel that appears in two arms: the
/// goroutine may already be running, and reusing that stack, on the other processor.
///
/// Plain threads spinning beside the runtime make the OS preempt its threads at random points,
/// which widens the window the bug needs.
#[test]
fn same_channel_send_and_recv_arms_with_timer() {
    let _serial = serial();
    let burners = gort_test_support::burn_cpus(3);
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
    drop(burners);
}

/// Two dynamic `Select`s blocked on opposite ends of one unbuffered channel meet: the receiving
/// one waits with a destination, and the sending one reserves it.
#[test]
fn two_dynamic_selects_on_opposite_ends_meet() {
    for procs in [1, 2] {
        serial_go_test(60, move || {
            gort::set_procs(procs);
            for i in 0..2000u32 {
                let (tx, rx) = gort::chan::<u32>(0);
                let receiver = gort::spawn(move || {
                    let mut sel = gort::Select::new();
                    sel.recv(&rx);
                    let op = sel.select();
                    op.recv(&rx)
                });
                let sender = gort::spawn(move || {
                    let mut sel = gort::Select::new();
                    sel.send(&tx);
                    let op = sel.select();
                    op.send(&tx, i).unwrap();
                });
                sender.join().unwrap();
                assert_eq!(receiver.join().unwrap(), Some(i));
            }
        });
    }
}

/// Senders and receivers mixing `select!`, the dynamic `Select` and plain operations over two
/// channels (one unbuffered, one buffered) deliver every value exactly once, and a selected
/// operation always completes without blocking.
#[test]
fn dynamic_select_mix_delivers_every_value_once() {
    const SENDERS: u64 = 4;
    const EACH: u64 = 5000;
    serial_go_test(120, || {
        gort::set_procs(2);
        let (a_tx, a_rx) = gort::chan::<u64>(0);
        let (b_tx, b_rx) = gort::chan::<u64>(3);
        let senders: Vec<_> = (0..SENDERS)
            .map(|s| {
                let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
                gort::spawn(move || {
                    for k in 0..EACH {
                        let v = s * EACH + k;
                        match (s + k) % 3 {
                            0 => {
                                let mut sel = gort::Select::new();
                                let ia = sel.send(&a_tx);
                                sel.send(&b_tx);
                                let op = sel.select();
                                if op.index() == ia {
                                    op.send(&a_tx, v).unwrap();
                                } else {
                                    op.send(&b_tx, v).unwrap();
                                }
                            }
                            1 => gort::select! {
                                send(a_tx, v) -> r => r.unwrap(),
                                send(b_tx, v) -> r => r.unwrap(),
                            },
                            _ => a_tx.send(v).unwrap(),
                        }
                    }
                })
            })
            .collect();
        drop((a_tx, b_tx));
        let receivers: Vec<_> = (0..3)
            .map(|r| {
                let (a_rx, b_rx) = (a_rx.clone(), b_rx.clone());
                gort::spawn(move || {
                    let mut got = Vec::new();
                    let (mut a_open, mut b_open) = (true, true);
                    let mut n = 0u64;
                    while a_open || b_open {
                        n += 1;
                        if r == 0 || n.is_multiple_of(2) {
                            let mut sel = gort::Select::new();
                            let ia = a_open.then(|| sel.recv(&a_rx));
                            let ib = b_open.then(|| sel.recv(&b_rx));
                            let op = sel.select();
                            if Some(op.index()) == ia {
                                match op.recv(&a_rx) {
                                    Some(v) => got.push(v),
                                    None => a_open = false,
                                }
                            } else {
                                assert_eq!(Some(op.index()), ib);
                                match op.recv(&b_rx) {
                                    Some(v) => got.push(v),
                                    None => b_open = false,
                                }
                            }
                        } else if a_open && b_open {
                            gort::select! {
                                recv(a_rx) -> v => match v { Some(v) => got.push(v), None => a_open = false },
                                recv(b_rx) -> v => match v { Some(v) => got.push(v), None => b_open = false },
                            }
                        } else if a_open {
                            match a_rx.recv() {
                                Some(v) => got.push(v),
                                None => a_open = false,
                            }
                        } else {
                            match b_rx.recv() {
                                Some(v) => got.push(v),
                                None => b_open = false,
                            }
                        }
                    }
                    got
                })
            })
            .collect();
        for s in senders {
            s.join().unwrap();
        }
        let mut all: Vec<u64> = receivers
            .into_iter()
            .flat_map(|r| r.join().unwrap())
            .collect();
        all.sort_unstable();
        assert_eq!(
            all.len() as u64,
            SENDERS * EACH,
            "values lost or duplicated"
        );
        assert!(all.iter().enumerate().all(|(i, &v)| v == i as u64));
    });
}

/// A selected send reserves a buffer slot: other senders find the channel full, and completing
/// the reserved send does not block.
#[test]
fn a_selected_send_reserves_its_buffer_slot() {
    serial_go_test(30, || {
        let (tx, rx) = gort::chan::<u32>(1);
        let mut sel = gort::Select::new();
        sel.send(&tx);
        let op = sel.try_select().expect("room in the buffer");
        assert!(tx.try_send(5).is_err(), "the reserved slot was taken");
        op.send(&tx, 1).unwrap();
        assert_eq!(rx.recv(), Some(1));
    });
}

/// Dropping a selected operation unused panics with a clear message. A send gives its
/// reservation back (the receiver it had reserved receives the next value); a receive's message
/// says that the value it took was dropped.
#[test]
fn dropping_a_selected_operation_panics_and_releases_it() {
    serial_go_test(30, || {
        let (tx, rx) = gort::chan::<u32>(0);
        let receiver = gort::spawn(move || rx.recv());
        // Wait until the receiver is blocked, then reserve it and drop the reservation.
        loop {
            let mut sel = gort::Select::new();
            sel.send(&tx);
            if let Some(op) = sel.try_select() {
                let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op)));
                let msg = r.unwrap_err();
                let msg = msg
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| msg.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                assert!(msg.contains("without completing"), "{msg}");
                assert!(msg.contains("reservation was given back"), "{msg}");
                break;
            }
            gort::yield_now();
        }
        tx.send(9).unwrap();
        assert_eq!(receiver.join().unwrap(), Some(9));

        // A selected receive has taken its value already: the message says it was dropped.
        let (tx, rx) = gort::chan::<u32>(1);
        tx.send(5).unwrap();
        let mut sel = gort::Select::new();
        sel.recv(&rx);
        let op = sel.select();
        let msg = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(op))).unwrap_err();
        let msg = msg.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("the value it received was dropped"), "{msg}");
    });
}
