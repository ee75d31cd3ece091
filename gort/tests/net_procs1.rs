//! gort::net with a single processor (GOMAXPROCS = 1): a goroutine parked in a socket read holds
//! no thread and no processor, so the others keep running. Tests in this file share one runtime
//! and run one at a time.

use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream, UnixStream};
use gort_test_support::with_procs;

#[test]
fn a_goroutine_blocked_in_read_does_not_block_others() {
    with_procs(1, 60, || {
        assert_eq!(gort::procs(), 1);
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let quiet = TcpStream::connect(addr).unwrap();
        let (mut quiet_peer, _) = ln.accept().unwrap();
        let got = Arc::new(AtomicBool::new(false));
        let blocked = {
            let got = got.clone();
            gort::spawn(move || {
                let mut quiet = quiet;
                let mut b = [0u8; 4];
                quiet.read_exact(&mut b).unwrap(); // parks for a long time
                got.store(true, SeqCst);
                b
            })
        };
        // Meanwhile, on the same processor: an echo over another connection, 1000 round trips,
        // plus a goroutine that only yields.
        let server = gort::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            let mut b = [0u8; 8];
            for _ in 0..1000 {
                c.read_exact(&mut b).unwrap();
                c.write_all(&b).unwrap();
            }
        });
        let yielder = gort::spawn(|| {
            for _ in 0..1000 {
                gort::yield_now();
            }
        });
        let t = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        for i in 0..1000u64 {
            s.write_all(&i.to_le_bytes()).unwrap();
            let mut b = [0u8; 8];
            s.read_exact(&mut b).unwrap();
            assert_eq!(u64::from_le_bytes(b), i);
        }
        server.join().unwrap();
        yielder.join().unwrap();
        eprintln!(
            "1000 round trips on one processor beside a parked reader: {:?}",
            t.elapsed()
        );
        assert!(
            !got.load(SeqCst),
            "the quiet reader cannot have read anything yet"
        );
        assert!(!blocked.is_finished());
        quiet_peer.write_all(b"wake").unwrap();
        assert_eq!(&blocked.join().unwrap(), b"wake");
    });
}

#[test]
fn a_timeout_fires_while_the_only_processor_is_busy_elsewhere() {
    with_procs(1, 30, || {
        let (a, _b) = UnixStream::pair().unwrap();
        a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let h = gort::spawn(move || {
            let t = Instant::now();
            let e = (&a).read(&mut [0u8; 1]).unwrap_err();
            (e.kind(), t.elapsed())
        });
        // Keep the processor busy with yields until the reader is done.
        let t = Instant::now();
        while !h.is_finished() {
            gort::yield_now();
            assert!(t.elapsed() < Duration::from_secs(10));
        }
        let (kind, took) = h.join().unwrap();
        assert_eq!(kind, std::io::ErrorKind::TimedOut);
        assert!(
            took >= Duration::from_millis(45) && took < Duration::from_secs(2),
            "{took:?}"
        );
    });
}
