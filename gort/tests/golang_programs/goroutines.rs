//! test/chan/goroutines.go: make a lot of goroutines, threaded together, and tear them down
//! cleanly.

use super::*;

#[test]
fn goroutines() {
    let _s = shared();
    go_test(60, || {
        let n = 10_000;
        let (leftmost_tx, leftmost) = gort::chan(0);
        let mut left = leftmost_tx;
        for _ in 0..n {
            let (right_tx, right) = gort::chan::<i32>(0);
            gort::go(move || {
                // f(left, right): left <- <-right
                let v = right.recv().unwrap();
                left.send(v).unwrap();
            });
            left = right_tx;
        }
        gort::go(move || left.send(1).unwrap());
        assert_eq!(leftmost.recv(), Some(1));
    });
}
