//! test/chan/select3.go: the semantics of select for basic empty/non-empty cases.

use super::*;
use gort::SendError;

/// Runs `f` in a goroutine and reports whether it was still blocked after 0.1 s (Go's
/// testBlock). A blocked `f` must be released by the caller afterwards.
fn blocks(f: impl FnOnce() + Send + 'static) -> bool {
    !finishes_within(Duration::from_millis(100), f) // 0.1s seems plenty long
}

/// Whether `f`, run in a goroutine, finishes within `d`. Go's testBlock asks the same of an
/// `f` that must not block with 0.1 s; here 10 s, so that a loaded machine cannot make a
/// non-blocking `f` look blocked (a blocking one still fails the test, only later).
fn completes(f: impl FnOnce() + Send + 'static) -> bool {
    finishes_within(Duration::from_secs(10), f)
}

fn finishes_within(d: Duration, f: impl FnOnce() + Send + 'static) -> bool {
    let (tx, c) = gort::chan::<()>(1);
    gort::go(move || {
        f();
        let _ = tx.send(());
    });
    c.recv_timeout(d).is_ok()
}

#[test]
fn select3() {
    let _s = shared();
    go_test(30, || {
        let (closed_tx, closedch) = gort::chan::<i32>(0);
        closed_tx.close();
        let short = Duration::from_millis(100);

        // receiving from a nil channel blocks (a nil channel cannot be sent on in gort)
        assert!(gort::never::<i32>().recv_timeout(short).is_err());

        // sending/receiving from a nil channel inside a select is never selected
        let (disabled, _keep) = gort::chan::<i32>(0);
        gort::select! {
            send(disabled, 7) -> _ => unreachable!(),
            default => {}
        }
        gort::select! {
            recv(gort::never::<i32>()) -> _ => unreachable!(),
            default => {}
        }

        // sending to an async channel with free buffer space never blocks
        assert!(completes(|| {
            let (tx, _rx) = gort::chan(1);
            tx.send(7).unwrap();
        }));

        // receiving from a closed channel never blocks
        let c = closedch.clone();
        assert!(completes(move || {
            for _ in 0..10 {
                assert_eq!(c.recv(), None, "expected None from closed channel");
                assert_eq!(c.try_recv(), Err(gort::TryRecvError::Closed));
            }
        }));

        // sending to a closed channel fails, returning the value (Go panics)
        assert!(matches!(closed_tx.send(7), Err(SendError(7))));

        // receiving from a non-ready channel always blocks
        let (hold, ch) = gort::chan::<i32>(0);
        assert!(blocks(move || {
            ch.recv();
        }));
        drop(hold); // release it

        // selects with only nil channels always block
        let (release, wait) = gort::chan::<()>(0);
        assert!(blocks(move || {
            gort::select! {
                recv(gort::never::<i32>()) -> _ => unreachable!(),
                recv(wait) -> _ => {}, // the test's release
            }
        }));
        drop(release);

        // selects with non-ready non-nil channels always block
        let (hold, ch) = gort::chan::<i32>(0);
        assert!(blocks(move || {
            gort::select! {
                recv(ch) -> v => assert_eq!(v, None),
            }
        }));
        drop(hold);

        // selects with default cases don't block
        assert!(completes(|| {
            gort::select! {
                recv(gort::never::<i32>()) -> _ => unreachable!(),
                default => {}
            }
        }));
        assert!(completes(|| {
            let (disabled, _keep) = gort::chan::<i32>(0);
            gort::select! {
                send(disabled, 7) -> _ => unreachable!(),
                default => {}
            }
        }));

        // selects with ready channels don't block
        assert!(completes(|| {
            let (tx, _rx) = gort::chan(1);
            gort::select! {
                send(tx, 7) -> res => res.unwrap(),
                default => unreachable!(),
            }
        }));
        assert!(completes(|| {
            let (tx, ch) = gort::chan(1);
            tx.send(7).unwrap();
            gort::select! {
                recv(ch) -> v => assert_eq!(v, Some(7)),
                default => unreachable!(),
            }
        }));

        // selects with closed channels behave like ordinary operations
        let c = closedch.clone();
        assert!(completes(move || {
            gort::select! {
                recv(c) -> v => assert_eq!(v, None),
            }
        }));
        let t = closed_tx.clone();
        assert!(completes(move || {
            gort::select! {
                send(t, 7) -> res => assert!(matches!(res, Err(SendError(7)))),
            }
        }));

        // select should not get confused if it sees itself
        let (tx, c) = gort::chan::<i32>(0);
        let closer = tx.clone();
        assert!(blocks(move || {
            gort::select! {
                send(tx, 1) -> res => assert!(res.is_err()),
                recv(c) -> v => assert_eq!(v, None),
            }
        }));
        closer.close(); // release it: both cases become ready
    });
}
