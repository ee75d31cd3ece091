//! Child processes with std::process's shapes (Go's os/exec), whose waits park the goroutine.
//!
//! [`Command`] wraps `std::process::Command`: the builder is std's, and `spawn` runs std's
//! `spawn` (fork/exec, or posix_spawn) as a hand-off call. What differs is everything that
//! waits afterwards:
//! - [`Child::wait`] parks the goroutine on a pidfd (Linux 5.3+) registered with the runtime's
//!   poller, which reports the child's exit; no thread blocks in `waitpid`. Where pidfds are
//!   missing (older kernels, some emulators), it waits in a hand-off call instead.
//! - The child's pipes ([`ChildStdin`], [`ChildStdout`], [`ChildStderr`]) are non-blocking and
//!   on the poller, like gort's sockets: reads and writes park the goroutine.
//! - [`Command::output`] reads stderr in a goroutine of its own while it reads stdout, as std
//!   reads both with poll(2).
//!
//! Go's os/exec waits in a blocking `wait4` on a thread of its own (a goroutine in a syscall);
//! Go 1.23 added pidfds, for signalling only. gort uses the pidfd to wait, so a thousand
//! children waited on by a thousand goroutines cost no threads.
//!
//! ```
//! let out = gort::process::Command::new("echo").arg("hello").output().unwrap();
//! assert!(out.status.success());
//! assert_eq!(out.stdout, b"hello\n");
//! ```

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::process;

pub use std::process::{ExitStatus, Output, Stdio};

use crate::io::Pollable;
use crate::rt::blocking;

/// A process builder (std::process::Command); see the module doc for what differs.
pub struct Command {
    inner: process::Command,
    /// Whether stdin, stdout and stderr were set: `output` captures the unset outputs and gives
    /// the child a null stdin, as std's does.
    set: [bool; 3],
    /// The std command may have streams set that `set` does not know of (it came from std, or
    /// was lent out by `as_std_mut`): `output` then leaves the defaults to std.
    foreign: bool,
    /// An `output` has set the unset streams to explicit values (std has no way back to "unset"),
    /// which std's own `output` would take for the caller's: `output` keeps filling in its
    /// defaults itself from then on.
    streams_written: bool,
}

impl Command {
    /// A command to run `program`, with std's defaults (see std::process::Command::new).
    pub fn new<S: AsRef<OsStr>>(program: S) -> Command {
        Command {
            inner: process::Command::new(program),
            set: [false; 3],
            foreign: false,
            streams_written: false,
        }
    }

    /// Adds an argument.
    pub fn arg<S: AsRef<OsStr>>(&mut self, arg: S) -> &mut Command {
        self.inner.arg(arg);
        self
    }

    /// Adds arguments.
    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&mut self, args: I) -> &mut Command {
        self.inner.args(args);
        self
    }

    /// Sets an environment variable for the child.
    pub fn env<K: AsRef<OsStr>, V: AsRef<OsStr>>(&mut self, key: K, val: V) -> &mut Command {
        self.inner.env(key, val);
        self
    }

    /// Sets environment variables for the child.
    pub fn envs<I, K, V>(&mut self, vars: I) -> &mut Command
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        self.inner.envs(vars);
        self
    }

    /// Removes an environment variable from the child's environment.
    pub fn env_remove<K: AsRef<OsStr>>(&mut self, key: K) -> &mut Command {
        self.inner.env_remove(key);
        self
    }

    /// Starts the child with an empty environment.
    pub fn env_clear(&mut self) -> &mut Command {
        self.inner.env_clear();
        self
    }

    /// The child's working directory.
    pub fn current_dir<P: AsRef<Path>>(&mut self, dir: P) -> &mut Command {
        self.inner.current_dir(dir);
        self
    }

    /// The child's standard input (default for `spawn` and `status`: inherited; for
    /// `output`: null).
    pub fn stdin<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdin(cfg);
        self.set[0] = true;
        self
    }

    /// The child's standard output (default for `spawn` and `status`: inherited; for `output`:
    /// captured).
    pub fn stdout<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stdout(cfg);
        self.set[1] = true;
        self
    }

    /// The child's standard error; as `stdout`.
    pub fn stderr<T: Into<Stdio>>(&mut self, cfg: T) -> &mut Command {
        self.inner.stderr(cfg);
        self.set[2] = true;
        self
    }

    /// The program to run (std's `get_program`).
    pub fn get_program(&self) -> &OsStr {
        self.inner.get_program()
    }

    /// The arguments, without the program (std's `get_args`).
    pub fn get_args(&self) -> process::CommandArgs<'_> {
        self.inner.get_args()
    }

    /// The environment changes set on this command (std's `get_envs`).
    pub fn get_envs(&self) -> process::CommandEnvs<'_> {
        self.inner.get_envs()
    }

    /// The working directory set on this command, if any (std's `get_current_dir`).
    pub fn get_current_dir(&self) -> Option<&Path> {
        self.inner.get_current_dir()
    }

    /// The std command, for settings this type does not mirror (`CommandExt`: `uid`,
    /// `process_group`, `pre_exec`, ...).
    ///
    /// Set the standard streams with this type's `stdin`, `stdout` and `stderr`. A stream set
    /// on the std command instead is kept by `spawn`, `status` and `output`, unless an `output`
    /// has already run on this command: that one had to set the streams it fills in, and from
    /// then on `output` cannot tell them from yours, replaces them, and leaves them inherited
    /// for a later `spawn`.
    pub fn as_std_mut(&mut self) -> &mut process::Command {
        self.foreign |= !self.streams_written;
        &mut self.inner
    }

    /// Starts the child (a hand-off call). Its piped handles are on the poller.
    pub fn spawn(&mut self) -> io::Result<Child> {
        let child = blocking(|| self.inner.spawn())?;
        Child::new(child)
    }

    /// Runs the child to completion, capturing its output (stdout and stderr, unless set
    /// otherwise; stdin is null unless set).
    ///
    /// A command made from a std one, or changed through `as_std_mut`, may have streams set
    /// that this type cannot see; its output is std's `output`, run as a hand-off call (the
    /// wait then holds a thread, not just the goroutine).
    pub fn output(&mut self) -> io::Result<Output> {
        if self.foreign {
            return blocking(|| self.inner.output());
        }
        if !self.set[0] {
            self.inner.stdin(Stdio::null());
        }
        if !self.set[1] {
            self.inner.stdout(Stdio::piped());
        }
        if !self.set[2] {
            self.inner.stderr(Stdio::piped());
        }
        let r = self.spawn().and_then(Child::wait_with_output);
        // The unset streams go back to std's default for the next spawn.
        self.streams_written = true;
        if !self.set[0] {
            self.inner.stdin(Stdio::inherit());
        }
        if !self.set[1] {
            self.inner.stdout(Stdio::inherit());
        }
        if !self.set[2] {
            self.inner.stderr(Stdio::inherit());
        }
        r
    }

    /// Runs the child to completion with inherited standard streams (unless set) and returns
    /// its exit status.
    pub fn status(&mut self) -> io::Result<ExitStatus> {
        self.spawn()?.wait()
    }
}

impl From<process::Command> for Command {
    fn from(inner: process::Command) -> Command {
        Command {
            inner,
            set: [false; 3],
            foreign: true,
            streams_written: false,
        }
    }
}

impl fmt::Debug for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// A running or exited child process (std::process::Child).
pub struct Child {
    inner: process::Child,
    /// The child's pidfd on the poller; None where pidfds are unavailable.
    pidfd: Option<Pollable<OwnedFd>>,
    /// The child's standard input, if piped.
    pub stdin: Option<ChildStdin>,
    /// The child's standard output, if piped.
    pub stdout: Option<ChildStdout>,
    /// The child's standard error, if piped.
    pub stderr: Option<ChildStderr>,
}

impl Child {
    /// Puts the child's pipes and pidfd on the poller; if that fails, kills and reaps the
    /// child before returning the error, so that no process is left behind.
    fn new(mut inner: process::Child) -> io::Result<Child> {
        let registered = (|| -> io::Result<_> {
            Ok((
                inner.stdin.take().map(ChildStdin::new).transpose()?,
                inner.stdout.take().map(ChildStdout::new).transpose()?,
                inner.stderr.take().map(ChildStderr::new).transpose()?,
                pidfd_open(inner.id()).map(Pollable::new).transpose()?,
            ))
        })();
        match registered {
            Ok((stdin, stdout, stderr, pidfd)) => Ok(Child {
                inner,
                pidfd,
                stdin,
                stdout,
                stderr,
            }),
            Err(e) => {
                let _ = inner.kill();
                let _ = blocking(|| inner.wait());
                Err(e)
            }
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.inner.id()
    }

    /// Sends SIGKILL to the child (an error only if it could not be sent; a child that already
    /// exited is not an error, as in std).
    pub fn kill(&mut self) -> io::Result<()> {
        self.inner.kill()
    }

    /// The exit status if the child has exited, without waiting.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.inner.try_wait()
    }

    /// Waits for the child to exit, parking the goroutine (see the module doc), and returns its
    /// status. Closes the child's stdin first, as std does, so a child reading it sees EOF.
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        let Some(pidfd) = &self.pidfd else {
            return blocking(|| self.inner.wait());
        };
        let inner = &mut self.inner;
        pidfd.read_with(|_| match inner.try_wait()? {
            Some(status) => Ok(status),
            None => Err(io::ErrorKind::WouldBlock.into()),
        })
    }

    /// Waits for the child, collecting its piped stdout and stderr (std's `wait_with_output`):
    /// stderr is read by a goroutine of its own meanwhile.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let err_reader = self.stderr.take().map(|mut e| {
            crate::goroutine::spawn_system(move || {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).map(|_| buf)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut o) = self.stdout.take() {
            o.read_to_end(&mut stdout)?;
        }
        let stderr = match err_reader {
            Some(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

impl fmt::Debug for Child {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Child").field("id", &self.id()).finish()
    }
}

/// `pidfd_open(2)`: a descriptor that polls readable once the process exits; None where the
/// kernel (or an emulator) has no pidfds.
fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    // SAFETY: a non-negative result is a new descriptor that we own.
    (fd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// The pipe types: a std pipe end, non-blocking and on the poller (held as a `File`, whose
/// shared references read and write).
macro_rules! pipe_type {
    ($(#[$doc:meta])* $name:ident, $std:ty) => {
        $(#[$doc])*
        pub struct $name {
            io: Pollable<File>,
        }

        impl $name {
            fn new(p: $std) -> io::Result<$name> {
                Ok($name {
                    io: Pollable::new(File::from(OwnedFd::from(p)))?,
                })
            }

            /// The pipe's descriptor, off the poller and still in non-blocking mode (as
            /// gort's sockets give theirs).
            pub fn into_fd(self) -> OwnedFd {
                self.io.into_inner().into()
            }
        }

        impl AsRawFd for $name {
            fn as_raw_fd(&self) -> RawFd {
                self.io.as_raw_fd()
            }
        }

        impl AsFd for $name {
            fn as_fd(&self) -> BorrowedFd<'_> {
                self.io.get_ref().as_fd()
            }
        }

        impl From<$name> for OwnedFd {
            /// As [`into_fd`]($name::into_fd): still in non-blocking mode.
            fn from(p: $name) -> OwnedFd {
                p.into_fd()
            }
        }

        impl From<$name> for Stdio {
            /// The pipe as another child's stream, as std's: `cmd.stdin(child.stdout.take()
            /// .unwrap())` pipes one child into the next. The descriptor goes back to blocking
            /// mode, which the other child expects (the mode belongs to the pipe, not to
            /// this handle).
            fn from(p: $name) -> Stdio {
                let fd = p.into_fd();
                // A pipe descriptor takes F_SETFL; were it refused, the child would see
                // `EAGAIN` on an empty pipe, as it would from any non-blocking stream.
                let _ = crate::io::set_o_nonblock(fd.as_raw_fd(), false);
                Stdio::from(fd)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("fd", &self.as_raw_fd())
                    .finish()
            }
        }
    };
}

pipe_type!(
    /// The writing end of a child's standard input; writes park the goroutine while the pipe
    /// is full. A write to a child that has closed its end is `BrokenPipe` in a Rust program,
    /// whose start-up ignores SIGPIPE. Where SIGPIPE keeps its default action (a C program
    /// hosting gort), that write raises SIGPIPE, as std's does: a pipe, unlike a socket, has no
    /// per-write way to refuse it. Such a host ignores SIGPIPE (`signal(SIGPIPE, SIG_IGN)`) to
    /// get the error instead.
    ChildStdin,
    process::ChildStdin
);
pipe_type!(
    /// The reading end of a child's standard output; reads park the goroutine until data (or
    /// EOF) arrives.
    ChildStdout,
    process::ChildStdout
);
pipe_type!(
    /// The reading end of a child's standard error; as [`ChildStdout`].
    ChildStderr,
    process::ChildStderr
);

impl Write for ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &ChildStdin {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_with(|mut p| p.write(buf))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for ChildStdout {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|mut p| p.read(buf))
    }
}

impl Read for ChildStderr {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.io.read_with(|mut p| p.read(buf))
    }
}
