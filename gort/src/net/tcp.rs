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

use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, Type};

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
        TcpListener::register(ln)
    }

    /// Accepts a connection, parking until one arrives (or the read timeout, if set, passes).
    /// The stream has `TCP_NODELAY` set, as Go's accepted connections do.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (s, addr) = self.fd.accept(|ln| ln.accept())?;
        let s = TcpStream::from_std_nodelay(s)?;
        Ok((s, addr))
    }

    /// An iterator over incoming connections. Unlike std's, it ends (returns `None`) once the
    /// listener is closed (`close`), so that a serving loop ends with it; until then it never
    /// does.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// Stops listening, as Go's `Listener.Close` does: an `accept` waiting in another goroutine
    /// returns an `InvalidInput` error at once, and so does every later one, through this
    /// handle or any `try_clone` of it (`incoming()` ends); new connections are refused, and
    /// those not yet accepted are reset. The descriptor itself is closed when the last handle is dropped.
    /// Closing again does nothing. (std has no such method; dropping is its only close, which
    /// a goroutine cannot do to a listener another goroutine is accepting on.)
    ///
    /// ```
    /// use std::sync::Arc;
    /// use gort::net::TcpListener;
    ///
    /// let ln = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
    /// let server = gort::spawn({
    ///     let ln = ln.clone();
    ///     move || {
    ///         while ln.accept().is_ok() {} // serve until closed
    ///     }
    /// });
    /// ln.close().unwrap();
    /// server.join().unwrap();
    /// ```
    pub fn close(&self) -> io::Result<()> {
        self.fd.close_listener()
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

    /// Sets the accept deadline (Go's `SetDeadline` on a listener): an `accept` that has not
    /// completed by then fails with `io::ErrorKind::TimedOut`, including one already parked,
    /// which a deadline in the past wakes at once. `None` clears it. The earlier of the
    /// deadline and the accept timeout wins.
    pub fn set_deadline(&self, t: Option<std::time::Instant>) -> io::Result<()> {
        self.fd.set_deadline(true, t);
        Ok(())
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
        match self.listener.accept() {
            Err(_) if self.listener.fd.is_closed() => None,
            r => Some(r.map(|(s, _)| s)),
        }
    }
}

/// A TCP connection; like `std::net::TcpStream`, but I/O that is not ready parks the goroutine.
/// `Read` and `Write` are implemented for `TcpStream` and `&TcpStream`. As Go's `Conn.Write`,
/// `write` (and `write_vectored`) sends the whole buffer, parking while the socket is full,
/// unless an error or a deadline stops it; and blocking writes through one handle (not a
/// `try_clone` of it) never interleave.
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
        TcpStream::register(s)
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

    super::io_methods!();

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
}

/// Non-blocking connect to one address (Go's `netFD.connect`) with `TCP_NODELAY` set.
fn connect(addr: &SocketAddr, timeout: Option<Duration>) -> io::Result<TcpStream> {
    let sock = Socket::new(
        Domain::for_address(*addr),
        Type::STREAM.nonblocking().cloexec(),
        Some(Protocol::TCP),
    )?;
    sock.set_tcp_nodelay(true)?;
    connect_socket(sock, addr, timeout)
}

/// Connects `sock` (non-blocking, options set) to `addr`, parking until the connection is
/// established or fails, or `timeout` passes.
pub(super) fn connect_socket(
    sock: Socket,
    addr: &SocketAddr,
    timeout: Option<Duration>,
) -> io::Result<TcpStream> {
    // Registered before connecting, as Go does: the edge of a fast connect is not missed.
    let fd = NetFd::new(net::TcpStream::from(sock))?;
    let sock = SockRef::from(fd.get_ref());
    if let Err(e) = sock.connect(&(*addr).into()) {
        match e.raw_os_error() {
            // Not EISCONN: on a first attempt it means the socket was connected (or listening)
            // already, which std reports as an error; no writable edge would come for it.
            Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR) => {}
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
    fd.rehome();
    Ok(TcpStream { fd })
}

impl Read for &TcpStream {
    /// An empty `buf` returns `Ok(0)` at once, as Go's zero-byte read does (a non-blocking
    /// socket would otherwise wait for data it cannot take).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.fd.read(|mut s| s.read(buf))
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        self.fd.read(|mut s| s.read_vectored(bufs))
    }
}

impl Write for &TcpStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write_stream(buf, |mut s, b| s.write(b))
    }

    /// `sendmsg` with `MSG_NOSIGNAL`, as `write`'s `send`: a closed peer is `BrokenPipe`, never
    /// `SIGPIPE` (std's `writev` raises it where SIGPIPE has its default action, as in a C
    /// program that hosts gort).
    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.fd.write_stream_vectored(bufs, |s, b| {
            SockRef::from(s).send_vectored_with_flags(b, libc::MSG_NOSIGNAL)
        })
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

super::fd_impls!(TcpListener, net::TcpListener);
super::fd_impls!(TcpStream, net::TcpStream);
