//! Tests of `gort::ffi` against real C code. This library holds the Rust declarations of the C
//! side (`csrc/`, compiled by `build.rs` with the `cc` crate) and the helpers the integration
//! tests share; the tests are in `tests/`, the child-process scenarios in `src/bin/ffi_child.rs`,
//! and the tour's FFI example in `examples/ffi.rs`.

use std::ffi::c_void;

/// `void cb(void *arg, int64_t v)`.
pub type CbI64 = extern "C" fn(arg: *mut c_void, v: i64);
/// `int64_t cb(void *arg, int64_t x)`.
pub type CbRet = extern "C" fn(arg: *mut c_void, x: i64) -> i64;
/// `void cb(void *arg)`.
pub type CbVoid = extern "C" fn(arg: *mut c_void);

// The C side; csrc/fft.h documents each function.
unsafe extern "C" {
    /// A C function with a 1 MiB local array (compiled with `-fstack-clash-protection`). Returns
    /// the sum over its 256 pages of `(seed + page) mod 256`; see [`big_frame_expected`].
    pub fn fft_big_frame(seed: i64) -> i64;
    /// `usleep(us)`; returns 0.
    pub fn fft_sleep_us(us: u32) -> i32;
    /// Creates `nthreads` pthreads; thread `t` calls `cb(arg, t * iters + i)` for `i` in
    /// `0..iters`, then exits; joins them all. Returns 0 or the first pthread error; adds the
    /// number of callbacks that returned to `*done`.
    pub fn fft_threads_callback(
        nthreads: i32,
        iters: i64,
        cb: CbI64,
        arg: *mut c_void,
        done: *mut i64,
    ) -> i32;
    /// Calls `cb(arg, x)` and returns `2 * result + 1`.
    pub fn fft_call_back(cb: CbRet, arg: *mut c_void, x: i64) -> i64;
    /// Runs `cb(arg, x)` on a new pthread, joins it, stores the result in `*out`. Returns 0 or
    /// the pthread error.
    pub fn fft_on_pthread(cb: CbRet, arg: *mut c_void, x: i64, out: *mut i64) -> i32;
    /// Keeps `seed + 0..5` in rbx, rbp, r12–r15, `mxcsr` in MXCSR and `x87cw` in the x87 control
    /// word across `cb(arg)`; returns the mask of what changed (bits 0–5 rbx, rbp, r12–r15;
    /// bit 6 MXCSR control bits; bit 7 x87 CW). Assembly: csrc/regs.S.
    pub fn fft_regs_across(seed: u64, mxcsr: u32, x87cw: u32, cb: CbVoid, arg: *mut c_void) -> u64;
    /// `rounds` calls of [`fft_regs_across`] (seeds `seed + round`) on one new pthread; the OR of
    /// the masks, or `1 << 63 | errno` if the thread could not be created or joined.
    pub fn fft_regs_on_pthread(
        seed: u64,
        mxcsr: u32,
        x87cw: u32,
        cb: CbVoid,
        arg: *mut c_void,
        rounds: i32,
    ) -> u64;
}

/// What [`fft_big_frame`] returns for `seed`.
pub fn big_frame_expected(seed: i64) -> i64 {
    (0..256i64).map(|p| (seed + p).rem_euclid(256)).sum()
}

/// A non-default MXCSR for the register tests: round toward zero (RC = 11) and flush-to-zero,
/// all exceptions masked.
pub const ODD_MXCSR: u32 = 0x1F80 | (3 << 13) | 0x8000;
/// A non-default x87 control word: round toward zero, double precision, exceptions masked.
pub const ODD_X87CW: u32 = 0x0C00 | 0x0200 | 0x007F;

pub mod harness {
    //! Time bounds for tests and child processes.

    use std::io::Read;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Command, ExitStatus, Stdio};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    /// Runs `f` on a plain thread and fails the test if it takes longer than `secs` seconds: a
    /// hang fails instead of stalling CI (as gort/tests/common `bounded`).
    pub fn bounded<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
            let _ = tx.send(r);
        });
        match rx.recv_timeout(Duration::from_secs(secs)) {
            Ok(Ok(r)) => r,
            Ok(Err(p)) => std::panic::resume_unwind(p),
            Err(_) => panic!("test did not finish within {secs} s"),
        }
    }

    /// What a child process did.
    pub struct Output {
        pub what: String,
        pub status: ExitStatus,
        pub stdout: String,
        pub stderr: String,
    }

    impl std::fmt::Display for Output {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(
                f,
                "`{}` ended with {}\n--- stdout ---\n{}--- stderr ---\n{}--------------",
                self.what, self.status, self.stdout, self.stderr
            )
        }
    }

    impl Output {
        pub fn assert_success(&self) -> &Self {
            assert!(self.status.success(), "want exit status 0: {self}");
            self
        }

        pub fn assert_signal(&self, sig: i32) -> &Self {
            assert_eq!(self.status.signal(), Some(sig), "want signal {sig}: {self}");
            self
        }

        pub fn assert_stdout_has(&self, needle: &str) -> &Self {
            assert!(
                self.stdout.contains(needle),
                "want {needle:?} on stdout: {self}"
            );
            self
        }

        pub fn assert_stderr_has(&self, needle: &str) -> &Self {
            assert!(
                self.stderr.contains(needle),
                "want {needle:?} on stderr: {self}"
            );
            self
        }

        pub fn assert_stdout_lacks(&self, needle: &str) -> &Self {
            assert!(
                !self.stdout.contains(needle),
                "want no {needle:?} on stdout: {self}"
            );
            self
        }
    }

    /// Runs `cmd` with no stdin and no core dumps, capturing its output; kills it and fails the
    /// test if it runs longer than `timeout`.
    pub fn run_child(mut cmd: Command, timeout: Duration) -> Output {
        let what = format!("{cmd:?}");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("RUST_BACKTRACE", "0")
            .env_remove("GOMAXPROCS")
            .env_remove("GORT_STACK_SIZE")
            .env_remove("GORT_DEBUG");
        // SAFETY: the closure runs in the forked child before exec and only calls setrlimit,
        // which is async-signal-safe.
        unsafe {
            use std::os::unix::process::CommandExt;
            cmd.pre_exec(|| {
                // Aborting scenarios must not leave core files behind.
                let none = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::setrlimit(libc::RLIMIT_CORE, &none);
                Ok(())
            });
        }
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let out = drain(child.stdout.take().expect("piped stdout"));
        let err = drain(child.stderr.take().expect("piped stderr"));
        let start = Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                break st;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                let text = |h: JoinHandle<Vec<u8>>| {
                    String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
                };
                panic!(
                    "{what} did not finish within {timeout:?}; killed\n--- stdout ---\n{}--- stderr ---\n{}",
                    text(out),
                    text(err)
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let text = |h: JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        Output {
            what,
            status,
            stdout: text(out),
            stderr: text(err),
        }
    }

    /// Reads a pipe to the end on its own thread (a chatty child never blocks on a full pipe).
    fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    }
}
