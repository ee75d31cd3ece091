//! gort::net Unix-domain streams: echo with a goroutine per connection, pair, errors, and a
//! connect burst larger than the listener's backlog.

use std::io::{ErrorKind, Read, Write};
use std::net::Shutdown;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gort::net::{UnixListener, UnixStream};
use gort_test_support::bounded;

fn sock_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("gort-net-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn echo_over_a_path() {
    bounded(60, || {
        gort::run(|| {
            let path = sock_path("echo");
            let ln = UnixListener::bind(&path).unwrap();
            assert_eq!(ln.local_addr().unwrap().as_pathname(), Some(path.as_path()));
            gort::go(move || {
                for c in ln.incoming() {
                    let mut c = c.unwrap();
                    gort::go(move || {
                        let mut buf = [0u8; 1024];
                        loop {
                            match c.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => c.write_all(&buf[..n]).unwrap(),
                            }
                        }
                    });
                }
            });
            let wg = gort::sync::WaitGroup::new();
            for id in 0..20u8 {
                wg.add(1);
                let (wg, path) = (wg.clone(), path.clone());
                gort::go(move || {
                    let mut s = UnixStream::connect(&path).unwrap();
                    for r in 0..100u8 {
                        let out = vec![id ^ r; 1 + (id as usize * 5 + r as usize) % 700];
                        s.write_all(&out).unwrap();
                        let mut back = vec![0u8; out.len()];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, out);
                    }
                    wg.done();
                });
            }
            wg.wait();
            std::fs::remove_file(&path).unwrap();
        })
    });
}

#[test]
fn pair_shutdown_timeout_and_clone() {
    bounded(30, || {
        gort::run(|| {
            let (a, b) = UnixStream::pair().unwrap();
            let reader = gort::spawn(move || {
                let mut all = String::new();
                (&b).read_to_string(&mut all).unwrap();
                (all, b)
            });
            let a2 = a.try_clone().unwrap();
            (&a).write_all(b"hello ").unwrap();
            (&a2).write_all(b"pair").unwrap();
            a.shutdown(Shutdown::Write).unwrap();
            let (all, b) = reader.join().unwrap();
            assert_eq!(all, "hello pair");
            // Read timeout on b's side of the still-open other direction.
            a.set_read_timeout(Some(Duration::from_millis(60))).unwrap();
            assert_eq!(a2.read_timeout().unwrap(), Some(Duration::from_millis(60)));
            let t = Instant::now();
            let e = (&a).read(&mut [0u8; 4]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            assert!(t.elapsed() >= Duration::from_millis(55));
            // Writing to a closed peer is BrokenPipe (no SIGPIPE).
            drop(b);
            let e = loop {
                if let Err(e) = (&a2).write(b"x") {
                    break e;
                }
            };
            assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
        })
    });
}

/// As for TCP: each `write` is whole, and concurrent writes never interleave.
#[test]
fn concurrent_writes_on_one_stream_stay_whole() {
    bounded(60, || {
        gort::run(|| {
            let (a, b) = UnixStream::pair().unwrap();
            gort_test_support::concurrent_writes_stay_whole(std::sync::Arc::new(a), b);
        })
    });
}

#[test]
fn connect_errors() {
    bounded(30, || {
        gort::run(|| {
            let missing = sock_path("missing");
            let e = UnixStream::connect(&missing).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
            // A socket file nobody listens on any more.
            let stale = sock_path("stale");
            drop(UnixListener::bind(&stale).unwrap());
            let e = UnixStream::connect(&stale).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            std::fs::remove_file(&stale).unwrap();
            let long = "x".repeat(200);
            assert_eq!(
                UnixStream::connect(&long).unwrap_err().kind(),
                ErrorKind::InvalidInput
            );
            // A NUL byte would end the path early for the kernel: refused, as std refuses it,
            // not connected to the listener at the shorter path.
            let live = sock_path("nul");
            let _l = UnixListener::bind(&live).unwrap();
            let mut with_nul = live.clone().into_os_string();
            with_nul.push("\0more");
            let e = UnixStream::connect(&with_nul).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            std::fs::remove_file(&live).unwrap();
            // A leading NUL is Linux's abstract namespace, which connect reaches.
            use std::os::linux::net::SocketAddrExt;
            let name = format!("gort-test-abstract-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let _abstract = std::os::unix::net::UnixListener::bind_addr(&addr).unwrap();
            UnixStream::connect(format!("\0{name}")).unwrap();
        })
    });
}

#[test]
fn a_connect_burst_beyond_the_backlog_parks_and_retries() {
    // A listener with a backlog of 16: connects past it get EAGAIN from the kernel, which gort
    // retries after a sleep instead of failing (std's blocking connect would wait).
    const N: usize = 300;
    bounded(60, || {
        gort::run(|| {
            let path = sock_path("burst");
            let std_ln = std::os::unix::net::UnixListener::bind(&path).unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&std_ln);
            // SAFETY: listen(2) on the listener's own open fd, shrinking its backlog.
            let r = unsafe { libc::listen(fd, 16) };
            assert_eq!(r, 0);
            let ln = UnixListener::from(std_ln);
            let clients: Vec<_> = (0..N as u64)
                .map(|i| {
                    let path = path.clone();
                    gort::spawn(move || {
                        let mut s = UnixStream::connect(&path).unwrap();
                        s.write_all(&i.to_le_bytes()).unwrap();
                        let mut b = [0u8; 8];
                        s.read_exact(&mut b).unwrap();
                        assert_eq!(u64::from_le_bytes(b), i * 3);
                    })
                })
                .collect();
            gort::sleep(Duration::from_millis(100)); // let the backlog overflow
            for c in ln.incoming().take(N) {
                let mut c = c.unwrap();
                gort::go(move || {
                    let mut b = [0u8; 8];
                    c.read_exact(&mut b).unwrap();
                    let v = u64::from_le_bytes(b) * 3;
                    c.write_all(&v.to_le_bytes()).unwrap();
                });
            }
            for c in clients {
                c.join().unwrap();
            }
            std::fs::remove_file(&path).unwrap();
        })
    });
}

/// A listener shut down (`shutdown(2)` on its descriptor, the one way to stop a shared listener)
/// while another goroutine waits in `accept`: the accept fails with `InvalidInput`, as std's
/// blocking accept does (the kernel's non-blocking accept only ever says "try again" there),
/// and at once for a later accept.
#[test]
fn shutting_down_a_listener_ends_a_parked_accept() {
    use std::os::fd::AsRawFd;
    bounded(30, || {
        let path = sock_path("shut-listener");
        let ln = std::sync::Arc::new(UnixListener::bind(&path).unwrap());
        let ln2 = ln.clone();
        let waiter = gort::spawn(move || ln2.accept().map(|_| ()));
        while !gort::runtime::goroutines_by_state().contains_key("IO wait") {
            gort::sleep(Duration::from_millis(1));
        }
        // SAFETY: the descriptor is the listener's, alive for this call.
        let rc = unsafe { libc::shutdown(ln.as_raw_fd(), libc::SHUT_RDWR) };
        assert_eq!(rc, 0);
        let err = waiter.join().unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        let err = ln.accept().map(|_| ()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        std::fs::remove_file(&path).unwrap();
    });
}

/// Linux's abstract namespace, with std's `*_addr` calls and with a leading NUL in a path:
/// streams and datagrams meet by name.
#[test]
fn abstract_names_for_streams_and_datagrams() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    bounded(30, || {
        let name = format!("gort-test-{}-abstract", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let ln = UnixListener::bind_addr(&addr).unwrap();
        let server = gort::spawn(move || {
            for _ in 0..2 {
                let (mut c, _) = ln.accept().unwrap();
                c.write_all(b"hi").unwrap();
            }
        });
        let nul_path = format!("\0{name}");
        for mut c in [
            UnixStream::connect_addr(&addr).unwrap(),
            UnixStream::connect(&nul_path).unwrap(),
        ] {
            let mut buf = [0u8; 2];
            c.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"hi");
        }
        server.join().unwrap();

        let dname = format!("\0{name}-dgram");
        let rx = gort::net::UnixDatagram::bind(&dname).unwrap();
        let daddr = rx.local_addr().unwrap();
        assert_eq!(daddr.as_abstract_name(), Some(&dname.as_bytes()[1..]));
        let tx = gort::net::UnixDatagram::unbound().unwrap();
        tx.send_to_addr(b"one", &daddr).unwrap();
        tx.send_to(b"two", &dname).unwrap();
        tx.connect_addr(&daddr).unwrap();
        tx.send(b"three").unwrap();
        let mut buf = [0u8; 8];
        for want in [&b"one"[..], b"two", b"three"] {
            let n = rx.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], want);
        }
        let unnamed = tx.local_addr().unwrap();
        let err = UnixStream::connect_addr(&unnamed).map(drop).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    });
}

/// A `send_to` to a receiver whose queue is full waits for room without spinning: the kernel
/// reports the unconnected sender writable again after every failed try, with nothing changed.
/// The measure is the process's CPU time while it waits, so the test runs alone, in a child
/// process (this binary, filtered to this test).
#[test]
fn a_send_to_a_full_receiver_waits_without_spinning() {
    const NAME: &str = "a_send_to_a_full_receiver_waits_without_spinning";
    if gort_test_support::skip_if_emulated("it measures CPU time") {
        return;
    }
    if std::env::var_os("GORT_TEST_ALONE").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", NAME, "--nocapture"])
            .env("GORT_TEST_ALONE", "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}{stderr}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        return;
    }
    fn process_cpu() -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid timespec to fill.
        let rc = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
        assert_eq!(rc, 0);
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
    bounded(30, || {
        let path = sock_path("full-receiver");
        let rx = gort::net::UnixDatagram::bind(&path).unwrap();
        let filler = std::os::unix::net::UnixDatagram::unbound().unwrap();
        filler.set_nonblocking(true).unwrap();
        let mut queued = 0;
        while filler.send_to(&[0u8; 16], &path).is_ok() {
            queued += 1;
        }
        let to = path.clone();
        let sender = gort::spawn(move || {
            let tx = gort::net::UnixDatagram::unbound().unwrap();
            tx.send_to(b"B", &to).unwrap();
        });
        gort::sleep(Duration::from_millis(50));
        let before = process_cpu();
        gort::sleep(Duration::from_millis(500));
        let cpu = process_cpu() - before;
        let mut buf = [0u8; 16];
        for _ in 0..=queued {
            if rx.recv(&mut buf).unwrap() == 1 {
                break;
            }
        }
        sender.join().unwrap();
        assert!(
            cpu < Duration::from_millis(60),
            "{cpu:?} of CPU in 500 ms of waiting"
        );
        std::fs::remove_file(&path).unwrap();
    });
}

/// `close` wakes a parked accept with `InvalidInput`, and later accepts fail at once.
#[test]
fn close_wakes_a_parked_accept() {
    bounded(30, || {
        gort::run(|| {
            let path = sock_path("close");
            let ln = std::sync::Arc::new(UnixListener::bind(&path).unwrap());
            let l = ln.clone();
            let h = gort::spawn(move || l.accept().map(|_| ()).unwrap_err());
            gort::sleep(Duration::from_millis(50));
            ln.close().unwrap();
            let e = h.join().unwrap();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            let e = ln.accept().map(|_| ()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            assert!(UnixStream::connect(&path).is_err());
            let _ = std::fs::remove_file(&path);
        })
    });
}

/// A connection queued when the listener closes is closed too (the kernel leaves a Unix
/// listener's backlog waiting until the descriptor goes; TCP resets it): its client reads the
/// end at once, while the listener is still alive.
#[test]
fn close_ends_the_connections_not_yet_accepted() {
    bounded(30, || {
        gort::run(|| {
            let path = sock_path("close-queued");
            let ln = UnixListener::bind(&path).unwrap();
            let mut c = UnixStream::connect(&path).unwrap();
            ln.close().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            match c.read(&mut [0u8; 8]) {
                Ok(0) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
                r => panic!("want the end of the connection, got {r:?}"),
            }
            drop(ln);
            let _ = std::fs::remove_file(&path);
        })
    });
}
