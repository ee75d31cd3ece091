//! `gort::net::lookup_host` and name resolution in `connect`/`bind`: /etc/hosts names resolve
//! from many goroutines at once (at procs 1 and 2, the lookups run as hand-off calls), a name
//! that does not exist is a clear `io::Error` and no hang, and `connect("localhost:port")` works.

use std::io::{Read, Write};

use gort::net::{TcpListener, TcpStream, lookup_host};
use gort_test_support::with_procs;

fn lookups(procs: usize) {
    with_procs(procs, 60, || {
        let hs: Vec<_> = (0..100u16)
            .map(|i| {
                gort::spawn(move || {
                    let addrs: Vec<_> = lookup_host(("localhost", 1000 + i)).unwrap().collect();
                    assert!(!addrs.is_empty());
                    for a in addrs {
                        assert!(a.ip().is_loopback(), "{a}");
                        assert_eq!(a.port(), 1000 + i);
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let err = lookup_host("gort-no-such-host.invalid:80")
            .err()
            .expect("must not resolve");
        assert!(!err.to_string().is_empty());
        assert!(TcpStream::connect("gort-no-such-host.invalid:80").is_err());
        let addrs: Vec<_> = lookup_host("127.0.0.1:7").unwrap().collect();
        assert_eq!(addrs, ["127.0.0.1:7".parse().unwrap()]);
    });
}

#[test]
fn lookups_procs1() {
    lookups(1);
}

#[test]
fn lookups_procs2() {
    lookups(2);
}

#[test]
fn connect_and_bind_resolve_names() {
    with_procs(2, 60, || {
        let ln = TcpListener::bind("localhost:0").unwrap();
        let port = ln.local_addr().unwrap().port();
        let h = gort::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            c.write_all(b"hi").unwrap();
        });
        let mut s = TcpStream::connect(("localhost", port)).unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        h.join().unwrap();
    });
}
