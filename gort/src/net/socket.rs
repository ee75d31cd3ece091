//! `TcpSocket`: a TCP socket configured before it connects or listens, with tokio's shape
//! (tokio's `net/tcp/socket.rs`), over socket2. Go has no such type: its `net.Dialer` and
//! `net.ListenConfig` take a `Control` function that sets options on the raw socket instead.

use std::fmt;
use std::io;
use std::net::{self, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};

use super::{TcpListener, TcpStream, max_backlog};

/// A TCP socket that has not yet connected or listened: set options and `bind` it, then
/// `connect` (parking the goroutine, as [`TcpStream::connect`]) or `listen`.
///
/// Unlike `TcpStream::connect`, `connect` leaves `TCP_NODELAY` as set here (off by default).
///
/// ```
/// use gort::net::TcpSocket;
///
/// let socket = TcpSocket::new_v4().unwrap();
/// socket.set_reuseaddr(true).unwrap();
/// socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let listener = socket.listen(1024).unwrap();
/// let addr = listener.local_addr().unwrap();
///
/// let client = TcpSocket::new_v4().unwrap();
/// client.set_nodelay(true).unwrap();
/// let stream = client.connect(addr).unwrap();
/// assert_eq!(stream.peer_addr().unwrap(), addr);
/// ```
pub struct TcpSocket {
    inner: Socket,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV4)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        TcpSocket::new(Domain::IPV6)
    }

    fn new(domain: Domain) -> io::Result<TcpSocket> {
        let inner = Socket::new(
            domain,
            Type::STREAM.nonblocking().cloexec(),
            Some(Protocol::TCP),
        )?;
        Ok(TcpSocket { inner })
    }

    /// `SO_REUSEADDR`: bind to an address in TIME_WAIT.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        self.inner.set_reuse_address(on)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        self.inner.reuse_address()
    }

    /// `SO_REUSEPORT`: several sockets listen on one port, the kernel spreading connections.
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        self.inner.set_reuse_port(on)
    }

    /// Whether `SO_REUSEPORT` is set.
    pub fn reuseport(&self) -> io::Result<bool> {
        self.inner.reuse_port()
    }

    /// `SO_KEEPALIVE`: probe an idle connection.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.inner.set_keepalive(on)
    }

    /// Whether `SO_KEEPALIVE` is set.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.inner.keepalive()
    }

    /// `SO_LINGER`: how long `close` waits for unsent data (`None`: the default, return at
    /// once and send in the background).
    pub fn set_linger(&self, d: Option<Duration>) -> io::Result<()> {
        self.inner.set_linger(d)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.inner.linger()
    }

    /// `SO_SNDBUF`, in bytes (the kernel doubles it for bookkeeping, and reports that).
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_send_buffer_size(size as usize)
    }

    /// The `SO_SNDBUF` size.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        self.inner.send_buffer_size().map(saturate)
    }

    /// `SO_RCVBUF`, in bytes (as `set_send_buffer_size`).
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        self.inner.set_recv_buffer_size(size as usize)
    }

    /// The `SO_RCVBUF` size.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        self.inner.recv_buffer_size().map(saturate)
    }

    /// `TCP_NODELAY`: send small writes at once (Nagle's algorithm off).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.inner.set_tcp_nodelay(on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.inner.tcp_nodelay()
    }

    /// Binds to `addr` (port 0: any free port).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        self.inner.bind(&addr.into())
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner
            .local_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket address"))
    }

    /// Connects to `addr`, parking the goroutine until the connection is established or fails.
    pub fn connect(self, addr: SocketAddr) -> io::Result<TcpStream> {
        super::tcp::connect_socket(self.inner, &addr, None)
    }

    /// Listens with `backlog` (capped by the kernel at `net.core.somaxconn`; 0 means the
    /// kernel's maximum, as `TcpListener::bind` uses).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        if backlog == 0 {
            // The first listen(2) makes it a listener; the second raises the backlog.
            self.inner.listen(1)?;
            max_backlog(&self.inner)?;
        } else {
            self.inner
                .listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
        }
        TcpListener::register(net::TcpListener::from(self.inner))
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.inner.into_raw_fd()
    }
}

/// Takes an unconnected TCP socket; it is made non-blocking.
impl FromRawFd for TcpSocket {
    unsafe fn from_raw_fd(fd: RawFd) -> TcpSocket {
        // SAFETY: the caller passes ownership of an open socket fd.
        TcpSocket::from(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

/// Takes an unconnected TCP socket; it is made non-blocking.
impl From<OwnedFd> for TcpSocket {
    fn from(fd: OwnedFd) -> TcpSocket {
        let inner = Socket::from(fd);
        // Cannot fail on an open socket.
        let _ = inner.set_nonblocking(true);
        TcpSocket { inner }
    }
}

impl fmt::Debug for TcpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpSocket")
            .field("fd", &self.as_raw_fd())
            .finish()
    }
}
