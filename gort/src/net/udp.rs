//! `UdpSocket` (Go's `net/udpsock.go`, `udpsock_posix.go`): a std UDP socket in non-blocking
//! mode, registered with the poller; a receive that finds no datagram (or a send that finds the
//! socket buffer full) parks the goroutine.

use std::fmt;
use std::io;
use std::net::{self, SocketAddr, ToSocketAddrs};
use std::net::{Ipv4Addr, Ipv6Addr};

use super::{NetFd, each_addr, first_addr};

/// A UDP socket; like `std::net::UdpSocket`, but a receive with nothing queued parks the
/// goroutine.
///
/// ```
/// use gort::net::UdpSocket;
///
/// let a = UdpSocket::bind("127.0.0.1:0").unwrap();
/// let b = UdpSocket::bind("127.0.0.1:0").unwrap();
/// b.send_to(b"ping", a.local_addr().unwrap()).unwrap();
/// let mut buf = [0u8; 16];
/// let (n, from) = a.recv_from(&mut buf).unwrap();
/// assert_eq!((&buf[..n], from), (&b"ping"[..], b.local_addr().unwrap()));
/// ```
pub struct UdpSocket {
    fd: NetFd<net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr`, trying every address it resolves to in turn, as std does.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        UdpSocket::register(each_addr(addr, |a| net::UdpSocket::bind(*a))?)
    }

    /// Sends a datagram to `addr` (the first address it resolves to, as in std).
    pub fn send_to<A: ToSocketAddrs>(&self, buf: &[u8], addr: A) -> io::Result<usize> {
        let to = first_addr(addr)?;
        self.fd.write(|s| s.send_to(buf, to))
    }

    /// Receives a datagram, parking until one arrives (or the read timeout passes). On a
    /// socket shut down for reading (`shutdown(2)`), it fails at once with `InvalidInput`, as
    /// std's does there (the kernel returns no datagram and no sender).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.recv_datagram(|s| s.recv_from(buf), no_sender)
    }

    /// Like `recv_from`, without removing the datagram from the queue.
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.recv_datagram(|s| s.peek_from(buf), no_sender)
    }

    /// Sets the default destination and the only source `recv` accepts, trying every address
    /// `addr` resolves to in turn, as std does.
    pub fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        each_addr(addr, |a| self.fd.get_ref().connect(a))
    }

    /// Sends a datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write(|s| s.send(buf))
    }

    /// Receives a datagram from the connected peer, parking until one arrives. On a socket
    /// shut down for reading, it returns `Ok(0)` at once, as std's does.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.recv_datagram(|s| s.recv(buf), || Ok(0))
    }

    /// Like `recv`, without removing the datagram from the queue.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.recv_datagram(|s| s.peek(buf), || Ok(0))
    }

    /// The local address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// The address of the remote peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().peer_addr()
    }

    super::io_methods!();

    /// A new handle (a `dup`, with its own poller registration) to the same socket, sharing
    /// the timeouts and the non-blocking flag.
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        Ok(UdpSocket {
            fd: self.fd.try_clone_with(net::UdpSocket::try_clone)?,
        })
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with address `interface`
    /// (`Ipv4Addr::UNSPECIFIED`: the default one).
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.fd.get_ref().join_multicast_v4(multiaddr, interface)
    }

    /// Leaves an IPv4 multicast group.
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> io::Result<()> {
        self.fd.get_ref().leave_multicast_v4(multiaddr, interface)
    }

    /// Joins the IPv6 multicast group `multiaddr` on interface index `interface` (0: default).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd.get_ref().join_multicast_v6(multiaddr, interface)
    }

    /// Leaves an IPv6 multicast group.
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        self.fd.get_ref().leave_multicast_v6(multiaddr, interface)
    }

    /// Whether this socket receives its own IPv4 multicast datagrams.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.fd.get_ref().set_multicast_loop_v4(on)
    }

    /// The `IP_MULTICAST_LOOP` setting.
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.fd.get_ref().multicast_loop_v4()
    }

    /// The time-to-live of outgoing IPv4 multicast datagrams.
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.fd.get_ref().set_multicast_ttl_v4(ttl)
    }

    /// Whether this socket receives its own IPv6 multicast datagrams.
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.fd.get_ref().set_multicast_loop_v6(on)
    }

    /// Sets `SO_BROADCAST`: whether this socket may send to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd.get_ref().set_broadcast(on)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> io::Result<bool> {
        self.fd.get_ref().broadcast()
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get_ref().ttl()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

super::fd_impls!(UdpSocket, net::UdpSocket);

/// `recv_from` on a socket shut down for reading: the kernel's blocking call returns 0 bytes
/// and no address, which std reports as an invalid argument.
fn no_sender() -> io::Result<(usize, SocketAddr)> {
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        "the socket is shut down for reading: no datagram and no sender",
    ))
}
