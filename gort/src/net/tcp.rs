//! `TcpListener` and `TcpStream` (Go's `net/tcpsock.go`, `tcpsock_posix.go`, `sock_posix.go`,
//! and the non-blocking connect of `fd_unix.go`'s `netFD.connect`).
//!
//! The listener and accepted streams are std sockets put in non-blocking mode and registered with
//! the poller; std does the syscalls (`accept4`, `recv`, `send` with `MSG_NOSIGNAL`), gort waits
//! for readiness. `connect` is gort's own, because std's blocks: a `SOCK_NONBLOCK` socket is
//! registered first, `connect(2)` returns `EINPROGRESS`, the goroutine waits for writability and
//! `SO_ERROR` tells the outcome.

use std::fmt;
use std::io::{self, IoSlice, IoSliceMut, Read, Write};
use std::net::{self, Shutdown, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{NetFd, each_addr, max_backlog, would_block, zero_timeout};

/// A TCP socket server, listening for connections; like `std::net::TcpListener`, but `accept`
/// parks the goroutine.
///
/// ```
/// use std::io::{Read, Write};
/// use gort::net::{TcpListener, TcpStream};
///
/// let ln = TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = ln.local_addr().unwrap();
/// gort::go(move || {
///     let (mut c, _) = ln.accept().unwrap();
///     let mut buf = [0u8; 5];
///     c.read_exact(&mut buf).unwrap();
///     c.write_all(&buf).unwrap();
/// });
/// let mut s = TcpStream::connect(addr).unwrap();
/// s.write_all(b"hello").unwrap();
/// let mut buf = [0u8; 5];
/// s.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// ```
pub struct TcpListener {
    fd: NetFd<net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` (every address it resolves to is tried in turn, as std does) and listens
    /// with the kernel's maximum backlog.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        let ln = each_addr(addr, |a| net::TcpListener::bind(*a))?;
        max_backlog(&ln)?;
        TcpListener::try_from(ln)
    }

    /// Accepts a connection, parking until one arrives (or the read timeout, if set, passes).
    /// The stream has `TCP_NODELAY` set, as Go's accepted connections do.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.fd.read(|ln| ln.accept())?;
        let s = TcpStream::from_std_nodelay(s)?;
        Ok((s, addr))
    }

    /// An iterator over incoming connections; it never returns `None`.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The local address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// A new handle to the same listening socket (with its own poller registration).
    pub fn try_clone(&self) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: self.fd.try_clone_with(net::TcpListener::try_clone)?,
        })
    }

    /// A timeout for `accept` (not in std, whose listener has none; Go's `SetDeadline`).
    /// `Some(Duration::ZERO)` is an `InvalidInput` error.
    pub fn set_accept_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.fd.set_read_timeout(d)
    }

    /// The accept timeout (`None`: `accept` waits for ever).
    pub fn accept_timeout(&self) -> Option<Duration> {
        self.fd.read_timeout()
    }

    /// With `true`, `accept` fails with `WouldBlock` instead of parking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get_ref().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.get_ref().take_error()
    }
}

/// Registers a std listener (made non-blocking) with the poller.
impl TryFrom<net::TcpListener> for TcpListener {
    type Error = io::Error;
    fn try_from(ln: net::TcpListener) -> io::Result<TcpListener> {
        Ok(TcpListener {
            fd: NetFd::new(ln)?,
        })
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

/// The iterator of [`TcpListener::incoming`].
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<io::Result<TcpStream>> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection; like `std::net::TcpStream`, but I/O that is not ready parks the goroutine.
/// `Read` and `Write` are implemented for `TcpStream` and `&TcpStream`.
pub struct TcpStream {
    fd: NetFd<net::TcpStream>,
}

impl TcpStream {
    /// Connects to `addr`, trying every address it resolves to in turn and returning the last
    /// error if none accepts, as std does. The connect itself parks the goroutine, not the
    /// thread. The stream has `TCP_NODELAY` set, as Go's are.
    pub fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        each_addr(addr, |a| connect(a, None))
    }

    /// Connects to `addr`, failing with `TimedOut` if the connection is not established within
    /// `timeout`. A zero timeout is an `InvalidInput` error, as in std.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        if timeout.is_zero() {
            return Err(zero_timeout());
        }
        connect(addr, Some(timeout))
    }

    fn from_std_nodelay(s: net::TcpStream) -> io::Result<TcpStream> {
        s.set_nodelay(true)?;
        TcpStream::try_from(s)
    }

    /// The address of the remote peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().peer_addr()
    }

    /// The local address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// Shuts down the read half, the write half (the peer reads EOF), or both.
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.fd.get_ref().shutdown(how)
    }

    /// A new handle (a `dup` of the fd, with its own poller registration) to the same
    /// connection: one goroutine may read from one handle while another writes to the other.
    /// Timeouts and the non-blocking flag are shared, as std's clones share socket options.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        Ok(TcpStream {
            fd: self.fd.try_clone_with(net::TcpStream::try_clone)?,
        })
    }

    /// The timeout of each read (`None`: none). `Some(Duration::ZERO)` is an `InvalidInput`
    /// error, as in std. A read that times out fails with `io::ErrorKind::TimedOut`.
    pub fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.fd.set_read_timeout(d)
    }

    /// The timeout of each write; see [`TcpStream::set_read_timeout`].
    pub fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.fd.set_write_timeout(d)
    }

    /// The read timeout (`None`: reads wait for ever).
    pub fn read_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.read_timeout())
    }

    /// The write timeout (`None`: writes wait for ever).
    pub fn write_timeout(&self) -> io::Result<Option<Duration>> {
        Ok(self.fd.write_timeout())
    }

    /// Receives data without removing it from the queue, parking until some is available.
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.read(|s| s.peek(buf))
    }

    /// Sets `TCP_NODELAY` (disables Nagle's algorithm). gort's streams start with it set, as Go's.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.fd.get_ref().set_nodelay(nodelay)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.fd.get_ref().nodelay()
    }

    /// Sets the IP time-to-live of outgoing packets.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd.get_ref().set_ttl(ttl)
    }

    /// The IP time-to-live of outgoing packets.
    pub fn ttl(&self) -> io::Result<u32> {
        self.fd.get_ref().ttl()
    }

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.get_ref().take_error()
    }

    /// With `true`, reads and writes fail with `WouldBlock` instead of parking.
    pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.fd.set_nonblocking(nonblocking);
        Ok(())
    }
}

/// Non-blocking connect to one address (Go's `netFD.connect`).
fn connect(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let family = match addr {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain syscall creating a new descriptor.
    let raw = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let sock = net::TcpStream::from(unsafe { OwnedFd::from_raw_fd(raw) });
    // Registered before connecting, as Go does: the edge of a fast connect is not missed.
    let fd = NetFd::new(sock)?;
    let (sa, len) = SockAddr::new(addr);
    // SAFETY: `sa` is a valid sockaddr of `len` bytes for the socket's family.
    let r = unsafe { libc::connect(raw, sa.as_ptr(), len) };
    if r != 0 {
        let e = io::Error::last_os_error();
        match e.raw_os_error() {
            Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR) => {}
            Some(libc::EISCONN) => {}
            _ => return Err(e),
        }
        // Writable means the connect finished, one way or the other.
        fd.wait_with(false, timeout, |s| match s.take_error()? {
            Some(e) => match e.raw_os_error() {
                Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR) => Err(would_block()),
                _ => Err(e),
            },
            None => match s.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => Err(would_block()),
                Err(e) => Err(e),
            },
        })?;
    }
    fd.get_ref().set_nodelay(true)?;
    Ok(TcpStream { fd })
}

/// A `sockaddr_in` or `sockaddr_in6` for `connect(2)`.
#[repr(C)]
union SockAddr {
    v4: libc::sockaddr_in,
    v6: libc::sockaddr_in6,
}

impl SockAddr {
    fn new(addr: &SocketAddr) -> (SockAddr, libc::socklen_t) {
        match addr {
            SocketAddr::V4(a) => (
                SockAddr {
                    v4: libc::sockaddr_in {
                        sin_family: libc::AF_INET as libc::sa_family_t,
                        sin_port: a.port().to_be(),
                        sin_addr: libc::in_addr {
                            s_addr: u32::from_ne_bytes(a.ip().octets()),
                        },
                        sin_zero: [0; 8],
                    },
                },
                size_of::<libc::sockaddr_in>() as libc::socklen_t,
            ),
            SocketAddr::V6(a) => (
                SockAddr {
                    v6: libc::sockaddr_in6 {
                        sin6_family: libc::AF_INET6 as libc::sa_family_t,
                        sin6_port: a.port().to_be(),
                        sin6_flowinfo: a.flowinfo(),
                        sin6_addr: libc::in6_addr {
                            s6_addr: a.ip().octets(),
                        },
                        sin6_scope_id: a.scope_id(),
                    },
                },
                size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            ),
        }
    }

    fn as_ptr(&self) -> *const libc::sockaddr {
        (self as *const SockAddr).cast()
    }
}

/// Registers a std stream (made non-blocking) with the poller. Its `TCP_NODELAY` setting is
/// left as it is.
impl TryFrom<net::TcpStream> for TcpStream {
    type Error = io::Error;
    fn try_from(s: net::TcpStream) -> io::Result<TcpStream> {
        Ok(TcpStream { fd: NetFd::new(s)? })
    }
}

impl Read for &TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.read(|mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        self.fd.read(|mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write(|mut s| s.write(buf))
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.fd.write(|mut s| s.write_vectored(bufs))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for TcpStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        (&*self).write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

macro_rules! fd_impls {
    ($t:ty, $std:ty) => {
        impl AsRawFd for $t {
            fn as_raw_fd(&self) -> RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl AsFd for $t {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.fd.get_ref().as_fd()
            }
        }

        /// Unregisters the socket from the poller; the fd stays in non-blocking mode.
        impl IntoRawFd for $t {
            fn into_raw_fd(self) -> RawFd {
                self.fd.into_inner().into_raw_fd()
            }
        }

        /// Registers the socket with the poller, making it non-blocking.
        ///
        /// # Panics
        /// If it cannot be registered (it is not a socket, or the kernel is out of memory);
        /// `TryFrom` the std type reports that as an error instead.
        impl FromRawFd for $t {
            unsafe fn from_raw_fd(fd: RawFd) -> Self {
                // SAFETY: the caller passes ownership of an open socket fd.
                let s = unsafe { <$std>::from_raw_fd(fd) };
                <$t>::try_from(s).expect("gort::net: registering an fd with the poller")
            }
        }
    };
}
pub(crate) use fd_impls;

fd_impls!(TcpListener, net::TcpListener);
fd_impls!(TcpStream, net::TcpStream);
