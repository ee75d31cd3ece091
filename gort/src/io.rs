//! `Pollable`: make any non-blocking file descriptor goroutine-aware, on the runtime's network
//! poller (Go's internal/poll.FD). The net types are built on it.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use crate::rt::PollDesc;
use crate::sync::{Mutex, MutexGuard};

/// A file descriptor registered with the runtime's poller. Operations that would block park the
/// calling goroutine (or block a plain thread) until the fd is ready, instead of blocking an OS
/// thread that runs goroutines.
///
/// ```
/// use std::io::{Read, Write};
/// let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
/// let a = gort::io::Pollable::new(a).unwrap();
/// let b = gort::io::Pollable::new(b).unwrap();
/// gort::go(move || { b.write_with(|s| (&*s).write(b"hi")).unwrap(); });
/// let mut buf = [0u8; 2];
/// a.read_with(|s| (&*s).read_exact(&mut buf)).unwrap();
/// assert_eq!(&buf, b"hi");
/// ```
pub struct Pollable<T: AsRawFd> {
    io: Option<T>,
    pd: &'static PollDesc,
    /// Held by `read_with` (`rlock`) and `write_with` (`wlock`) while they run (`turn`): the
    /// poller keeps one waiter per direction, so goroutines sharing a `Pollable` take turns,
    /// as Go's `fdMutex` makes them. The net types take the same turns.
    rlock: Mutex<()>,
    wlock: Mutex<()>,
}

impl<T: AsRawFd> Pollable<T> {
    /// Puts `io`'s fd in non-blocking mode and registers it with the poller.
    ///
    /// # Errors
    /// If the fd cannot be polled: a regular file or a directory (always ready; use
    /// `gort::fs` or `gort::blocking`), or an fd that is already registered.
    pub fn new(io: T) -> io::Result<Pollable<T>> {
        set_nonblocking(io.as_raw_fd())?;
        let pd = PollDesc::open(io.as_raw_fd())?;
        Ok(Pollable {
            io: Some(io),
            pd,
            rlock: Mutex::new(()),
            wlock: Mutex::new(()),
        })
    }

    /// The wrapped I/O object.
    pub fn get_ref(&self) -> &T {
        self.io
            .as_ref()
            .expect("Pollable holds its io until into_inner")
    }

    /// Unregisters the fd and returns the inner object (its fd stays non-blocking).
    pub fn into_inner(mut self) -> T {
        self.pd.close();
        self.io
            .take()
            .expect("Pollable holds its io until into_inner")
    }

    /// Runs `f` until it does not fail with `WouldBlock`, parking until the fd is readable in
    /// between.
    pub fn read_with<R>(&self, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let _turn = self.turn(true);
        self.io_with(true, None, f)
    }

    /// Runs `f` until it does not fail with `WouldBlock`, parking until the fd is writable in
    /// between.
    pub fn write_with<R>(&self, f: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let _turn = self.turn(false);
        self.io_with(false, None, f)
    }

    /// The read (`read`) or write side's turn, held while an operation on it may park.
    pub(crate) fn turn(&self, read: bool) -> MutexGuard<'_, ()> {
        if read {
            self.rlock.lock()
        } else {
            self.wlock.lock()
        }
    }

    /// As `read_with`/`write_with`, failing with `TimedOut` once `timeout` has passed.
    pub(crate) fn io_with<R>(
        &self,
        read: bool,
        timeout: Option<Duration>,
        f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        let deadline = timeout.map(crate::sys::deadline_after);
        self.io_until(read, &|| deadline, f)
    }

    /// As `read_with`/`write_with`, failing with `TimedOut` once the deadline (a nanotime, read
    /// from `deadline` before each wait, and before each attempt, as Go checks a deadline
    /// before trying the operation) has passed. `kick` makes a waiting call read it again.
    pub(crate) fn io_until<R>(
        &self,
        read: bool,
        deadline: &dyn Fn() -> Option<i64>,
        mut f: impl FnMut(&T) -> io::Result<R>,
    ) -> io::Result<R> {
        loop {
            if deadline().is_some_and(|t| t <= crate::sys::nanotime()) {
                return Err(crate::rt::timed_out());
            }
            match f(self.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.pd.wait(read, deadline)?,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// Moves the fd to its connection's poller shard, once it has connected.
    pub(crate) fn rehome(&self) {
        self.pd.rehome();
    }

    /// Whether the poller has seen the fd's read side hang up (it stays so).
    pub(crate) fn read_hung_up(&self) -> bool {
        self.pd.read_hung_up()
    }

    /// Wakes a call of this direction that waits in `io_until`, to read its deadline again.
    pub(crate) fn kick(&self, read: bool) {
        self.pd.kick(read);
    }
}

impl<T: AsRawFd> Drop for Pollable<T> {
    fn drop(&mut self) {
        if self.io.is_some() {
            self.pd.close();
        }
    }
}

impl<T: AsRawFd> AsRawFd for Pollable<T> {
    fn as_raw_fd(&self) -> RawFd {
        self.get_ref().as_raw_fd()
    }
}

impl<T: AsRawFd + std::fmt::Debug> std::fmt::Debug for Pollable<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Pollable").field(self.get_ref()).finish()
    }
}

/// Sets O_NONBLOCK on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    set_o_nonblock(fd, true)
}

/// Sets or clears O_NONBLOCK on `fd`.
pub(crate) fn set_o_nonblock(fd: RawFd, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on a caller-owned fd; no memory is passed.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        let want = if on {
            flags | libc::O_NONBLOCK
        } else {
            flags & !libc::O_NONBLOCK
        };
        if flags < 0 || libc::fcntl(fd, libc::F_SETFL, want) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
