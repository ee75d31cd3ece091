//! test/chan/zerosize.go: channels of a zero-sized type.

use super::*;

#[test]
fn zerosize() {
    let _s = shared();
    go_test(30, || {
        let _ = gort::chan::<[u8; 0]>(0);
        let _ = gort::chan::<[u8; 0]>(1);
        let _ = gort::chan::<()>(0);
        let _ = gort::chan::<()>(1);

        // And they work.
        let (tx, rx) = gort::chan::<[u8; 0]>(1);
        tx.send([]).unwrap();
        assert_eq!(rx.recv(), Some([]));
        let (tx, rx) = gort::chan::<()>(0);
        gort::go(move || tx.send(()).unwrap());
        assert_eq!(rx.recv(), Some(()));
        assert_eq!(rx.recv(), None);
    });
}
