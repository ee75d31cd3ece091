//! gort::net::UdpSocket: send_to/recv_from, connect/send/recv, timeouts, parking receivers, and
//! a plain OS thread.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use gort::net::UdpSocket;
use gort_test_support::{bounded, wait_for_state};

#[test]
fn send_to_and_recv_from_between_goroutines() {
    bounded(30, || {
        gort::run(|| {
            let server = UdpSocket::bind("127.0.0.1:0").unwrap();
            let saddr = server.local_addr().unwrap();
            // An echo server goroutine: parks in recv_from until each datagram arrives.
            let echo = gort::spawn(move || {
                let mut buf = [0u8; 1500];
                for _ in 0..300 {
                    let (n, from) = server.recv_from(&mut buf).unwrap();
                    server.send_to(&buf[..n], from).unwrap();
                }
            });
            let clients: Vec<_> = (0..3u8)
                .map(|id| {
                    gort::spawn(move || {
                        let c = UdpSocket::bind("127.0.0.1:0").unwrap();
                        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                        let mut buf = [0u8; 1500];
                        for r in 0..100u16 {
                            let len = 1 + (r as usize * 11 + id as usize) % 1200;
                            let out: Vec<u8> =
                                (0..len).map(|i| (i as u8) ^ id ^ (r as u8)).collect();
                            c.send_to(&out, saddr).unwrap();
                            let (n, from) = c.recv_from(&mut buf).unwrap();
                            assert_eq!(from, saddr);
                            assert_eq!(&buf[..n], &out[..], "client {id} round {r}");
                        }
                    })
                })
                .collect();
            for c in clients {
                c.join().unwrap();
            }
            echo.join().unwrap();
        })
    });
}

#[test]
fn connect_send_recv_with_a_timeout() {
    bounded(30, || {
        gort::run(|| {
            let a = UdpSocket::bind("127.0.0.1:0").unwrap();
            let b = UdpSocket::bind("127.0.0.1:0").unwrap();
            let (aa, ba) = (a.local_addr().unwrap(), b.local_addr().unwrap());
            a.connect(ba).unwrap();
            b.connect(aa).unwrap();
            assert_eq!(a.peer_addr().unwrap(), ba);
            assert_eq!(
                b.set_read_timeout(Some(Duration::ZERO)).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            b.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            assert_eq!(b.read_timeout().unwrap(), Some(Duration::from_millis(100)));
            // A receiver that parks until the datagram arrives, sent once it has parked (a
            // generous timeout here: a loaded machine may delay the sender).
            b.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let h = gort::spawn(move || {
                let mut buf = [0u8; 64];
                let n = b.recv(&mut buf).unwrap();
                assert_eq!(&buf[..n], b"late");
                // Nothing else comes: the timeout ends the next recv.
                b.set_read_timeout(Some(Duration::from_millis(100)))
                    .unwrap();
                let t = Instant::now();
                let e = b.recv(&mut buf).unwrap_err();
                (e.kind(), t.elapsed(), b)
            });
            wait_for_state("IO wait", 1);
            assert_eq!(a.send(b"late").unwrap(), 4);
            let (kind, took, b) = h.join().unwrap();
            assert_eq!(kind, ErrorKind::TimedOut);
            assert!(
                took >= Duration::from_millis(95) && took < Duration::from_secs(2),
                "{took:?}"
            );
            // peek leaves the datagram queued.
            a.send(b"peekaboo").unwrap();
            let mut buf = [0u8; 64];
            let n = b.peek(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"peekaboo");
            let n = b.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"peekaboo");
            // A connected socket only accepts datagrams from its peer.
            let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
            stranger.send_to(b"spam", aa).unwrap();
            a.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            assert_eq!(a.recv(&mut buf).unwrap_err().kind(), ErrorKind::TimedOut);
            // Non-blocking mode.
            a.set_nonblocking(true).unwrap();
            assert_eq!(a.recv(&mut buf).unwrap_err().kind(), ErrorKind::WouldBlock);
        })
    });
}

#[test]
fn a_plain_thread_blocks_in_recv() {
    bounded(30, || {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let aa = a.local_addr().unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b2 = b.try_clone().unwrap();
        gort::go(move || {
            gort::sleep(Duration::from_millis(50));
            b2.send_to(b"from a goroutine", aa).unwrap();
        });
        let t = Instant::now();
        let mut buf = [0u8; 64];
        let (n, from) = a.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"from a goroutine");
        assert_eq!(from, b.local_addr().unwrap());
        assert!(t.elapsed() >= Duration::from_millis(40));
    });
}
