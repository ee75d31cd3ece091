//! `UnixListener` and `UnixStream` (Go's `net/unixsock.go`, `unixsock_posix.go`): Unix-domain
//! stream sockets, the same shape as the TCP types with paths instead of addresses
//! (std's `std::os::unix::net` types underneath, registered with the poller).
//!
//! `connect` is gort's own, because std's blocks: a Unix-domain connect never returns
//! `EINPROGRESS` but fails with `EAGAIN` while the listener's backlog is full; gort then retries
//! after a short sleep (backing off up to 20 ms), parking the goroutine instead of the thread.
//! Writes use `send(MSG_NOSIGNAL)`, so a closed peer gives `BrokenPipe`, never `SIGPIPE`.

use std::fmt;
use std::io::{self, IoSliceMut, Read, Write};
use std::net::Shutdown;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{self, SocketAddr};
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use super::{NetFd, max_backlog, would_block};

/// Connections `UnixListener::close` accepts and closes at most: the kernel's default
/// `somaxconn`, the most a listener queues unless the host raised it.
const QUEUED_MAX: usize = 4096;

/// A Unix-domain socket server; like `std::os::unix::net::UnixListener`, but `accept` parks the
/// goroutine.
///
/// ```
/// use std::io::{Read, Write};
/// use gort::net::{UnixListener, UnixStream};
///
/// let path = std::env::temp_dir().join(format!("gort-doc-{}.sock", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// let ln = UnixListener::bind(&path).unwrap();
/// gort::go(move || {
///     let (mut c, _) = ln.accept().unwrap();
///     c.write_all(b"hi").unwrap();
/// });
/// let mut s = UnixStream::connect(&path).unwrap();
/// let mut buf = [0u8; 2];
/// s.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hi");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub struct UnixListener {
    fd: NetFd<net::UnixListener>,
}

impl UnixListener {
    /// Binds to `path` (which must not exist) and listens with the kernel's maximum backlog.
    /// A path that starts with a NUL byte names a socket in Linux's abstract namespace, as for
    /// [`UnixStream::connect`].
    pub fn bind<P: AsRef<Path>>(path: P) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&unix_addr(path.as_ref())?)
    }

    /// Binds to `addr` (std's `bind_addr`): a path, or a name in Linux's abstract namespace
    /// (`SocketAddr::from_abstract_name`, which leaves no file behind).
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        let ln = net::UnixListener::bind_addr(addr)?;
        max_backlog(&ln)?;
        UnixListener::register(ln)
    }

    /// Accepts a connection, parking until one arrives (or the accept timeout passes). A
    /// listener shut down meanwhile (`shutdown(2)` on its descriptor) fails it with
    /// `InvalidInput`, as std's blocking accept does.
    pub fn accept(&self) -> io::Result<(UnixStream, SocketAddr)> {
        let (s, addr) = self.fd.accept(|ln| match ln.accept() {
            // Shut down (`shutdown(2)` on its fd): the kernel's non-blocking accept says "try
            // again" for ever where a blocking one fails with EINVAL, and no readiness comes
            // again, so a blocking accept fails as std's does.
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.fd.shut_for_reading() => {
                Err(io::Error::from_raw_os_error(libc::EINVAL))
            }
            r => r,
        })?;
        Ok((UnixStream::register(s)?, addr))
    }

    /// An iterator over incoming connections. Unlike std's, it ends (returns `None`) once the
    /// listener is closed (`close`), so that a serving loop ends with it; until then it never
    /// does.
    pub fn incoming(&self) -> UnixIncoming<'_> {
        UnixIncoming { listener: self }
    }

    /// Stops listening, as `TcpListener::close` does (Go's `Listener.Close`): waiting and later
    /// accepts, through any handle of this socket, fail with `InvalidInput`, and `incoming()`
    /// ends. Connections already queued are accepted and closed here (the kernel resets a TCP
    /// listener's, but leaves a Unix one's waiting), up to 4,096 of them; one beyond those, or
    /// one that arrives while this runs, may wait until the descriptor is closed, when the last
    /// handle is dropped. A path the socket was
    /// bound to stays until removed.
    pub fn close(&self) -> io::Result<()> {
        // Non-blocking (every registered socket is): ends at the first "try again", and after
        // at most a full backlog of the kernel's default size, so that clients connecting
        // without pause cannot keep the close from returning.
        for _ in 0..QUEUED_MAX {
            if self.fd.get_ref().accept().is_err() {
                break;
            }
        }
        self.fd.close_listener()
    }

    /// The local address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// A new handle to the same listening socket (with its own poller registration).
    pub fn try_clone(&self) -> io::Result<UnixListener> {
        Ok(UnixListener {
            fd: self.fd.try_clone_with(net::UnixListener::try_clone)?,
        })
    }

    /// A timeout for `accept` (Go's `SetDeadline`). `Some(Duration::ZERO)` is an
    /// `InvalidInput` error.
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

    /// Takes the socket's pending error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.get_ref().take_error()
    }
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

/// The iterator of [`UnixListener::incoming`].
#[derive(Debug)]
pub struct UnixIncoming<'a> {
    listener: &'a UnixListener,
}

impl Iterator for UnixIncoming<'_> {
    type Item = io::Result<UnixStream>;
    fn next(&mut self) -> Option<io::Result<UnixStream>> {
        match self.listener.accept() {
            Err(_) if self.listener.fd.is_closed() => None,
            r => Some(r.map(|(s, _)| s)),
        }
    }
}

/// A Unix-domain stream connection; like `std::os::unix::net::UnixStream`, but I/O that is not
/// ready parks the goroutine. `Read` and `Write` are implemented for `UnixStream` and
/// `&UnixStream`; `write` sends the whole buffer unless an error or a deadline stops it, and
/// blocking writes through one handle never interleave (as for `TcpStream`).
pub struct UnixStream {
    fd: NetFd<net::UnixStream>,
}

impl UnixStream {
    /// Connects to the socket at `path`, parking (not blocking the thread) while the
    /// listener's backlog is full. A path that starts with a NUL byte names a socket in Linux's
    /// abstract namespace.
    pub fn connect<P: AsRef<Path>>(path: P) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&unix_addr(path.as_ref())?)
    }

    /// Connects to `addr` (std's `connect_addr`), as [`UnixStream::connect`] does.
    pub fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let addr = sock_addr(addr)?;
        let sock = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        let fd = NetFd::new(net::UnixStream::from(OwnedFd::from(sock)))?;
        let mut backoff = Duration::from_micros(100);
        while let Err(e) = SockRef::from(fd.get_ref()).connect(&addr) {
            match e.raw_os_error() {
                Some(libc::EAGAIN) => {
                    crate::rt::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_millis(20));
                }
                Some(libc::EINTR) => {}
                Some(libc::EINPROGRESS | libc::EALREADY) => {
                    fd.wait_with(false, None, |s| match s.take_error()? {
                        Some(e) => Err(e),
                        None => s.peer_addr().map(drop).map_err(|e| {
                            if e.raw_os_error() == Some(libc::ENOTCONN) {
                                would_block()
                            } else {
                                e
                            }
                        }),
                    })?;
                    break;
                }
                _ => return Err(e),
            }
        }
        Ok(UnixStream { fd })
    }

    /// An unnamed pair of connected sockets.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = net::UnixStream::pair()?;
        Ok((UnixStream::register(a)?, UnixStream::register(b)?))
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

    /// A new handle (a `dup`, with its own poller registration) to the same connection,
    /// sharing the timeouts and the non-blocking flag.
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        Ok(UnixStream {
            fd: self.fd.try_clone_with(net::UnixStream::try_clone)?,
        })
    }

    super::io_methods!();
}

/// `send(2)` with `MSG_NOSIGNAL`: a closed peer is `BrokenPipe`, not `SIGPIPE`.
fn send(s: &net::UnixStream, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for reads of `buf.len()` bytes; the fd is open.
    let n = unsafe {
        libc::send(
            s.as_raw_fd(),
            buf.as_ptr().cast(),
            buf.len(),
            libc::MSG_NOSIGNAL,
        )
    };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

impl Read for &UnixStream {
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

impl Write for &UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write_stream(buf, send)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for UnixStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }

    fn read_vectored(&mut self, bufs: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
        (&*self).read_vectored(bufs)
    }
}

impl Write for UnixStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fd.get_ref().fmt(f)
    }
}

super::fd_impls!(UnixListener, net::UnixListener);
super::fd_impls!(UnixStream, net::UnixStream);

/// The address of the socket at `path`; a leading NUL byte names one in Linux's abstract
/// namespace. A NUL byte after the first is refused, as std refuses it (the kernel would read
/// the path only up to it: another socket).
pub(super) fn unix_addr(path: &Path) -> io::Result<SocketAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    match path.as_os_str().as_bytes() {
        [0, name @ ..] if !name.contains(&0) => SocketAddr::from_abstract_name(name),
        _ => SocketAddr::from_pathname(path),
    }
}

/// `addr` for socket2; an unnamed address (a socket bound to nothing) is refused.
fn sock_addr(addr: &SocketAddr) -> io::Result<SockAddr> {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::ffi::OsStrExt;
    if let Some(path) = addr.as_pathname() {
        return SockAddr::unix(path);
    }
    match addr.as_abstract_name() {
        // socket2 keeps the length of a name that starts with NUL.
        Some(name) => SockAddr::unix(std::ffi::OsStr::from_bytes(&[&[0], name].concat())),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "an unnamed Unix socket address cannot be connected to",
        )),
    }
}
