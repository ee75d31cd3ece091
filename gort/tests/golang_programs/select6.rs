//! test/chan/select6.go: Go issue 2075. A bug in select corrupted channel queues of failed cases
//! if there were multiple waiters on those channels and the select was the last in the queue.
//! If further waits were made on the channel without draining it first then those waiters
//! never woke up. In the code below c1 is such a channel.

use super::*;

#[test]
fn select6() {
    let _s = shared();
    go_test(30, || {
        let (c1_tx, c1) = gort::chan::<bool>(0);
        let (c2_tx, c2) = gort::chan::<bool>(0);
        let (c3_tx, c3) = gort::chan::<bool>(0);
        let r = c1.clone();
        let a = gort::spawn(move || {
            r.recv();
        });
        let b = gort::spawn(move || {
            gort::select! {
                recv(c1) -> _ => panic!("dummy"),
                recv(c2) -> _ => c3_tx.send(true).unwrap(),
            }
            c1.recv();
        });
        gort::go(move || c2_tx.send(true).unwrap());
        c3.recv();
        c1_tx.send(true).unwrap();
        c1_tx.send(true).unwrap();
        a.join().unwrap();
        b.join().unwrap();
    });
}
