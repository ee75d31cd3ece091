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
//! - `unix_datagram.rs`: `UnixDatagram`.
//! - `socket.rs`: `TcpSocket`, a socket configured before it connects or listens (tokio's).
//!
//! Deadlines (`set_deadline` and friends) are Go's: absolute, per handle, and they end an
//! operation that is already parked, which is how one goroutine cancels another's I/O:
//!
//! ```
//! use std::io::{ErrorKind, Read};
//! use std::sync::Arc;
//! use std::time::Instant;
//!
//! let (a, _b) = gort::net::UnixStream::pair().unwrap();
//! let a = Arc::new(a);
//! let reader = {
//!     let a = a.clone();
//!     gort::spawn(move || (&*a).read(&mut [0u8; 16]))
//! };
//! gort::sleep(std::time::Duration::from_millis(10)); // the reader parks
//! a.set_read_deadline(Some(Instant::now())).unwrap(); // wakes it at once
//! assert_eq!(reader.join().unwrap().unwrap_err().kind(), ErrorKind::TimedOut);
//! ```
//! Sockets convert to and from
//! std's types (std's in blocking mode) and `OwnedFd`. socket2 builds the sockets gort
//! creates itself.
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

mod socket;
mod tcp;
mod udp;
mod unix;
mod unix_datagram;

pub use socket::TcpSocket;
pub use tcp::{Incoming, TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixIncoming, UnixListener, UnixStream};
pub use unix_datagram::UnixDatagram;

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed, Ordering::SeqCst};
use std::time::{Duration, Instant};

use crate::io::Pollable;
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
    /// A listener's `close`: every accept fails.
    closed: AtomicBool,
}

/// A registered socket: what Go's `internal/poll.FD` is to its `net` types.
pub(crate) struct NetFd<T: AsRawFd> {
    /// Its turns (`Pollable::turn`) are held for the duration of an operation that may park:
    /// the poller has one waiter slot per direction (Go's `fdMutex`).
    io: Pollable<T>,
    opts: Arc<Opts>,
    /// Go's read and write deadlines: nanotimes, 0 for none. Per registration, as Go's are per
    /// `netFD` (a `try_clone` starts without).
    rdeadline: AtomicI64,
    wdeadline: AtomicI64,
}

impl<T: AsRawFd> NetFd<T> {
    /// Registers `io` (made non-blocking) with the poller.
    pub(crate) fn new(io: T) -> io::Result<NetFd<T>> {
        Ok(NetFd {
            io: Pollable::new(io)?,
            opts: Arc::default(),
            rdeadline: AtomicI64::new(0),
            wdeadline: AtomicI64::new(0),
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

    /// Moves the socket to its connection's poller shard, once it has connected.
    pub(crate) fn rehome(&self) {
        self.io.rehome();
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

    /// Whether the socket, in blocking mode, is shut down for reading: the poller has seen its
    /// read side hang up (a hint, which a stale event for the descriptor's previous fd can set),
    /// confirmed by asking the kernel now.
    pub(crate) fn shut_for_reading(&self) -> bool {
        if self.opts.nonblocking.load(Relaxed) || !self.io.read_hung_up() {
            return false;
        }
        let mut p = libc::pollfd {
            fd: self.get_ref().as_raw_fd(),
            events: libc::POLLRDHUP,
            revents: 0,
        };
        // SAFETY: one valid pollfd for an fd this handle owns; a zero timeout never blocks.
        let n = unsafe { libc::poll(&mut p, 1, 0) };
        n == 1 && p.revents & (libc::POLLRDHUP | libc::POLLHUP) != 0
    }

    /// A datagram socket's receive: as [`NetFd::read`], but on a socket shut down for reading
    /// it returns `shut()` rather than parking for ever. The kernel's non-blocking receive
    /// says "try again" there, where a blocking one returns at once (0 bytes, and no sender).
    pub(crate) fn recv_datagram<R>(
        &self,
        mut f: impl FnMut(&T) -> io::Result<R>,
        shut: impl Fn() -> io::Result<R>,
    ) -> io::Result<R> {
        self.read(|s| match f(s) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && self.shut_for_reading() => shut(),
            r => r,
        })
    }

    /// A listener's accept: as [`NetFd::read`], but failing once the listener is closed
    /// (`close_listener`), also when it waits already.
    pub(crate) fn accept<R>(&self, mut f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.read(|ln| {
            if self.opts.closed.load(SeqCst) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "accept on a closed listener",
                ));
            }
            f(ln)
        })
    }

    /// Whether `close_listener` was called on this socket (through any handle).
    pub(crate) fn is_closed(&self) -> bool {
        self.opts.closed.load(SeqCst)
    }

    /// Go's `Listener.Close`, but for the descriptor, which its drop closes: the socket stops
    /// listening (`shutdown(2)`: the kernel refuses new connections and resets the ones not
    /// yet accepted), and every accept, through this handle or a `try_clone`, fails from now
    /// on, one that waits already included (the shutdown wakes every registration of the
    /// socket; the kick, this handle's at once).
    pub(crate) fn close_listener(&self) -> io::Result<()> {
        self.opts.closed.store(true, SeqCst);
        // SAFETY: shutdown(2) on the descriptor this handle owns; no memory is passed.
        let r = unsafe { libc::shutdown(self.as_raw_fd(), libc::SHUT_RDWR) };
        self.io.kick(true);
        if r != 0 {
            let e = io::Error::last_os_error();
            // Closed before (or by a clone): nothing more to do.
            if e.raw_os_error() != Some(libc::ENOTCONN) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The write-side counterpart of [`NetFd::read`].
    pub(crate) fn write<R>(&self, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        self.op(false, f)
    }

    /// A stream socket's `write` (Go's `FD.Write`): sends all of `buf` with `send`, parking
    /// while the socket's buffer is full, in one turn of the write side, so that concurrent
    /// blocking writes through one handle never interleave. Stops early only on an error: a
    /// deadline or timeout, or a peer that is gone, after some bytes went out returns their
    /// count (the next call reports the error), and so does a non-blocking socket that fills
    /// up. An empty `buf` still makes one `send`, which reports a broken connection.
    pub(crate) fn write_stream(
        &self,
        buf: &[u8],
        mut send: impl FnMut(&T, &[u8]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        self.write_all_of(buf.len(), |s, done| send(s, &buf[done..]))
    }

    /// `write_stream` for a gathering write: all of `bufs`, in one turn of the write side.
    pub(crate) fn write_stream_vectored(
        &self,
        bufs: &[io::IoSlice<'_>],
        mut send: impl FnMut(&T, &[io::IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let total = bufs.iter().map(|b| b.len()).sum();
        self.write_all_of(total, |s, done| match done {
            0 => send(s, bufs),
            _ => send(s, &unsent(bufs, done)),
        })
    }

    /// The loop of `write_stream`: `send(s, done)` sends from byte `done` of `total` on.
    fn write_all_of(
        &self,
        total: usize,
        mut send: impl FnMut(&T, usize) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let mut done = 0;
        let r = self.op(false, |s| {
            loop {
                match send(s, done) {
                    Ok(n) => {
                        done += n;
                        if n == 0 || done == total {
                            return Ok(());
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        });
        match r {
            Err(_) if done > 0 => Ok(done),
            r => r.map(|()| done),
        }
    }

    /// Like `read`/`write` with an explicit timeout instead of the configured one (connect).
    pub(crate) fn wait_with<R>(
        &self,
        read: bool,
        timeout: Option<Duration>,
        f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let _turn = self.io.turn(read);
        self.io.io_with(read, timeout, f)
    }

    fn op<R>(&self, read: bool, mut f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let deadline = if read {
            &self.rdeadline
        } else {
            &self.wdeadline
        };
        if self.opts.nonblocking.load(Relaxed) {
            loop {
                if passed(deadline.load(SeqCst)) {
                    return Err(crate::rt::timed_out());
                }
                match f(self.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    r => return r,
                }
            }
        }
        let ns = if read {
            self.opts.read_timeout.load(Relaxed)
        } else {
            self.opts.write_timeout.load(Relaxed)
        };
        // The timeout covers waiting for a concurrent operation on this handle, too.
        let op_deadline = (ns != 0).then(|| nanotime().saturating_add(ns as i64));
        let _turn = self.io.turn(read);
        self.io
            .io_until(read, &|| earliest(op_deadline, deadline.load(SeqCst)), f)
    }

    /// Sets the read (`read`) or write deadline, and wakes an operation waiting in that
    /// direction to apply it (at once with `TimedOut`, if it has passed).
    pub(crate) fn set_deadline(&self, read: bool, t: Option<Instant>) {
        let ns = t.map_or(0, instant_nanotime);
        let deadline = if read {
            &self.rdeadline
        } else {
            &self.wdeadline
        };
        deadline.store(ns, SeqCst);
        self.io.kick(read);
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

/// What is left of `bufs` after its first `skip` bytes.
fn unsent<'a>(bufs: &'a [io::IoSlice<'a>], mut skip: usize) -> Vec<io::IoSlice<'a>> {
    let mut out = Vec::with_capacity(bufs.len());
    for b in bufs {
        if skip >= b.len() {
            skip -= b.len();
        } else {
            out.push(io::IoSlice::new(&b[skip..]));
            skip = 0;
        }
    }
    out
}

/// Whether the deadline `ns` (a nanotime, 0 for none) has passed.
fn passed(ns: i64) -> bool {
    ns != 0 && ns <= nanotime()
}

/// The earlier of an operation's own deadline and the socket's (`ns`, 0 for none).
fn earliest(op: Option<i64>, ns: i64) -> Option<i64> {
    match (op, ns) {
        (op, 0) => op,
        (Some(t), ns) => Some(t.min(ns)),
        (None, ns) => Some(ns),
    }
}

/// `t` on the runtime's clock (`nanotime`, the same monotonic clock as `Instant`'s); at least 1,
/// since 0 means "no deadline".
fn instant_nanotime(t: Instant) -> i64 {
    let (now, now_ns) = (Instant::now(), nanotime());
    let ns = if t >= now {
        now_ns.saturating_add(i64::try_from((t - now).as_nanos()).unwrap_or(i64::MAX))
    } else {
        now_ns.saturating_sub(i64::try_from((now - t).as_nanos()).unwrap_or(i64::MAX))
    };
    ns.max(1)
}

/// The methods every connection and datagram type shares, with a `fd: NetFd<_>` field: std's
/// per-operation timeouts, Go's deadlines, the non-blocking flag and `take_error`.
macro_rules! io_methods {
    () => {
        /// The timeout of each read (`None`: none). `Some(Duration::ZERO)` is an
        /// `InvalidInput` error, as in std. A read that times out fails with
        /// `io::ErrorKind::TimedOut`. Shared with `try_clone`s, as std's clones share socket
        /// options.
        pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
            self.fd.set_read_timeout(d)
        }

        /// The timeout of each write; see `set_read_timeout`.
        pub fn set_write_timeout(&self, d: Option<std::time::Duration>) -> io::Result<()> {
            self.fd.set_write_timeout(d)
        }

        /// The read timeout (`None`: reads wait for ever).
        pub fn read_timeout(&self) -> io::Result<Option<std::time::Duration>> {
            Ok(self.fd.read_timeout())
        }

        /// The write timeout (`None`: writes wait for ever).
        pub fn write_timeout(&self) -> io::Result<Option<std::time::Duration>> {
            Ok(self.fd.write_timeout())
        }

        /// Sets both the read and the write deadline (Go's `SetDeadline`): every read and write
        /// that has not completed by then fails with `io::ErrorKind::TimedOut`, including one
        /// that is already parked, which a deadline in the past wakes at once. That is how one
        /// goroutine cancels another's blocked I/O. `None` clears it. The earlier of a deadline
        /// and the per-operation timeout wins. Deadlines belong to this handle (a `try_clone`
        /// has its own), as Go's belong to a `net.Conn`.
        pub fn set_deadline(&self, t: Option<std::time::Instant>) -> io::Result<()> {
            self.fd.set_deadline(true, t);
            self.fd.set_deadline(false, t);
            Ok(())
        }

        /// Sets the read deadline; see `set_deadline`.
        pub fn set_read_deadline(&self, t: Option<std::time::Instant>) -> io::Result<()> {
            self.fd.set_deadline(true, t);
            Ok(())
        }

        /// Sets the write deadline; see `set_deadline`.
        pub fn set_write_deadline(&self, t: Option<std::time::Instant>) -> io::Result<()> {
            self.fd.set_deadline(false, t);
            Ok(())
        }

        /// With `true`, operations fail with `WouldBlock` instead of parking (shared with
        /// `try_clone`s).
        pub fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
            self.fd.set_nonblocking(nonblocking);
            Ok(())
        }

        /// Takes the socket's pending error (`SO_ERROR`), if any.
        pub fn take_error(&self) -> io::Result<Option<io::Error>> {
            self.fd.get_ref().take_error()
        }
    };
}
pub(crate) use io_methods;

/// What every socket type with a `fd: NetFd<$std>` field implements: fd access and the
/// conversions to and from std's type and `OwnedFd`, plus `register`, the fallible
/// constructor the conversions panic on.
macro_rules! fd_impls {
    ($t:ty, $std:ty) => {
        impl $t {
            /// Registers a std socket (made non-blocking) with the poller.
            pub(crate) fn register(s: $std) -> io::Result<$t> {
                Ok(Self {
                    fd: super::NetFd::new(s)?,
                })
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.fd.as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $t {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                self.fd.get_ref().as_fd()
            }
        }

        /// Unregisters the socket from the poller; the fd stays in non-blocking mode.
        impl std::os::fd::IntoRawFd for $t {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                self.fd.into_inner().into_raw_fd()
            }
        }

        /// Registers the socket with the poller, making it non-blocking.
        ///
        /// # Panics
        /// If it cannot be registered (it is not a socket, or the kernel is out of memory).
        impl std::os::fd::FromRawFd for $t {
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> Self {
                // SAFETY: the caller passes ownership of an open socket fd.
                <$t>::from(unsafe { <$std>::from_raw_fd(fd) })
            }
        }

        /// Registers a std socket with the poller, making it non-blocking.
        ///
        /// # Panics
        /// If it cannot be registered (it is not a socket, or the kernel is out of memory).
        impl From<$std> for $t {
            fn from(s: $std) -> $t {
                <$t>::register(s).unwrap_or_else(|e| {
                    panic!("gort::net: cannot register the socket with the poller: {e}")
                })
            }
        }

        /// Unregisters the socket and gives std's type back, in blocking mode.
        impl From<$t> for $std {
            fn from(s: $t) -> $std {
                let s = s.fd.into_inner();
                // Cannot fail on an open socket.
                let _ = s.set_nonblocking(false);
                s
            }
        }

        /// Registers an owned socket fd with the poller; panics as `From` std's type does.
        impl From<std::os::fd::OwnedFd> for $t {
            fn from(fd: std::os::fd::OwnedFd) -> $t {
                <$t>::from(<$std>::from(fd))
            }
        }

        /// Unregisters the socket; the fd stays in non-blocking mode.
        impl From<$t> for std::os::fd::OwnedFd {
            fn from(s: $t) -> std::os::fd::OwnedFd {
                s.fd.into_inner().into()
            }
        }
    };
}
pub(crate) use fd_impls;

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

/// Resolves a host name and port (`"example.com:80"`, `("localhost", 8080)`, or an address)
/// to socket addresses, like `ToSocketAddrs` (Go's `net.LookupHost` with the port joined).
///
/// The lookup (`getaddrinfo`: /etc/hosts, then DNS) runs as a hand-off call: the goroutine
/// keeps its thread while the C resolver blocks, and the processor goes on running other
/// goroutines. Every gort `connect` and `bind` resolves names the same way. A name that does
/// not resolve is an `io::Error` from the resolver.
///
/// ```
/// let addrs: Vec<_> = gort::net::lookup_host("localhost:80").unwrap().collect();
/// assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80));
/// ```
pub fn lookup_host<A: ToSocketAddrs>(host_port: A) -> io::Result<impl Iterator<Item = SocketAddr>> {
    resolve(host_port).map(Vec::into_iter)
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
