//! Goroutine-aware sockets on the runtime's poller, after Go's `net` package and
//! `internal/poll`; shapes of `std::net` (and `std::os::unix::net`).
//!
//! Every socket here is a non-blocking fd registered with the network poller (`rt::netpoll`,
//! through [`crate::io::Pollable`]). An operation that would block parks the calling goroutine
//! until the poller reports the fd ready (or, on a plain OS thread, blocks that thread), so a
//! goroutine per connection is cheap, as in Go. Read and write timeouts (`set_read_timeout`,
//! `set_write_timeout`) are per operation, as in std, and end the operation with
//! `io::ErrorKind::TimedOut`.
//!
//! # Files
//! - `mod.rs` (this file): `NetFd`, the part every socket type shares (Go's `internal/poll.FD`:
//!   the registered fd, one lock per direction (Go's `fdMutex`), the timeouts and the
//!   non-blocking flag), name resolution, address-list iteration and the listen backlog.
//! - `tcp.rs`: `TcpListener`, `TcpStream` (Go's `tcpsock*.go`, `sock_posix.go` and the
//!   non-blocking connect of `fd_unix.go`).
//! - `udp.rs`: `UdpSocket` (Go's `udpsock*.go`).
//! - `unix.rs`: `UnixListener`, `UnixStream` (Go's `unixsock*.go`).
//!
//! # Differences from std worth knowing
//! - Name resolution (`ToSocketAddrs`, which may call `getaddrinfo`) runs through
//!   [`crate::ffi::call`]: on the thread's own stack, with the processor handed off if it
//!   blocks (Go's cgo resolver does the same).
//! - `TcpStream`s are created with `TCP_NODELAY` set, as Go's are; `set_nodelay(false)` turns
//!   Nagle's algorithm back on.
//! - Listeners use the kernel's maximum backlog (`net.core.somaxconn`), as Go does.
//! - The fd is always in `O_NONBLOCK` mode (an fd taken out with `IntoRawFd` stays so);
//!   `set_nonblocking(true)` only makes operations return `WouldBlock` instead of parking.
//! - Concurrent operations in one direction on one handle (two goroutines reading a shared
//!   `&TcpStream`) are serialised, as Go's `fdMutex` does; the time spent waiting for the other
//!   operation counts against the timeout, but a waiter only notices that the timeout passed
//!   once it holds the lock (the holder's own timeout bounds that). A `try_clone` has its own
//!   registration and locks and shares the timeouts and the non-blocking flag, as std's clones
//!   share socket options.

mod tcp;
mod udp;
mod unix;

pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::io::Pollable;
use crate::sync::Mutex;
use crate::sys::nanotime;

/// Options shared by a socket and its `try_clone`s (std: they are options of the one socket).
#[derive(Default)]
struct Opts {
    /// Read timeout in nanoseconds; 0: none.
    read_timeout: AtomicU64,
    /// Write timeout in nanoseconds; 0: none.
    write_timeout: AtomicU64,
    /// `set_nonblocking(true)`: fail with `WouldBlock` instead of parking.
    nonblocking: AtomicBool,
}

/// A registered socket: what Go's `internal/poll.FD` is to its `net` types.
pub(crate) struct NetFd<T: AsRawFd> {
    io: Pollable<T>,
    /// Held for the duration of a read-side (`rlock`) or write-side (`wlock`) operation that
    /// may park: the poller has one waiter slot per direction (Go's `fdMutex`).
    rlock: Mutex<()>,
    wlock: Mutex<()>,
    opts: Arc<Opts>,
}

impl<T: AsRawFd> NetFd<T> {
    /// Registers `io` (made non-blocking) with the poller.
    pub(crate) fn new(io: T) -> io::Result<NetFd<T>> {
        Ok(NetFd {
            io: Pollable::new(io)?,
            rlock: Mutex::new(()),
            wlock: Mutex::new(()),
            opts: Arc::default(),
        })
    }

    /// A new registration of a duplicate of this socket, sharing the options.
    pub(crate) fn try_clone_with(&self, dup: impl FnOnce(&T) -> io::Result<T>) -> io::Result<Self> {
        let mut fd = NetFd::new(dup(self.get_ref())?)?;
        fd.opts = self.opts.clone();
        Ok(fd)
    }

    pub(crate) fn get_ref(&self) -> &T {
        self.io.get_ref()
    }

    /// Unregisters the socket and returns it (still in non-blocking mode).
    pub(crate) fn into_inner(self) -> T {
        self.io.into_inner()
    }

    /// Runs the read-side operation `f` until it does not fail with `WouldBlock`, parking until
    /// the socket is readable in between, within the read timeout.
    pub(crate) fn read<R>(&self, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.op(true, f)
    }

    /// The write-side counterpart of [`NetFd::read`].
    pub(crate) fn write<R>(&self, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.op(false, f)
    }

    /// Like `read`/`write` with an explicit timeout instead of the configured one (connect).
    pub(crate) fn wait_with<R>(
        &self,
        read: bool,
        timeout: Option<Duration>,
        f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let _g = if read {
            self.rlock.lock()
        } else {
            self.wlock.lock()
        };
        self.io.io_with(read, timeout, f)
    }

    fn op<R>(&self, read: bool, mut f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        if self.opts.nonblocking.load(Relaxed) {
            loop {
                match f(self.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => return r,
                }
            }
        }
        let (lock, ns) = if read {
            (&self.rlock, self.opts.read_timeout.load(Relaxed))
        } else {
            (&self.wlock, self.opts.write_timeout.load(Relaxed))
        };
        if ns == 0 {
            let _g = lock.lock();
            return self.io.io_with(read, None, f);
        }
        // The timeout covers waiting for a concurrent operation on this handle, too.
        let deadline = nanotime().saturating_add(ns as i64);
        let _g = lock.lock();
        let left = deadline.saturating_sub(nanotime()).max(0) as u64;
        self.io.io_with(read, Some(Duration::from_nanos(left)), f)
    }

    pub(crate) fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.opts.read_timeout.store(timeout_ns(d)?, Relaxed);
        Ok(())
    }

    pub(crate) fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        self.opts.write_timeout.store(timeout_ns(d)?, Relaxed);
        Ok(())
    }

    pub(crate) fn read_timeout(&self) -> Option<Duration> {
        timeout_from_ns(self.opts.read_timeout.load(Relaxed))
    }

    pub(crate) fn write_timeout(&self) -> Option<Duration> {
        timeout_from_ns(self.opts.write_timeout.load(Relaxed))
    }

    pub(crate) fn set_nonblocking(&self, on: bool) {
        self.opts.nonblocking.store(on, Relaxed);
    }
}

impl<T: AsRawFd> AsRawFd for NetFd<T> {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.get_ref().as_raw_fd()
    }
}

/// std's rule: `Some(Duration::ZERO)` is an error; anything else is stored as nanoseconds (at
/// least 1, at most ~292 years), 0 meaning none.
fn timeout_ns(d: Option<Duration>) -> io::Result<u64> {
    match d {
        None => Ok(0),
        Some(d) if d.is_zero() => Err(zero_timeout()),
        Some(d) => Ok(u64::try_from(d.as_nanos())
            .unwrap_or(i64::MAX as u64)
            .clamp(1, i64::MAX as u64)),
    }
}

fn timeout_from_ns(ns: u64) -> Option<Duration> {
    (ns != 0).then(|| Duration::from_nanos(ns))
}

pub(crate) fn zero_timeout() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "cannot set a 0 duration timeout",
    )
}

/// Resolves `addr` (possibly a DNS lookup: a blocking C call, so on the thread's stack with the
/// processor handed off).
pub(crate) fn resolve<A: ToSocketAddrs>(addr: A) -> io::Result<Vec<SocketAddr>> {
    crate::ffi::call(|| addr.to_socket_addrs().map(Iterator::collect))
}

/// Resolves a destination address for a send (std uses the first address).
pub(crate) fn first_addr<A: ToSocketAddrs>(addr: A) -> io::Result<SocketAddr> {
    resolve(addr)?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no addresses to send data to"))
}

/// std's `each_addr`: tries `f` on every address `addr` resolves to, returning the first
/// success or the last error.
pub(crate) fn each_addr<A: ToSocketAddrs, R>(
    addr: A,
    mut f: impl FnMut(&SocketAddr) -> io::Result<R>,
) -> io::Result<R> {
    let mut last = None;
    for a in resolve(addr)? {
        match f(&a) {
            Ok(r) => return Ok(r),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "could not resolve to any addresses",
        )
    }))
}

/// Raises a listening socket's backlog to the kernel's maximum (`net.core.somaxconn`, which the
/// kernel caps it at), as Go's `maxListenerBacklog` does; std listens with 128, which makes a
/// burst of connects wait for SYN retransmits.
pub(crate) fn max_backlog(fd: &impl AsRawFd) -> io::Result<()> {
    // SAFETY: listen(2) on a caller-owned, already listening socket; Linux updates the backlog.
    if unsafe { libc::listen(fd.as_raw_fd(), i32::MAX) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `WouldBlock`, for operations that must be retried after the poller reports readiness.
pub(crate) fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}
