//! `UnixDatagram` (Go's `UnixConn` on a `unixgram` socket): Unix-domain datagram sockets with
//! std's shape, registered with the poller.

use std::fmt;
use std::io;
use std::net::Shutdown;

use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::time::Duration;

use super::NetFd;
use super::unix::unix_addr;

/// A Unix-domain datagram socket; like `std::os::unix::net::UnixDatagram`, but a send or
/// receive that is not ready parks the goroutine.
///
/// ```
/// let (a, b) = gort::net::UnixDatagram::pair().unwrap();
/// gort::go(move || {
///     a.send(b"ping").unwrap();
/// });
/// let mut buf = [0u8; 8];
/// let n = b.recv(&mut buf).unwrap();
/// assert_eq!(&buf[..n], b"ping");
/// ```
pub struct UnixDatagram {
    fd: NetFd<net::UnixDatagram>,
}

impl UnixDatagram {
    /// A socket bound to `path` (a leading NUL byte names one in Linux's abstract namespace).
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixDatagram> {
        UnixDatagram::bind_addr(&unix_addr(path.as_ref())?)
    }

    /// A socket bound to `addr` (std's `bind_addr`): a path or an abstract name.
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        UnixDatagram::register(net::UnixDatagram::bind_addr(addr)?)
    }

    /// A socket bound to no address.
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::register(net::UnixDatagram::unbound()?)
    }

    /// An unnamed pair of connected sockets.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = net::UnixDatagram::pair()?;
        Ok((UnixDatagram::register(a)?, UnixDatagram::register(b)?))
    }

    /// Sets the default destination (and the only source `recv` accepts).
    pub fn connect<P: AsRef<Path>>(&self, path: P) -> io::Result<()> {
        self.connect_addr(&unix_addr(path.as_ref())?)
    }

    /// Sets the default destination to `addr` (std's `connect_addr`).
    pub fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        self.fd.get_ref().connect_addr(addr)
    }

    /// Sends `buf` to the socket at `path`, parking while the receiver's queue is full.
    pub fn send_to<P: AsRef<Path>>(&self, buf: &[u8], path: P) -> io::Result<usize> {
        self.send_to_addr(buf, &unix_addr(path.as_ref())?)
    }

    /// Sends `buf` to `addr` (std's `send_to_addr`), as [`UnixDatagram::send_to`] does.
    ///
    /// A receiver whose queue is full cannot wake an unconnected sender when it drains (Linux
    /// wakes only a connected one), and each failed try frees its buffer, which reports the
    /// sender writable again at once. So each try after the first waits first, 50 µs doubling
    /// up to 1 ms, instead of spinning (a deadline may be overrun by that much). Go's
    /// `WriteTo` spins here.
    pub fn send_to_addr(&self, buf: &[u8], addr: &SocketAddr) -> io::Result<usize> {
        let mut pause = Duration::ZERO;
        self.fd.write(|s| {
            if !pause.is_zero() {
                crate::rt::sleep(pause);
            }
            let r = s.send_to_addr(buf, addr);
            if r.as_ref()
                .is_err_and(|e| e.kind() == io::ErrorKind::WouldBlock)
            {
                pause = (pause * 2).clamp(Duration::from_micros(50), Duration::from_millis(1));
            }
            r
        })
    }

    /// Sends `buf` to the connected peer.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write(|s| s.send(buf))
    }

    /// Receives one datagram and its sender's address, parking until one arrives. After
    /// `shutdown(Shutdown::Read)` it returns 0 bytes from an unnamed sender at once, as std's
    /// does (and a receiver parked meanwhile wakes with that).
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        self.fd.recv_datagram(
            |s| s.recv_from(buf),
            || {
                // As std's blocking call: 0 bytes from an unnamed sender.
                Ok((0, net::UnixDatagram::unbound()?.local_addr()?))
            },
        )
    }

    /// Receives one datagram from the connected peer; `Ok(0)` after `shutdown(Shutdown::Read)`,
    /// as std's.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.recv_datagram(|s| s.recv(buf), || Ok(0))
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// The address of the connected peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().peer_addr()
    }

    /// Shuts down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.get_ref().shutdown(how)
    }

    /// A new handle to the same socket, with its own registration (sharing the timeouts).
    pub fn try_clone(&self) -> io::Result<UnixDatagram> {
        Ok(UnixDatagram {
            fd: self.fd.try_clone_with(net::UnixDatagram::try_clone)?,
        })
    }

    super::io_methods!();
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

super::fd_impls!(UnixDatagram, net::UnixDatagram);
