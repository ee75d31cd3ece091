//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::time::Duration;

/// Runs `f` on a plain thread and fails the test if it takes longer than `secs` seconds: a hang
/// fails instead of stalling CI.
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

/// Resident set size of this process in KiB (VmRSS).
pub fn rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// Process CPU time (user + system).
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

/// Runs `f` as a goroutine, failing the test if it takes longer than `secs` seconds.
pub fn go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded(secs, move || gort::run(f))
}

/// Serialises the tests of one test binary that change or depend on global scheduler state
/// (`set_procs`, idle processor counts, latency bounds): the harness runs tests in parallel,
/// and they share one runtime.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bumped when a `with_procs` test ends (passed or failed): goroutines that spin can watch it
/// and stop, so a test that failed on its time bound leaves no hog behind for the next one.
pub static EPOCH: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// What the running `with_procs` test last reported; shown when it fails on its time bound.
static PROGRESS: std::sync::Mutex<String> = std::sync::Mutex::new(String::new());

/// Records how far the running test got (for its time-out message).
pub fn progress(s: impl Into<String>) {
    *PROGRESS.lock().unwrap_or_else(|e| e.into_inner()) = s.into();
}

/// The text of a panic payload.
pub fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(a panic payload that is not a string)".into())
}

/// Sets the number of processors to `procs` and runs `f` as a goroutine, serialised with the
/// binary's other `serial` tests, failing the test if it takes longer than `secs` seconds (with
/// the last `progress` in the message). A goroutine's panic is raised again on the test's own
/// thread: its message went to whichever test's output capture the goroutine's thread inherited.
pub fn with_procs<R: Send + 'static>(
    procs: usize,
    secs: u64,
    f: impl FnOnce() -> R + Send + 'static,
) -> R {
    let _serial = serial();
    struct EndEpoch;
    impl Drop for EndEpoch {
        fn drop(&mut self) {
            EPOCH.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    }
    let _end = EndEpoch;
    progress("");
    gort::set_procs(procs);
    let (tx, rx) = std::sync::mpsc::channel();
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

/// `go_test`, serialised with the binary's other `serial` tests.
pub fn serial_go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let _serial = serial();
    go_test(secs, f)
}

/// Polls `cond` every millisecond (sleeping as the caller: goroutine or thread) for up to 5 s.
pub fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for: {what}"
        );
        gort::sleep(Duration::from_millis(1));
    }
}

/// A value that counts its drops.
#[derive(Debug)]
pub struct Tracked {
    pub id: usize,
    pub drops: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Tracked {
    pub fn new(id: usize, drops: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Tracked {
        Tracked {
            id,
            drops: drops.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.drops.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}
