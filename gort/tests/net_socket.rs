//! gort::net's socket options and the remaining types: `TcpSocket` (options set before
//! connect or listen, SO_REUSEPORT listeners sharing a port), `UnixDatagram` (pair, bound,
//! deadlines), UDP multicast join/leave, and conversions to and from std's types (std's in
//! blocking mode) and `OwnedFd`.

use std::io::{ErrorKind, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram};
use gort_test_support::with_procs;

#[test]
fn tcp_socket_options_connect_and_listen() {
    at_procs_1_and_2(|| {
        let s = TcpSocket::new_v4().unwrap();
        s.set_reuseaddr(true).unwrap();
        assert!(s.reuseaddr().unwrap());
        s.set_reuseport(true).unwrap();
        assert!(s.reuseport().unwrap());
        s.set_keepalive(true).unwrap();
        assert!(s.keepalive().unwrap());
        s.set_linger(Some(Duration::from_secs(1))).unwrap();
        assert_eq!(s.linger().unwrap(), Some(Duration::from_secs(1)));
        s.set_recv_buffer_size(64 * 1024).unwrap();
        assert!(s.recv_buffer_size().unwrap() >= 64 * 1024);
        s.set_send_buffer_size(64 * 1024).unwrap();
        assert!(s.send_buffer_size().unwrap() >= 64 * 1024);
        s.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = s.local_addr().unwrap();
        let ln = s.listen(128).unwrap();

        // A second listener on the same port, through SO_REUSEPORT.
        let s2 = TcpSocket::new_v4().unwrap();
        s2.set_reuseport(true).unwrap();
        s2.bind(addr).unwrap();
        let ln2 = s2.listen(0).unwrap();
        assert_eq!(ln2.local_addr().unwrap(), addr);
        drop(ln2);

        let server = gort::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            let mut buf = [0u8; 4];
            c.read_exact(&mut buf).unwrap();
            c.write_all(&buf).unwrap();
        });
        let client = TcpSocket::new_v4().unwrap();
        assert!(!client.nodelay().unwrap());
        client.set_nodelay(true).unwrap();
        let mut c = client.connect(addr).unwrap();
        assert!(c.nodelay().unwrap());
        c.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        server.join().unwrap();

        // A refused connect is an error, not a hang.
        let closed = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap()
        };
        let e = TcpSocket::new_v4().unwrap().connect(closed).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn unix_datagrams() {
    at_procs_1_and_2(|| {
        let (a, b) = UnixDatagram::pair().unwrap();
        let h = gort::spawn(move || {
            let mut buf = [0u8; 16];
            let n = b.recv(&mut buf).unwrap();
            b.send(&buf[..n]).unwrap();
            b
        });
        a.send(b"datagram").unwrap();
        let mut buf = [0u8; 16];
        let n = a.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"datagram");
        let _b = h.join().unwrap();

        let dir = std::env::temp_dir().join(format!("gort-dgram-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let server = UnixDatagram::bind(dir.join("s")).unwrap();
        let client = UnixDatagram::bind(dir.join("c")).unwrap();
        client.send_to(b"hi", dir.join("s")).unwrap();
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"hi");
        assert_eq!(from.as_pathname(), Some(dir.join("c").as_path()));

        // A deadline cancels a parked receive.
        let t = Instant::now();
        server
            .set_read_deadline(Some(t + Duration::from_millis(30)))
            .unwrap();
        assert_eq!(
            server.recv(&mut buf).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        assert!(t.elapsed() >= Duration::from_millis(30));
        std::fs::remove_dir_all(dir).unwrap();
    });
}

#[test]
fn udp_multicast_join_and_leave() {
    at_procs_1_and_2(|| {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        let group = Ipv4Addr::new(239, 255, 42, 99);
        s.set_multicast_loop_v4(true).unwrap();
        assert!(s.multicast_loop_v4().unwrap());
        s.set_multicast_ttl_v4(1).unwrap();
        match s.join_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED) {
            Ok(()) => s
                .leave_multicast_v4(&group, &Ipv4Addr::UNSPECIFIED)
                .unwrap(),
            // A network namespace without a multicast route: the call itself worked.
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {}
            Err(e) => panic!("join_multicast_v4: {e}"),
        }
        s.set_broadcast(true).unwrap();
        assert!(s.broadcast().unwrap());
    });
}

#[test]
fn conversions_to_and_from_std() {
    at_procs_1_and_2(|| {
        let std_ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_ln.local_addr().unwrap();
        let ln = TcpListener::from(std_ln);
        let h = gort::spawn(move || ln.accept().unwrap().0);
        let c = TcpStream::connect(addr).unwrap();
        let s = h.join().unwrap();

        // Back to std: blocking again.
        let mut std_s: std::net::TcpStream = s.into();
        let mut c2 = c.try_clone().unwrap();
        c2.write_all(b"abc").unwrap();
        let mut buf = [0u8; 3];
        std_s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"abc");

        // Through OwnedFd and back into the poller.
        let fd: OwnedFd = std_s.into();
        let s = TcpStream::from(fd);
        let h = gort::spawn(move || {
            let mut buf = [0u8; 3];
            (&s).read_exact(&mut buf).unwrap();
            buf
        });
        c2.write_all(b"xyz").unwrap();
        assert_eq!(&h.join().unwrap(), b"xyz");

        let u = UdpSocket::from(std::net::UdpSocket::bind("127.0.0.1:0").unwrap());
        let std_u: std::net::UdpSocket = u.into();
        std_u
            .set_read_timeout(Some(Duration::from_millis(10)))
            .unwrap();
        let e = std_u.recv(&mut buf).unwrap_err();
        assert!(matches!(
            e.kind(),
            ErrorKind::WouldBlock | ErrorKind::TimedOut
        ));
    });
}

/// Runs `body` as a goroutine at procs 1, then at procs 2.
fn at_procs_1_and_2(body: fn()) {
    for procs in [1, 2] {
        with_procs(procs, 60, body);
    }
}

/// Goroutines sharing one `Pollable` read in turn (the poller keeps one waiter per direction),
/// as Go's net types serialise their readers.
#[test]
fn goroutines_sharing_a_pollable_read_in_turn() {
    with_procs(2, 30, || {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let a = std::sync::Arc::new(gort::io::Pollable::new(a).unwrap());
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let a = a.clone();
                gort::spawn(move || {
                    let mut byte = [0u8; 1];
                    a.read_with(|s| (&*s).read(&mut byte)).unwrap();
                    byte[0]
                })
            })
            .collect();
        gort::sleep(Duration::from_millis(20));
        for c in b"wxyz" {
            (&b).write_all(&[*c]).unwrap();
            gort::sleep(Duration::from_millis(5));
        }
        let mut got: Vec<u8> = readers.into_iter().map(|r| r.join().unwrap()).collect();
        got.sort();
        assert_eq!(got, b"wxyz");
    });
}

/// A datagram socket shut down for reading ends its receives, parked or not, as std's blocking
/// ones end: `recv` with 0 bytes, Unix `recv_from` with 0 bytes from an unnamed sender, UDP
/// `recv_from` with `InvalidInput` (no sender). The kernel's non-blocking receive says "try
/// again" there instead, for ever.
#[test]
fn a_datagram_socket_shut_for_reading_ends_its_receives() {
    use std::net::Shutdown;
    use std::os::fd::AsRawFd;
    at_procs_1_and_2(|| {
        let (a, _b) = UnixDatagram::pair().unwrap();
        let a = std::sync::Arc::new(a);
        let parked = {
            let a = a.clone();
            gort::spawn(move || a.recv(&mut [0u8; 16]))
        };
        gort_test_support::wait_for_state("IO wait", 1);
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(parked.join().unwrap().unwrap(), 0);
        assert_eq!(a.recv(&mut [0u8; 16]).unwrap(), 0);
        let (n, from) = a.recv_from(&mut [0u8; 16]).unwrap();
        assert!(n == 0 && from.is_unnamed(), "{n} {from:?}");

        let a = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        a.connect(b.local_addr().unwrap()).unwrap();
        let parked = {
            let a = a.clone();
            gort::spawn(move || a.recv(&mut [0u8; 16]))
        };
        gort_test_support::wait_for_state("IO wait", 1);
        // SAFETY: shutdown(2) on a socket this test owns (std's UdpSocket has no shutdown).
        assert_eq!(unsafe { libc::shutdown(a.as_raw_fd(), libc::SHUT_RD) }, 0);
        assert_eq!(parked.join().unwrap().unwrap(), 0);
        assert_eq!(a.peek(&mut [0u8; 16]).unwrap(), 0);
        let e = a.recv_from(&mut [0u8; 16]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
    });
}

/// `connect` on a socket that is listening (or connected) already fails with `EISCONN`, as
/// std's does, instead of waiting for a writable edge that never comes.
#[test]
fn connecting_a_listening_socket_is_an_error() {
    at_procs_1_and_2(|| {
        let listening = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let target = TcpListener::bind("127.0.0.1:0").unwrap();
        let s = TcpSocket::from(OwnedFd::from(listening));
        let e = s
            .connect(target.local_addr().unwrap())
            .map(drop)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EISCONN), "{e}");
    });
}
