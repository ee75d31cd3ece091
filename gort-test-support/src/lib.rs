//! Helpers shared by the integration tests of `gort` (`gort/tests/`) and `gort-ffi-tests`
//! (`gort-ffi-tests/tests/`), so that each is written once. Not published; the crates that use it
//! list it under `[dev-dependencies]`.
//!
//! - Time bounds: [`bounded`] runs a closure on a thread and fails the test if it hangs;
//!   [`go_test`] does so with the closure as a goroutine.
//! - Global scheduler state: [`serial`] serialises the tests of one test binary that change or
//!   depend on process-wide state; [`with_procs`] pins the processor count for one test (with
//!   [`EPOCH`] and [`progress`] for tests that leave spinning goroutines behind or want a better
//!   time-out message); [`serial_go_test`] is [`go_test`] under [`serial`].
//! - Small utilities: [`eventually`], [`panic_message`], [`scaled`], [`gettid`], [`rss_kib`],
//!   [`cpu_time`], [`Tracked`] (a value that counts its drops) and [`Chan`] (a channel for the
//!   `sync` tests that does not depend on gort's own primitives).
//! - Workloads more than one test file runs: [`yielders`], [`perpetuum_mobile`] (Go's spawn
//!   chain), the select fairness bound [`fair`], and [`concurrent_writes_stay_whole`] (stream
//!   sockets' whole, exclusive writes).
//! - Child processes: [`run_child`] / [`run_limited`] spawn a command with no stdin, no core
//!   dumps and the runtime's environment variables cleared, drain its pipes ([`drain`]), wait for
//!   it with a time bound ([`wait_bounded`]) and return its [`Output`].
//! - Sibling crates: [`build_package`] runs `cargo build -p <package>` into the running test
//!   binary's own target directory and profile ([`profile_dir`], [`profile`]), for tests that run
//!   another crate's binaries or link its library.
//! - Emulation: [`emulated`] says whether the tests run under an emulator (.ci/aarch64.sh runs
//!   the aarch64 build under qemu-user), where tests that measure time return early
//!   ([`skip_if_emulated`]) and scale tests shrink; child
//!   processes then run under the same emulator and sibling crates build for the same target.
#![warn(missing_docs)]

mod load;
mod net;
pub use load::{Burners, burn_cpus};
pub use net::concurrent_writes_stay_whole;

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---- time bounds and global scheduler state ----

/// Runs `f` on a plain thread and fails the test if it takes longer than `secs` seconds: a hang
/// fails instead of stalling CI. A panic in `f` is resumed on the caller's thread with its
/// original payload.
pub fn bounded<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = mpsc::channel();
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

/// Runs `f` as a goroutine (`gort::run`), failing the test if it takes longer than `secs`
/// seconds. It does not change the processor count and is not serialised.
pub fn go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded(secs, move || gort::run(f))
}

/// Serialises the tests of one test binary that change or depend on global scheduler state
/// (`set_procs`, idle processor counts, extra Ms, latency bounds): the harness runs tests in
/// parallel, and they share one runtime. One lock per process; a test that panicked while
/// holding it does not poison it for the others. Not reentrant: do not call [`with_procs`] or
/// [`serial_go_test`] while holding the guard.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`go_test`], serialised with the binary's other [`serial`] tests.
pub fn serial_go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = serial();
    go_test(secs, f)
}

/// Bumped when a [`with_procs`] test ends (passed or failed): goroutines that spin can watch it
/// and stop, so a test that failed on its time bound leaves no hog behind for the next one.
pub static EPOCH: AtomicUsize = AtomicUsize::new(0);

/// What the running [`with_procs`] test last reported; shown when it fails on its time bound.
static PROGRESS: Mutex<String> = Mutex::new(String::new());

/// Records how far the running [`with_procs`] test got (for its time-out message).
pub fn progress(s: impl Into<String>) {
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = s.into();
}

/// Sets the number of processors to `procs` and runs `f` as a goroutine, serialised with the
/// binary's other [`serial`] tests (the processor count is process-wide), failing the test if it
/// takes longer than `secs` seconds (with the last [`progress`] in the message). A goroutine's
/// panic is raised again on the test's own thread, with its message: the original message went to
/// whichever test's output capture the goroutine's thread inherited.
pub fn with_procs<R: Send + 'static>(
    procs: usize,
    secs: u64,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let _serial = serial();
    struct EndEpoch;
    impl Drop for EndEpoch {
        fn drop(&mut self) {
            EPOCH.fetch_add(1, Ordering::SeqCst);
        }
    }
    let _end = EndEpoch;
    progress("");
    gort::set_procs(procs);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| gort::run(f)));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(Ok(r)) => r,
        Ok(Err(p)) => panic!("{}", panic_message(&*p)),
        Err(_) => panic!(
            "test did not finish within {secs} s at procs={procs}; last progress: {}",
            PROGRESS.lock().unwrap_or_else(|e| e.into_inner())
        ),
    }
}

// ---- small utilities ----

/// Polls `cond` every millisecond (sleeping with `gort::sleep`, as the caller: goroutine or
/// thread) for up to 5 s; fails the test with `what` if it never holds.
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        gort::sleep(Duration::from_millis(1));
    }
}

/// Polls `gort::runtime::goroutines_by_state()` every millisecond until at least `n` goroutines
/// are in `state` (`"chan receive"`, `"select"`, `"sleep"`, ...); fails after 10 s, printing
/// the counts. The counts are process-wide: a test that relies on them runs alone (`serial`)
/// or waits for more goroutines than any other test could park in that state.
pub fn wait_for_state(state: &str, n: usize) {
    let count = || {
        gort::runtime::goroutines_by_state()
            .get(state)
            .copied()
            .unwrap_or(0)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while count() < n {
        assert!(
            Instant::now() < deadline,
            "fewer than {n} goroutines in {state:?} after 10 s: {:?}",
            gort::runtime::goroutines_by_state()
        );
        gort::sleep(Duration::from_millis(1));
    }
}

/// The text of a panic payload (a `String` or `&str`), or a placeholder for other payloads.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(a panic payload that is not a string)".into())
}

/// `release` in release builds, `debug` in debug builds (as Go's tests scale iteration counts
/// down with `testing.Short()`).
pub fn scaled(release: usize, debug: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

/// Whether `count` out of `trials` is within 47–53 %: the fairness bound of the select tests
/// (Go's TestSelectFairness, with 100,000 trials) for one of two always-ready cases.
pub fn fair(count: usize, trials: usize) -> bool {
    let pct = count as f64 * 100.0 / trials as f64;
    (47.0..=53.0).contains(&pct)
}

/// Runs `n` goroutines that yield 1000 times each and joins them; returns how long that took.
/// With one processor, a measure of whether the caller's processor is free for others.
pub fn yielders(n: usize) -> Duration {
    let t = Instant::now();
    let workers: Vec<_> = (0..n)
        .map(|_| {
            gort::spawn(|| {
                for _ in 0..1000 {
                    gort::yield_now();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    t.elapsed()
}

/// Go's `perpetuumMobile` (runtime/proc_test.go): each goroutine of the chain does a
/// non-blocking receive on `stop` and, if nothing is there and `stopped()` is false, starts its
/// successor. The chain ends when `stop` has a value (or is closed) or `stopped()` holds.
pub fn perpetuum_mobile<T, S>(stop: gort::Receiver<T>, stopped: S)
where
    T: Send + 'static,
    S: Fn() -> bool + Send + 'static,
{
    gort::select! {
        recv(stop) -> _ => {},
        default => {
            if !stopped() {
                gort::go(move || perpetuum_mobile(stop, stopped));
            }
        }
    }
}

/// The kernel id of the calling thread (`gettid(2)`).
pub fn gettid() -> i64 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) }
}

/// Resident set size of this process in KiB (`VmRSS` in `/proc/self/status`).
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Spins for `d` without calling the runtime (a goroutine doing this is a hog to the scheduler).
pub fn spin_for(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Runs `wait`, which should take `d`, on a new plain thread `n` times at one processor, and
/// fails unless three quarters of the waits end within 1 ms of `d` in one of three rounds (a
/// busy machine can spoil a round; `what` names the waits in the message, with the median and
/// the 75th percentile of the lateness). Skips under emulation.
pub fn plain_thread_waits_on_time(
    what: &'static str,
    n: usize,
    d: Duration,
    wait: impl Fn() + Send + 'static,
) {
    if skip_if_emulated("it measures time") {
        return;
    }
    with_procs(1, 60, move || {
        gort::blocking(move || {
            std::thread::spawn(move || {
                let mut rounds = Vec::new();
                for _ in 0..3 {
                    let mut late: Vec<Duration> = (0..n)
                        .map(|_| {
                            let t = Instant::now();
                            wait();
                            t.elapsed().saturating_sub(d)
                        })
                        .collect();
                    late.sort();
                    let (p50, p75) = (late[n / 2], late[n * 3 / 4]);
                    if p75 < Duration::from_millis(1) {
                        return;
                    }
                    rounds.push(format!("p75 {p75:?}, median {p50:?}"));
                }
                panic!("3/4 of {what} were more than 1 ms late, in every round: {rounds:?}");
            })
            .join()
            .unwrap()
        })
    });
}

/// CPU time of this process so far (user + system).
pub fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct we pass.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// A value that counts its drops, for checking that a channel or select drops each value once.
#[derive(Debug)]
pub struct Tracked {
    /// Which value this is.
    pub id: usize,
    /// Incremented when this value is dropped.
    pub drops: Arc<AtomicUsize>,
}

impl Tracked {
    /// Value `id`, counting its drop in `drops`.
    pub fn new(id: usize, drops: &Arc<AtomicUsize>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

/// A stand-in for Go's channels in the `sync` tests that does not depend on the primitives under
/// test: an unbounded multi-producer channel (std's mpsc), received inside `gort::blocking` so
/// that a goroutine waiting on it hands its processor away. Any goroutine or thread may send or
/// receive.
pub struct Chan<T> {
    tx: Mutex<mpsc::Sender<T>>,
    rx: Mutex<mpsc::Receiver<T>>,
}

impl<T: Send> Default for Chan<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Send> Chan<T> {
    /// An empty channel.
    pub fn new() -> Chan<T> {
        let (tx, rx) = mpsc::channel();
        Chan {
            tx: Mutex::new(tx),
            rx: Mutex::new(rx),
        }
    }

    /// Sends `v` (never blocks).
    pub fn send(&self, v: T) {
        self.tx.lock().unwrap().send(v).unwrap();
    }

    /// Blocks (handing the processor away) until a value arrives.
    pub fn recv(&self) -> T {
        gort::blocking(|| self.rx.lock().unwrap().recv().unwrap())
    }

    /// Go's `select { case v := <-c: ...; default: }`.
    pub fn try_recv(&self) -> Option<T> {
        self.rx.lock().unwrap().try_recv().ok()
    }

    /// [`Chan::recv`] for at most `d`; `None` if nothing arrived.
    pub fn recv_timeout(&self, d: Duration) -> Option<T> {
        gort::blocking(|| self.rx.lock().unwrap().recv_timeout(d).ok())
    }
}

// ---- child processes ----

/// The runtime's environment variables, cleared in every child (unless the command sets them
/// itself), so the caller's environment cannot change a result.
pub const RUNTIME_VARS: &[&str] = &[
    "GOMAXPROCS",
    "GORT_STACK_SIZE",
    "GORT_STACK_GUARD",
    "GORT_DEBUG",
    "GORT_TRACE",
    "GORT_TRACEBACK",
];

/// What a child process did.
#[derive(Debug)]
pub struct Output {
    /// The command as a shell line: `(ulimit -v <KiB>)`, the variables the caller set, the
    /// program's file name and its arguments.
    pub what: String,
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout (lossily decoded).
    pub stdout: String,
    /// Its stderr (lossily decoded).
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
    /// Fails the test unless the child exited with status 0.
    pub fn assert_success(&self) -> &Self {
        assert!(self.status.success(), "want exit status 0: {self}");
        self
    }

    /// Fails the test unless the child exited with status `code`.
    pub fn assert_exit(&self, code: i32) -> &Self {
        assert_eq!(
            self.status.code(),
            Some(code),
            "want exit status {code}: {self}"
        );
        self
    }

    /// Fails the test unless the child was killed by signal `sig`.
    pub fn assert_signal(&self, sig: i32) -> &Self {
        assert_eq!(self.status.signal(), Some(sig), "want signal {sig}: {self}");
        self
    }

    /// Fails the test unless stdout contains `needle`.
    pub fn assert_stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "want {needle:?} on stdout: {self}"
        );
        self
    }

    /// Fails the test if stdout contains `needle`.
    pub fn assert_stdout_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stdout.contains(needle),
            "want no {needle:?} on stdout: {self}"
        );
        self
    }

    /// Fails the test unless stderr contains `needle`.
    pub fn assert_stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "want {needle:?} on stderr: {self}"
        );
        self
    }

    /// Fails the test if stderr contains `needle`.
    pub fn assert_stderr_lacks(&self, needle: &str) -> &Self {
        assert!(
            !self.stderr.contains(needle),
            "want no {needle:?} on stderr: {self}"
        );
        self
    }

    /// The value of the first `key=value` line on stdout; fails the test if there is none.
    pub fn stdout_value(&self, key: &str) -> &str {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or_else(|| panic!("want a `{key}=` line on stdout: {self}"))
    }

    /// The lines of stderr that start with `prefix`.
    pub fn stderr_lines(&self, prefix: &str) -> Vec<&str> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with(prefix))
            .collect()
    }
}

/// Whether the tests run under an emulator (`GORT_TEST_EMULATOR` names it, e.g. `qemu-aarch64`;
/// .ci/aarch64.sh sets it). Everything is many times slower there and the emulator's own threads
/// share the CPUs, so a test that measures time means nothing there: such tests start with
/// [`skip_if_emulated`]. Scale tests use it to shrink.
pub fn emulated() -> bool {
    std::env::var_os("GORT_TEST_EMULATOR").is_some_and(|v| !v.is_empty())
}

/// For a test that means nothing under an emulator (it measures time, say): true there, after
/// printing `why` on stderr, and the caller returns at once.
pub fn skip_if_emulated(why: &str) -> bool {
    let on = emulated();
    if on {
        eprintln!("(emulated: skipped, {why})");
    }
    on
}

/// `cmd` as it must run here: under the emulator named by `GORT_TEST_EMULATOR` when there is one
/// (a child built for the emulated target cannot run natively).
fn under_emulator(cmd: Command) -> Command {
    let Some(emu) = std::env::var_os("GORT_TEST_EMULATOR").filter(|v| !v.is_empty()) else {
        return cmd;
    };
    let mut c = Command::new(emu);
    c.arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
}

/// [`run_limited`] without an address-space limit.
pub fn run_child(cmd: Command, timeout: Duration) -> Output {
    run_limited(cmd, timeout, None)
}

/// Runs `cmd` and captures its output: no stdin, no core dumps (`RLIMIT_CORE` 0), the child's
/// address space limited to `address_space` bytes if given (`ulimit -v`), the [`RUNTIME_VARS`]
/// cleared and `RUST_BACKTRACE=0` (each unless `cmd` sets it). Kills the child and fails the test
/// (with what it printed) if it runs longer than `timeout`. A pipe that a process started by the
/// child keeps open is given up on 5 s after the child ended.
pub fn run_limited(cmd: Command, timeout: Duration, address_space: Option<u64>) -> Output {
    let what = describe(&cmd, address_space);
    let mut cmd = under_emulator(cmd);
    let set_by_caller = |var: &str| cmd.get_envs().any(|(k, _)| k == OsStr::new(var));
    let removed: Vec<&str> = RUNTIME_VARS
        .iter()
        .copied()
        .filter(|v| !set_by_caller(v))
        .collect();
    let backtrace = !set_by_caller("RUST_BACKTRACE");
    for v in removed {
        cmd.env_remove(v);
    }
    if backtrace {
        cmd.env("RUST_BACKTRACE", "0");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only calls setrlimit, which
    // is async-signal-safe; it touches no locks or allocations of the parent.
    unsafe {
        cmd.pre_exec(move || {
            // Aborting scenarios must not leave core files behind.
            let none = libc::rlimit {
                rlim_cur: 0,
                rlim_max: 0,
            };
            libc::setrlimit(libc::RLIMIT_CORE, &none);
            if let Some(bytes) = address_space {
                let lim = libc::rlimit {
                    rlim_cur: bytes,
                    rlim_max: bytes,
                };
                if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {:?}: {e}", cmd.get_program()));
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let status = wait_bounded(&mut child, timeout);
    // The pipes reach end-of-file as soon as the child has ended, unless a process it started
    // still holds them: give up on those after a grace period rather than hang.
    let grace = Instant::now() + Duration::from_secs(5);
    let text = |h: JoinHandle<Vec<u8>>| {
        while !h.is_finished() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !h.is_finished() {
            return "(pipe still open: a process the child started holds it)\n".to_string();
        }
        String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
    };
    let (stdout, stderr) = (text(stdout), text(stderr));
    let Some(status) = status else {
        panic!(
            "`{what}` did not finish within {timeout:?}; killed\n--- stdout ---\n{stdout}--- stderr ---\n{stderr}"
        );
    };
    let out = Output {
        what,
        status,
        stdout,
        stderr,
    };
    if status.code().is_none() && status.signal().is_none() {
        panic!("child neither exited nor was signalled: {out}");
    }
    out
}

/// `cmd` as a shell line for messages: the address-space limit, the variables it sets, the
/// program's file name and the arguments.
fn describe(cmd: &Command, address_space: Option<u64>) -> String {
    let mut words = Vec::new();
    if let Some(bytes) = address_space {
        words.push(format!("(ulimit -v {})", bytes >> 10));
    }
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            words.push(format!("{}={}", k.to_string_lossy(), v.to_string_lossy()));
        }
    }
    let program = Path::new(cmd.get_program());
    let name = program.file_name().unwrap_or(program.as_os_str());
    words.push(name.to_string_lossy().into_owned());
    words.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
    words.join(" ")
}

/// Reads a pipe to the end on its own thread (so a chatty child never blocks on a full pipe);
/// join the handle for the bytes.
pub fn drain(mut r: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Waits for `child` (polling `try_wait` every 10 ms) for at most `timeout`; then kills and reaps
/// it and returns `None`.
pub fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- building sibling crates ----

/// Which targets of a package [`build_package`] builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Artifacts {
    /// `--bins`: its binaries, into `target/<profile>/`.
    Bins,
    /// `--lib`: its library (e.g. the `staticlib` and `cdylib`), into `target/<profile>/`.
    Lib,
}

/// `target/<profile>`: the directory above the running test binary's `deps/`, where cargo puts
/// the binaries and libraries of that profile.
pub fn profile_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let exe = std::env::current_exe().expect("current_exe");
        // A test binary is target/<profile>/deps/<name>-<hash>.
        exe.parent()
            .and_then(Path::parent)
            .unwrap_or_else(|| panic!("unexpected test binary location {}", exe.display()))
            .to_path_buf()
    })
}

/// The name of the profile the running test binary was built with (`debug`, `release`, or a
/// custom profile): the file name of [`profile_dir`].
pub fn profile() -> &'static str {
    profile_dir()
        .file_name()
        .and_then(|n| n.to_str())
        .expect("profile directory name")
}

/// Runs `cargo build -p <package> --bins|--lib` for the workspace, in the running test binary's
/// profile and target directory, once per test process (a no-op when the artifacts are up to
/// date; running it every time keeps them from going stale after a change to gort), and returns
/// [`profile_dir`], where they are. `outputs` are file names that must exist there afterwards.
///
/// `CARGO_BIN_EXE_*` only names the binaries of the test's own package, hence this. If cargo fails
/// or cannot be run but every file in `outputs` already exists, it warns (on stderr) and carries
/// on with the existing files; otherwise it fails the test with cargo's output. Concurrent callers
/// wait for the first build.
pub fn build_package(package: &str, artifacts: Artifacts, outputs: &[&str]) -> &'static Path {
    static BUILT: Mutex<Vec<(String, Artifacts)>> = Mutex::new(Vec::new());
    let dir = profile_dir();
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.iter().any(|(p, a)| p == package && *a == artifacts) {
        return dir;
    }
    // target/<profile>, or target/<triple>/<profile> for a cross build (ci/aarch64.sh names
    // the triple in GORT_TEST_TARGET): build for the same target.
    let cross = std::env::var("GORT_TEST_TARGET")
        .ok()
        .filter(|t| !t.is_empty());
    let mut target_dir = dir.parent().expect("target/<profile> has a parent");
    if cross.is_some() {
        target_dir = target_dir.parent().expect("target/<triple> has a parent");
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .args(["-p", package])
        .arg(match artifacts {
            Artifacts::Bins => "--bins",
            Artifacts::Lib => "--lib",
        });
    if let Some(t) = &cross {
        cmd.args(["--target", t]);
    }
    match profile() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let present = || outputs.iter().all(|f| dir.join(f).exists());
    match cmd.output() {
        Ok(o) if o.status.success() => {}
        Ok(o) => {
            let log = String::from_utf8_lossy(&o.stderr);
            assert!(present(), "`{cmd:?}` failed ({}):\n{log}", o.status);
            eprintln!(
                "warning: `{cmd:?}` failed ({}); using the existing files:\n{log}",
                o.status
            );
        }
        Err(e) => {
            assert!(present(), "could not run `{cmd:?}`: {e}");
            eprintln!("warning: could not run `{cmd:?}` ({e}); using the existing files");
        }
    }
    for f in outputs {
        assert!(
            dir.join(f).exists(),
            "{} was not built",
            dir.join(f).display()
        );
    }
    built.push((package.to_string(), artifacts));
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("/bin/sh");
        cmd.args(["-c", script]);
        cmd
    }

    #[test]
    fn run_child_captures_output_and_keeps_variables_the_caller_sets() {
        let mut cmd = sh("echo \"${GOMAXPROCS-unset} $RUST_BACKTRACE\"; echo oops >&2; exit 3");
        cmd.env("GOMAXPROCS", "5");
        let out = run_child(cmd, Duration::from_secs(30));
        out.assert_exit(3)
            .assert_stdout_has("5 0\n")
            .assert_stderr_has("oops");
        assert!(out.what.starts_with("GOMAXPROCS=5 sh -c "), "{out}");
    }

    #[test]
    fn run_child_kills_a_child_that_outlives_its_timeout() {
        let err = std::panic::catch_unwind(|| {
            run_child(
                sh("echo started; exec sleep 10"),
                Duration::from_millis(300),
            )
        })
        .expect_err("the child should have been killed");
        let msg = panic_message(&*err);
        assert!(msg.contains("did not finish within"), "{msg}");
        assert!(msg.contains("--- stdout ---\nstarted\n"), "{msg}");
    }

    #[test]
    fn a_pipe_held_open_by_a_grandchild_does_not_hang_the_runner() {
        let out = run_child(sh("sleep 10 & echo started"), Duration::from_secs(30));
        out.assert_success().assert_stdout_has("pipe still open");
    }

    #[test]
    fn run_limited_limits_the_address_space() {
        let out = run_limited(sh("ulimit -v"), Duration::from_secs(30), Some(1 << 30));
        out.assert_success()
            .assert_stdout_has(&format!("{}\n", (1u64 << 30) >> 10));
        assert!(out.what.starts_with("(ulimit -v 1048576) sh"), "{out}");
    }

    #[test]
    fn stdout_value_and_stderr_lines() {
        let out = run_child(
            sh("echo a=1; echo b=2; echo 'x: one' >&2; echo 'x: two' >&2; echo y >&2"),
            Duration::from_secs(30),
        );
        assert_eq!(out.stdout_value("b"), "2");
        assert_eq!(out.stderr_lines("x: "), ["x: one", "x: two"]);
    }

    #[test]
    fn with_procs_sets_procs_and_raises_a_goroutine_panic_with_its_message() {
        assert_eq!(with_procs(3, 30, gort::procs), 3);
        let err = std::panic::catch_unwind(|| with_procs(1, 30, || panic!("boom {}", 7)))
            .expect_err("the panic should be raised again");
        assert_eq!(panic_message(&*err), "boom 7");
    }

    #[test]
    fn bounded_fails_a_hang_and_resumes_a_panic() {
        let err =
            std::panic::catch_unwind(|| bounded(1, || std::thread::sleep(Duration::from_secs(5))))
                .expect_err("should time out");
        assert!(panic_message(&*err).contains("did not finish within 1 s"));
        let err = std::panic::catch_unwind(|| bounded(5, || std::panic::panic_any(42u8)))
            .expect_err("should panic");
        assert_eq!(err.downcast_ref::<u8>(), Some(&42));
    }
}
