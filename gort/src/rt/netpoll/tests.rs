//! Unit tests of the poller: sharding, wake-ups, descriptor reuse.

use super::*;
use socket2::{Domain, Socket, Type};
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;

const SHARDS: usize = 4;

/// The tokens `epoll_wait` reports on `epfd` within `ms`.
fn tokens(epfd: i32, ms: i32) -> Vec<(u64, u32)> {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
    // SAFETY: `events` is a writable array of the length we pass.
    let n = unsafe { libc::epoll_wait(epfd, events.as_mut_ptr(), 8, ms) };
    events[..n.max(0) as usize]
        .iter()
        .map(|e| (e.u64, e.events))
        .collect()
}

#[test]
fn both_ends_of_a_connection_hash_to_one_shard() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let p = Poller::new(SHARDS).unwrap();
    let mut spread = [0usize; SHARDS];
    for _ in 0..32 {
        let c = TcpStream::connect(ln.local_addr().unwrap()).unwrap();
        let (s, _) = ln.accept().unwrap();
        let shard = p.shard_index(c.as_raw_fd());
        assert_eq!(shard, p.shard_index(s.as_raw_fd()), "the two ends disagree");
        spread[shard] += 1;
    }
    assert!(
        spread.iter().filter(|&&n| n > 0).count() > 1,
        "32 connections in one shard: {spread:?}"
    );
    let fd = ln.as_raw_fd();
    assert_eq!(
        p.shard_index(fd),
        fd as usize % SHARDS,
        "a listener goes by fd"
    );
    // A dual-stack listener sees an IPv4 client as ::ffff:127.0.0.1 (where IPv6 exists).
    if let Ok(ln6) = TcpListener::bind("[::]:0") {
        let port = ln6.local_addr().unwrap().port();
        for _ in 0..8 {
            let Ok(c) = TcpStream::connect(("127.0.0.1", port)) else {
                break;
            };
            let (s, _) = ln6.accept().unwrap();
            assert!(s.local_addr().unwrap().is_ipv6());
            assert_eq!(
                conn_key(c.as_raw_fd()),
                conn_key(s.as_raw_fd()),
                "a v4-mapped end keys differently"
            );
        }
    }
    p.close();
}

#[test]
fn a_socket_that_connects_moves_to_its_connections_shard() {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap().into();
    let p = Poller::new(SHARDS).unwrap();
    let mut moved = 0;
    for _ in 0..16 {
        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        let fd = sock.as_raw_fd();
        let pd: &'static PollDesc = Box::leak(Box::new(PollDesc::new()));
        pd.fd.store(fd, Relaxed);
        p.add(pd).unwrap();
        let old = pd.shard.load(Relaxed);
        assert_eq!(old, fd as usize % SHARDS, "not yet connected: by fd");
        sock.connect(&addr).unwrap();
        let (mut peer, _) = ln.accept().unwrap();
        p.rehome(pd);
        let new = pd.shard.load(Relaxed);
        assert_eq!(new, p.shard_index(peer.as_raw_fd()), "not with its peer");
        peer.write_all(b"x").unwrap();
        let token = pd as *const PollDesc as u64;
        let got = tokens(p.shards[new].epfd, 1000);
        assert!(
            got.iter()
                .any(|&(t, ev)| t == token && ev & libc::EPOLLIN as u32 != 0),
            "the readable edge did not reach the new shard: {got:?}"
        );
        if old != new {
            moved += 1;
            assert!(
                tokens(p.shards[old].epfd, 0).is_empty(),
                "still in the old shard"
            );
        }
        drop(sock);
    }
    assert!(moved > 0, "16 connections and none changed shard");
    p.close();
}

#[test]
fn a_wake_before_the_poller_blocks_is_not_lost() {
    let p = Poller::new(1).unwrap();
    for round in 0..3 {
        // The M about to sleep in the poller has published itself as the timer waiter, and
        // a goroutine adds an earlier timer before the M reaches epoll_wait.
        p.wake();
        let t = std::time::Instant::now();
        harvest(&p, &p.shards[0], 2_000, true);
        let took = t.elapsed();
        assert!(
            took < std::time::Duration::from_millis(1_000),
            "round {round}: the poll slept {took:?} through a wake made before it blocked"
        );
    }
    p.close();
}
