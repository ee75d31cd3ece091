//! gort::net at two processors, where the poller has one shard per processor: a goroutine
//! waiting on a socket in any shard wakes when its data arrives, even while every processor is
//! busy and none of them polls (sysmon polls each shard nobody has polled for 10 ms).

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream};
use gort_test_support::with_procs;

#[test]
fn readers_in_every_shard_wake_while_every_processor_is_busy() {
    with_procs(2, 60, || {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        // Sixteen connections: both shards get some with all but certainty (1 in 2^15 not).
        let mut peers = Vec::new();
        let mut readers = Vec::new();
        for _ in 0..16 {
            let mut c = TcpStream::connect(addr).unwrap();
            peers.push(ln.accept().unwrap().0);
            readers.push(gort::spawn(move || {
                let mut b = [0u8; 1];
                c.read_exact(&mut b).unwrap();
                Instant::now()
            }));
        }
        gort::time::sleep(Duration::from_millis(20));
        // Four goroutines that only yield keep the global queue non-empty, so neither processor
        // runs out of work and polls.
        let done = Arc::new(AtomicBool::new(false));
        let busy: Vec<_> = (0..4)
            .map(|_| {
                let done = done.clone();
                gort::spawn(move || {
                    let t = Instant::now();
                    while !done.load(Relaxed) && t.elapsed() < Duration::from_secs(10) {
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let wrote = Instant::now();
        for p in &mut peers {
            p.write_all(b"x").unwrap();
        }
        let slowest = readers
            .into_iter()
            .map(|r| r.join().unwrap() - wrote)
            .max()
            .unwrap();
        done.store(true, Relaxed);
        for b in busy {
            b.join().unwrap();
        }
        assert!(
            slowest < Duration::from_secs(2),
            "a reader woke {slowest:?} after its data arrived"
        );
    });
}
