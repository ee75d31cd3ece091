//! test/chan/select4.go: the destination of a receive case that is not chosen is not
//! evaluated.

use super::*;
use std::sync::atomic::AtomicBool;

static CALLED: AtomicBool = AtomicBool::new(false);

fn f(x: &mut i32) -> &mut i32 {
    CALLED.store(true, Relaxed);
    x
}

#[test]
fn select4() {
    let _s = shared();
    go_test(30, || {
        let mut dummy = 0;
        let mut x = 0;
        let (c_tx, c) = gort::chan(1);
        let (_c1_tx, c1) = gort::chan(0);
        c_tx.send(42).unwrap();
        gort::select! {
            recv(c1) -> v => *f(&mut dummy) = v.unwrap(),
            recv(c) -> v => x = v.unwrap(),
        }
        assert_eq!(x, 42);
        assert!(!CALLED.load(Relaxed), "called f");
    });
}
