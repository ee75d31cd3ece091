//! test/chan/select8.go: break statements in a select (gccgo had a bug in handling this), for
//! 1-, 2- and 3-case selects. In Rust, `break`, `continue` and `return` in a case body act on
//! the enclosing loop or function.

use super::*;

#[allow(clippy::needless_return)] // the point: `return` from inside a case
fn returns_from_case(ch: &gort::Receiver<i32>) -> i32 {
    gort::select! {
        recv(ch) -> v => return v.unwrap() + 1,
    }
}

#[test]
#[allow(clippy::never_loop)] // the point: `break` from inside a case
fn select8() {
    let _s = shared();
    go_test(30, || {
        let (tx, ch) = gort::chan(0);
        gort::go(move || while tx.send(5).is_ok() {});

        let mut n = 0;
        loop {
            n += 1;
            gort::select! {
                recv(ch) -> _ => break,
            }
        }
        loop {
            n += 1;
            gort::select! {
                default => break,
            }
        }
        loop {
            n += 1;
            gort::select! {
                recv(ch) -> _ => break,
                default => break,
            }
        }
        let (other, _keep) = gort::chan::<i32>(0);
        loop {
            n += 1;
            gort::select! {
                recv(ch) -> _ => break,
                send(other, 10) -> _ => unreachable!(),
                default => break,
            }
        }
        let mut skipped = 0;
        for i in 0..4 {
            gort::select! {
                recv(ch) -> _ => if i % 2 == 0 { skipped += 1; continue },
            }
            n += 1;
        }
        assert_eq!((n, skipped), (6, 2));
        assert_eq!(returns_from_case(&ch), 6);
    });
}
