//! gort::net TCP: echo with a goroutine per connection, timeouts, back-pressure, connect errors,
//! shutdown, try_clone, many idle connections, shared handles, and plain OS threads.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream};
use gort_test_support::{bounded, wait_for_state};

/// An echo server on 127.0.0.1:0, one goroutine per connection (each echoes until EOF).
/// Returns its address and a counter of finished connections.
fn echo_server() -> (SocketAddr, Arc<AtomicUsize>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    gort::go(move || {
        for c in ln.incoming() {
            let mut c = c.unwrap();
            let d = d.clone();
            gort::go(move || {
                let mut buf = [0u8; 4096];
                loop {
                    match c.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => c.write_all(&buf[..n]).unwrap(),
                    }
                }
                d.fetch_add(1, SeqCst);
            });
        }
    });
    (addr, done)
}

#[test]
fn echo_100_clients_x_100_round_trips() {
    bounded(120, || {
        gort::run(|| {
            let (addr, done) = echo_server();
            let wg = gort::sync::WaitGroup::new();
            let ok = Arc::new(AtomicUsize::new(0));
            for id in 0..100u32 {
                wg.add(1);
                let (wg, ok) = (wg.clone(), ok.clone());
                gort::go(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    assert!(
                        s.nodelay().unwrap(),
                        "TCP_NODELAY is on by default, as in Go"
                    );
                    for r in 0..100u32 {
                        // Sizes vary so that reads see partial messages too.
                        let len = 1 + ((id * 7 + r * 13) % 300) as usize;
                        let out: Vec<u8> = (0..len)
                            .map(|i| (id as usize * 31 + r as usize * 17 + i) as u8)
                            .collect();
                        s.write_all(&out).unwrap();
                        let mut back = vec![0u8; len];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, out, "client {id} round {r}");
                        ok.fetch_add(1, Relaxed);
                    }
                    wg.done();
                });
            }
            wg.wait();
            assert_eq!(ok.load(Relaxed), 100 * 100);
            // Every server goroutine saw EOF when its client dropped the stream.
            let t = Instant::now();
            while done.load(SeqCst) < 100 {
                assert!(
                    t.elapsed() < Duration::from_secs(10),
                    "server goroutines did not end"
                );
                gort::sleep(Duration::from_millis(5));
            }
        })
    });
}

#[test]
fn read_timeout_fires_with_timed_out() {
    bounded(30, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            let s = TcpStream::connect(addr).unwrap();
            let (_peer, _) = ln.accept().unwrap(); // keep it open, never write
            assert_eq!(s.read_timeout().unwrap(), None);
            let e = s.set_read_timeout(Some(Duration::ZERO)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            assert_eq!(s.read_timeout().unwrap(), Some(Duration::from_millis(100)));
            let t = Instant::now();
            let e = (&s).read(&mut [0u8; 8]).unwrap_err();
            let took = t.elapsed();
            assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
            assert!(took >= Duration::from_millis(95), "fired early: {took:?}");
            assert!(took < Duration::from_secs(2), "fired late: {took:?}");
            // The stream still works afterwards, and `None` removes the timeout.
            s.set_read_timeout(None).unwrap();
            assert_eq!(s.read_timeout().unwrap(), None);
        })
    });
}

/// A zero-byte read returns at once, as Go's does, with no data and with a timeout set; data
/// that arrives later is still read whole.
#[test]
fn a_zero_byte_read_returns_at_once() {
    bounded(30, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut s = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
            let (mut peer, _) = ln.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let t = Instant::now();
            assert_eq!((&s).read(&mut []).unwrap(), 0);
            assert_eq!(s.read_vectored(&mut []).unwrap(), 0);
            assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
            peer.write_all(b"abc").unwrap();
            let mut buf = [0u8; 3];
            s.read_exact(&mut buf).unwrap();
            assert_eq!(&buf, b"abc");
        })
    });
}

#[test]
fn write_blocks_until_the_peer_reads() {
    const TOTAL: usize = 64 << 20;
    bounded(60, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let mut s = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
            let (mut peer, _) = ln.accept().unwrap();
            let written = Arc::new(AtomicUsize::new(0));
            let finished = Arc::new(AtomicBool::new(false));
            let writer = {
                let (written, finished) = (written.clone(), finished.clone());
                gort::spawn(move || {
                    let chunk = vec![0xA5u8; 1 << 20];
                    let mut left = TOTAL;
                    while left > 0 {
                        let n = s.write(&chunk[..left.min(chunk.len())]).unwrap();
                        written.fetch_add(n, SeqCst);
                        left -= n;
                    }
                    finished.store(true, SeqCst);
                    s
                })
            };
            // The socket buffers fill up and the writer parks; other goroutines keep running.
            // Wait (bounded) until it has made no progress for 100 ms.
            let deadline = Instant::now() + Duration::from_secs(10);
            let mut stalled = usize::MAX;
            while written.load(SeqCst) != stalled {
                assert!(Instant::now() < deadline, "the writer never stalled");
                stalled = written.load(SeqCst);
                gort::sleep(Duration::from_millis(100));
            }
            assert!(
                !finished.load(SeqCst),
                "64 MiB fitted in the socket buffers?"
            );
            // Now read everything: the writer completes.
            let mut got = 0;
            let mut buf = vec![0u8; 1 << 16];
            while got < TOTAL {
                let n = peer.read(&mut buf).unwrap();
                assert!(n > 0);
                assert!(buf[..n].iter().all(|&b| b == 0xA5));
                got += n;
            }
            let s = writer.join().unwrap();
            assert!(finished.load(SeqCst));
            assert_eq!(got, TOTAL);
            // A write timeout ends a stuck write with TimedOut.
            s.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            let chunk = vec![0u8; 1 << 20];
            let t = Instant::now();
            let e = loop {
                match (&s).write(&chunk) {
                    Ok(n) => assert!(n > 0 && t.elapsed() < Duration::from_secs(10)),
                    Err(e) => break e,
                }
            };
            assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
        })
    });
}

/// Each `write` sends its whole buffer and concurrent writes never interleave, as Go's.
#[test]
fn concurrent_writes_on_one_stream_stay_whole() {
    bounded(60, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let s = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
            let (peer, _) = ln.accept().unwrap();
            gort_test_support::concurrent_writes_stay_whole(Arc::new(s), peer);
        })
    });
}

/// A gathering write is whole too: several large slices, more than the socket buffers hold,
/// in one `write_vectored` that returns their total once the peer has read enough.
#[test]
fn a_vectored_write_sends_every_slice() {
    bounded(60, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let s = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
            let (mut peer, _) = ln.accept().unwrap();
            let reader = gort::spawn(move || {
                let mut all = Vec::new();
                peer.read_to_end(&mut all).unwrap();
                all
            });
            let parts: Vec<Vec<u8>> = (1..=3u8).map(|b| vec![b; 4 << 20]).collect();
            let slices: Vec<std::io::IoSlice<'_>> =
                parts.iter().map(|p| std::io::IoSlice::new(p)).collect();
            assert_eq!((&s).write_vectored(&slices).unwrap(), 12 << 20);
            drop(s);
            assert_eq!(reader.join().unwrap(), parts.concat());
        })
    });
}

#[test]
fn connect_to_a_closed_port_is_refused() {
    bounded(30, || {
        gort::run(|| {
            let addr = {
                let ln = TcpListener::bind("127.0.0.1:0").unwrap();
                ln.local_addr().unwrap()
            }; // dropped: nobody listens there now
            let e = TcpStream::connect(addr).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            let e = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            // Several addresses: the last error is returned, as in std.
            let addrs = [addr, addr];
            let e = TcpStream::connect(&addrs[..]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
            // Nothing to try at all.
            let e = TcpStream::connect(&[][..] as &[SocketAddr]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
        })
    });
}

#[test]
fn connect_timeout_to_a_non_routable_address() {
    bounded(30, || {
        gort::run(|| {
            let addr: SocketAddr = "10.255.255.1:80".parse().unwrap();
            let e = TcpStream::connect_timeout(&addr, Duration::ZERO).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput);
            let t = Instant::now();
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    let took = t.elapsed();
                    assert!(took >= Duration::from_millis(190), "early: {took:?}");
                    assert!(took < Duration::from_secs(3), "late: {took:?}");
                }
                Err(e) => {
                    eprintln!("skipped: this network namespace refuses {addr}: {e}");
                }
                Ok(s) => {
                    eprintln!("skipped: something here answers for {addr}: {s:?}");
                }
            }
        })
    });
}

#[test]
fn connect_timeout_to_a_listener_with_a_full_backlog() {
    // Deterministic on loopback: once the accept queue is full, the kernel drops SYNs, so a
    // connect stays in progress until its timeout.
    bounded(30, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            let fd = ln.as_raw_fd();
            // SAFETY: listen(2) on the listener's own open fd; shrinks the backlog to the minimum.
            let r = unsafe { libc::listen(fd, 0) };
            assert_eq!(r, 0);
            let mut held = Vec::new();
            for _ in 0..16 {
                let t = Instant::now();
                match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    Ok(s) => held.push(s),
                    Err(e) => {
                        let took = t.elapsed();
                        assert_eq!(e.kind(), ErrorKind::TimedOut, "{e}");
                        assert!(took >= Duration::from_millis(190), "early: {took:?}");
                        assert!(took < Duration::from_secs(3), "late: {took:?}");
                        return;
                    }
                }
            }
            panic!("16 connects to a backlog-0 listener all succeeded");
        })
    });
}

#[test]
fn shutdown_write_gives_the_peer_eof() {
    bounded(30, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            let server = gort::spawn(move || {
                let (mut c, from) = ln.accept().unwrap();
                assert_eq!(c.peer_addr().unwrap(), from);
                let mut all = Vec::new();
                c.read_to_end(&mut all).unwrap(); // ends at the client's shutdown(Write)
                c.write_all(&all).unwrap();
                c.write_all(b"!").unwrap();
                all
            });
            let mut s = TcpStream::connect(addr).unwrap();
            assert_eq!(s.peer_addr().unwrap(), addr);
            assert_eq!(s.local_addr().unwrap().ip(), addr.ip());
            s.write_all(b"half-closed").unwrap();
            s.shutdown(Shutdown::Write).unwrap();
            // Even an empty write reports it, as std's and Go's do (one send either way).
            let e = (&s).write(&[]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::BrokenPipe, "{e}");
            let mut back = Vec::new();
            s.read_to_end(&mut back).unwrap(); // the server's drop gives us EOF too
            assert_eq!(back, b"half-closed!");
            assert_eq!(server.join().unwrap(), b"half-closed");
        })
    });
}

#[test]
fn try_clone_reads_and_writes_from_two_goroutines() {
    const MSGS: usize = 2000;
    bounded(60, || {
        gort::run(|| {
            let (addr, _) = echo_server();
            let w = TcpStream::connect(addr).unwrap();
            let r = w.try_clone().unwrap();
            assert_ne!(w.as_raw_fd(), r.as_raw_fd());
            // Options are shared between clones, as in std.
            w.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            assert_eq!(r.read_timeout().unwrap(), Some(Duration::from_secs(20)));
            let writer = gort::spawn(move || {
                let mut w = w;
                for i in 0..MSGS {
                    w.write_all(&(i as u64).to_le_bytes()).unwrap();
                }
                w
            });
            let reader = gort::spawn(move || {
                let mut r = r;
                for i in 0..MSGS {
                    let mut b = [0u8; 8];
                    r.read_exact(&mut b).unwrap();
                    assert_eq!(u64::from_le_bytes(b), i as u64);
                }
                r
            });
            let w = writer.join().unwrap();
            let _r = reader.join().unwrap();
            drop(w); // the other handle keeps the connection open
        })
    });
}

#[test]
fn two_goroutines_reading_one_shared_stream() {
    // Concurrent reads on one handle are serialised (Go's fdMutex), never a poller fatal.
    const TOTAL: usize = 1 << 20;
    bounded(60, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let s = Arc::new(TcpStream::connect(ln.local_addr().unwrap()).unwrap());
            let (mut peer, _) = ln.accept().unwrap();
            let got = Arc::new(AtomicUsize::new(0));
            let readers: Vec<_> = (0..4)
                .map(|_| {
                    let (s, got) = (s.clone(), got.clone());
                    gort::spawn(move || {
                        let mut buf = [0u8; 1000];
                        loop {
                            match (&*s).read(&mut buf) {
                                Ok(0) => break,
                                Ok(n) => {
                                    got.fetch_add(n, SeqCst);
                                }
                                Err(e) => panic!("{e}"),
                            }
                        }
                    })
                })
                .collect();
            // Let them all park: one in the read, the others waiting for the read lock.
            wait_for_state("IO wait", 1);
            wait_for_state("sync.Mutex.Lock", 3);
            let chunk = vec![7u8; 4096];
            for _ in 0..TOTAL / chunk.len() {
                peer.write_all(&chunk).unwrap();
            }
            drop(peer);
            for h in readers {
                h.join().unwrap();
            }
            assert_eq!(got.load(SeqCst), TOTAL);
        })
    });
}

#[test]
fn a_thousand_idle_connections_while_others_work() {
    const IDLE: usize = 1000;
    bounded(120, || {
        gort::run(|| {
            let (addr, done) = echo_server();
            // 1000 connections whose server goroutines are parked in read.
            let idle: Vec<TcpStream> = (0..IDLE)
                .map(|_| TcpStream::connect(addr).unwrap())
                .collect();
            // The acceptor starts one goroutine per connection; wait (bounded) until all run.
            let deadline = Instant::now() + Duration::from_secs(10);
            while gort::num_goroutines() <= IDLE && Instant::now() < deadline {
                gort::sleep(Duration::from_millis(5));
            }
            let g0 = gort::num_goroutines();
            assert!(
                g0 > IDLE,
                "{g0} goroutines: the server goroutines should all be alive"
            );
            // Meanwhile 20 clients do real work.
            let wg = gort::sync::WaitGroup::new();
            let t = Instant::now();
            for id in 0..20u8 {
                wg.add(1);
                let wg = wg.clone();
                gort::go(move || {
                    let mut s = TcpStream::connect(addr).unwrap();
                    for r in 0..200u8 {
                        let out = [id, r, id ^ r, 42];
                        s.write_all(&out).unwrap();
                        let mut back = [0u8; 4];
                        s.read_exact(&mut back).unwrap();
                        assert_eq!(back, out);
                    }
                    wg.done();
                });
            }
            wg.wait();
            eprintln!(
                "20 x 200 round trips beside {IDLE} idle connections: {:?}",
                t.elapsed()
            );
            // One idle connection still works after all that.
            let mut one = &idle[IDLE / 2];
            one.write_all(b"still here").unwrap();
            let mut back = [0u8; 10];
            one.read_exact(&mut back).unwrap();
            assert_eq!(&back, b"still here");
            drop(idle);
            let t = Instant::now();
            while done.load(SeqCst) < IDLE + 20 {
                assert!(
                    t.elapsed() < Duration::from_secs(20),
                    "{} ended",
                    done.load(SeqCst)
                );
                gort::sleep(Duration::from_millis(5));
            }
        })
    });
}

#[test]
fn a_plain_thread_blocks_in_gort_net() {
    // No gort::run: the test thread is a plain OS thread; each call blocks it.
    bounded(30, || {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        // The server is a std thread too, accepting with gort::net.
        let server = std::thread::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            let mut buf = [0u8; 5];
            for _ in 0..100 {
                c.read_exact(&mut buf).unwrap();
                c.write_all(&buf).unwrap();
            }
            // Make the client's next read wait a while on its thread.
            std::thread::sleep(Duration::from_millis(300));
            c.write_all(b"late!").unwrap();
        });
        let mut s = TcpStream::connect(addr).unwrap();
        for i in 0..100u8 {
            let out = [i, 1, 2, 3, 4];
            s.write_all(&out).unwrap();
            let mut back = [0u8; 5];
            s.read_exact(&mut back).unwrap();
            assert_eq!(back, out);
        }
        let t = Instant::now();
        let mut late = [0u8; 5];
        s.read_exact(&mut late).unwrap();
        assert_eq!(&late, b"late!");
        assert!(t.elapsed() >= Duration::from_millis(50));
        server.join().unwrap();
        // A timeout on a plain thread, too.
        s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        let e = s.read(&mut late).map(|n| assert_eq!(n, 0));
        // The server thread ended and dropped its stream: EOF, or a timeout never needed.
        assert!(e.is_ok(), "{e:?}");
        // And a goroutine and a plain thread talking to each other.
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let h = gort::spawn(move || {
            let (mut c, _) = ln.accept().unwrap();
            let mut b = [0u8; 3];
            c.read_exact(&mut b).unwrap();
            b
        });
        let mut s = TcpStream::connect(addr).unwrap();
        wait_for_state("IO wait", 1); // the goroutine waits for the data
        s.write_all(b"abc").unwrap();
        assert_eq!(&h.join().unwrap(), b"abc");
    });
}

#[test]
fn listener_details() {
    bounded(30, || {
        gort::run(|| {
            let ln = TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            assert!(format!("{ln:?}").contains("TcpListener"));
            // An accept timeout.
            ln.set_accept_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let e = ln.accept().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::TimedOut);
            ln.set_accept_timeout(None).unwrap();
            // Non-blocking mode.
            ln.set_nonblocking(true).unwrap();
            assert_eq!(ln.accept().unwrap_err().kind(), ErrorKind::WouldBlock);
            ln.set_nonblocking(false).unwrap();
            // A clone accepts on the same socket, from another goroutine.
            let ln2 = ln.try_clone().unwrap();
            let h = gort::spawn(move || ln2.accept().map(|(s, _)| s.peer_addr().unwrap()));
            let s = TcpStream::connect(addr).unwrap();
            assert_eq!(h.join().unwrap().unwrap(), s.local_addr().unwrap());
            // From std.
            let std_ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let a2 = std_ln.local_addr().unwrap();
            let ln3 = TcpListener::from(std_ln);
            let h = gort::spawn(move || ln3.accept().unwrap().1);
            let c = TcpStream::connect(a2).unwrap();
            assert_eq!(h.join().unwrap(), c.local_addr().unwrap());
            c.set_nodelay(false).unwrap();
            assert!(!c.nodelay().unwrap());
            // Name resolution ("localhost" goes through getaddrinfo).
            let ln4 = TcpListener::bind(("localhost", 0)).unwrap();
            let port = ln4.local_addr().unwrap().port();
            let h = gort::spawn(move || ln4.accept().is_ok());
            let _c = TcpStream::connect(("localhost", port)).unwrap();
            assert!(h.join().unwrap());
        })
    });
}

/// `close` (Go's `Listener.Close`) wakes an accept parked in another goroutine, and one parked
/// on a `try_clone`, with `InvalidInput`; later accepts fail at once; connecting is refused.
#[test]
fn close_wakes_every_parked_accept_and_refuses_connections() {
    bounded(30, || {
        gort::run(|| {
            let ln = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = ln.local_addr().unwrap();
            let clone = ln.try_clone().unwrap();
            let (tx, rx) = gort::chan(2);
            for l in [ln.clone(), Arc::new(clone)] {
                let tx = tx.clone();
                gort::go(move || tx.send(l.accept().map(|_| ()).unwrap_err()).unwrap());
            }
            gort::sleep(Duration::from_millis(50));
            assert!(rx.try_recv().is_err(), "an accept returned before close");
            let t = Instant::now();
            ln.close().unwrap();
            for _ in 0..2 {
                let e = rx
                    .recv_timeout(Duration::from_secs(5))
                    .expect("accept woke");
                assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            }
            assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
            let e = ln.accept().map(|_| ()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidInput, "{e}");
            ln.close().unwrap();
            let e = TcpStream::connect(addr).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ConnectionRefused, "{e}");
        })
    });
}

/// A serving loop over `incoming()` ends when another goroutine closes the listener.
#[test]
fn incoming_ends_when_the_listener_is_closed() {
    bounded(30, || {
        gort::run(|| {
            let ln = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = ln.local_addr().unwrap();
            let l = ln.clone();
            let server = gort::spawn(move || l.incoming().filter(|s| s.is_ok()).count());
            for _ in 0..3 {
                drop(TcpStream::connect(addr).unwrap());
            }
            gort::sleep(Duration::from_millis(50));
            ln.close().unwrap();
            assert_eq!(server.join().unwrap(), 3);
        })
    });
}
