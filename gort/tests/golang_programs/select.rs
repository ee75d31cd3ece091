//! test/chan/select.go: send values are evaluated on every select, including those of cases
//! that are not chosen and of disabled (nil) channels.

use super::*;
use gort::Sender;
use std::cell::Cell;

struct Counter {
    counter: Cell<u32>,
    shift: Cell<u32>,
}

impl Counter {
    fn get_value(&self) -> u32 {
        self.counter.set(self.counter.get() + 1);
        1 << self.shift.get()
    }

    /// Go's Send(a, b); `None` is a nil channel. A nil channel's send case never proceeds,
    /// like a send on an unbuffered channel nobody receives from (`disabled`).
    fn send(&self, a: Option<&Sender<u32>>, b: Option<&Sender<u32>>) -> i32 {
        let (disabled, _keep) = gort::chan::<u32>(0);
        let mut a = a.cloned().unwrap_or_else(|| disabled.clone());
        let mut b = b.cloned().unwrap_or_else(|| disabled.clone());
        let mut i = 0;
        loop {
            let chosen = gort::select! {
                send(a, self.get_value()) -> res => { res.unwrap(); 'a' },
                send(b, self.get_value()) -> res => { res.unwrap(); 'b' },
                default => ' ',
            };
            match chosen {
                'a' => {
                    i += 1;
                    a = disabled.clone();
                }
                'b' => {
                    i += 1;
                    b = disabled.clone();
                }
                _ => break,
            }
            self.shift.set(self.shift.get() + 1);
        }
        i
    }
}

#[test]
fn select() {
    let _s = shared();
    go_test(30, || {
        let c = Counter {
            counter: Cell::new(0),
            shift: Cell::new(0),
        };
        let (a, ar) = gort::chan(1);
        let (b, br) = gort::chan(1);
        assert_eq!(c.send(Some(&a), Some(&b)), 2, "Send returned != 2");
        let (av, bv) = (ar.recv().unwrap(), br.recv().unwrap());
        assert_eq!(av | bv, 3, "bad values {av} {bv}");
        assert_eq!(c.send(Some(&a), None), 1, "Send returned != 1");
        assert_eq!(c.counter.get(), 10, "counter is not 10");
    });
}
