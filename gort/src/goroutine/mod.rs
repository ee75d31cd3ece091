//! The goroutine API: `go`, `spawn` + `JoinHandle`, `Builder`, `scope`, `run`, and the small
//! functions that act on the current goroutine (std::thread's shapes, Go's semantics: `go` is
//! Go's `go` statement (proc.go's newproc), `yield_now` runtime.Gosched, `lock_os_thread`
//! runtime.LockOSThread, `blocking` the entersyscall/exitsyscall pair around a blocking call).

use std::cell::UnsafeCell;
use std::fmt;
use std::future::{Future, IntoFuture};
use std::io;
use std::num::NonZeroU64;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::task::{Context, Poll, Waker};

use crate::rt::{self, G, WaitReason};

mod scope;

use scope::ScopeData;
pub use scope::{Scope, ScopedJoinHandle, scope};

/// A goroutine's id: unique within the process, never reused.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoroutineId(NonZeroU64);

impl GoroutineId {
    /// The id as a number (as Go's runtime prints it in tracebacks).
    pub fn as_u64(self) -> u64 {
        self.0.get()
    }

    fn from_raw(id: u64) -> GoroutineId {
        GoroutineId(NonZeroU64::new(id).expect("goroutine ids start at 1"))
    }
}

impl fmt::Debug for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GoroutineId({})", self.0)
    }
}

impl fmt::Display for GoroutineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Starts `f` as a new goroutine (Go's `go f()`). A panic in `f` is reported on stderr by the
/// panic hook and the program goes on.
///
/// ```
/// let (tx, rx) = gort::chan(0);
/// gort::go(move || tx.send("hello from a goroutine").unwrap());
/// assert_eq!(rx.recv(), Some("hello from a goroutine"));
/// ```
///
/// # Panics
/// If no guarded stack can be allocated (the message says why and what to do).
#[track_caller]
pub fn go<F: FnOnce() + Send + 'static>(f: F) {
    let body = move || {
        let _ = catch_unwind(AssertUnwindSafe(f));
    };
    if let Err(e) = rt::spawn(body, 0, None, Location::caller()) {
        panic!("{e}");
    }
}

impl crate::sync::WaitGroup {
    /// Starts `f` as a new goroutine counted by the group (Go 1.25's `WaitGroup.Go`): the count
    /// goes up by one now and down by one when `f` returns or panics (the panic is reported as
    /// `go`'s are, and `wait` still returns).
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicUsize, Ordering::SeqCst}};
    /// let wg = gort::sync::WaitGroup::new();
    /// let hits = Arc::new(AtomicUsize::new(0));
    /// for _ in 0..10 {
    ///     let hits = hits.clone();
    ///     wg.go(move || {
    ///         hits.fetch_add(1, SeqCst);
    ///     });
    /// }
    /// wg.wait();
    /// assert_eq!(hits.load(SeqCst), 10);
    /// ```
    ///
    /// # Panics
    /// As `go` does, with the count as it was before the call.
    #[track_caller]
    pub fn go<F: FnOnce() + Send + 'static>(&self, f: F) {
        self.add(1);
        let wg = self.clone();
        // Counted out last, as a scoped goroutine is: once `wait` returns, the goroutine's
        // locals are dropped and `num_goroutines` no longer counts it.
        let body = move || {
            let _ = run_to_end(f);
            wg.done();
        };
        if let Err(e) = rt::spawn(body, 0, None, Location::caller()) {
            self.done();
            panic!("{e}");
        }
    }
}

/// `f` as the body of a goroutine started by `go` (its panic, already reported by the hook,
/// ends the goroutine only), boxed for a start that may be tried again later.
pub(crate) fn body(f: impl FnOnce() + Send + 'static) -> Box<dyn FnOnce() + Send + 'static> {
    Box::new(move || {
        let _ = catch_unwind(AssertUnwindSafe(f));
    })
}

/// Starts a goroutine: `go!(move || ...)` is `gort::go(move || ...)`.
#[macro_export]
macro_rules! go {
    ($f:expr $(,)?) => {
        $crate::go($f)
    };
}

/// Shared between a goroutine and its JoinHandle.
struct Packet<T> {
    /// `RUNNING`; `DONE`; `AWAITED` (a `JoinFuture` left its waker in `waker`); otherwise the
    /// address of the G waiting in `join` (Gs are 64-byte aligned, so never 0, 1 or 2).
    state: AtomicUsize,
    /// The waker of the task awaiting this goroutine (`JoinHandle::into_future`).
    waker: std::sync::Mutex<Option<Waker>>,
    /// Written once by the goroutine before `state` becomes 1; read by the joiner after.
    result: UnsafeCell<Option<std::thread::Result<T>>>,
    /// For scoped goroutines: the scope that counts the panics nobody joined.
    scope: Option<Arc<ScopeData>>,
}

// SAFETY: `result` is handed over through `state` (release/acquire): written only before
// state = 1, read only after observing it. T crosses threads, hence T: Send.
unsafe impl<T: Send> Sync for Packet<T> {}

const RUNNING: usize = 0;
const DONE: usize = 1;
const AWAITED: usize = 2;

impl<T> Packet<T> {
    fn new(scope: Option<Arc<ScopeData>>) -> Arc<Packet<T>> {
        Arc::new(Packet {
            state: AtomicUsize::new(RUNNING),
            waker: std::sync::Mutex::new(None),
            result: UnsafeCell::new(None),
            scope,
        })
    }

    fn complete(&self, r: std::thread::Result<T>) {
        // SAFETY: only the goroutine writes, once, before publishing DONE.
        unsafe { *self.result.get() = Some(r) };
        let prev = self.state.swap(DONE, AcqRel);
        if prev == AWAITED {
            // The awaiting task stored its waker before publishing AWAITED; a later poll that
            // replaces it re-checks the state and sees DONE.
            let w = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(w) = w {
                // The task's code: a panic in it must not unwind out of the goroutine's exit.
                crate::util::fatal::contain_panic(|| w.wake());
            }
        } else if prev > AWAITED {
            // SAFETY: a state above DONE is the G that `join` published by its CAS; our swap
            // took it, so we are its one waker.
            unsafe { rt::ready(prev as *mut G) };
        }
    }

    fn is_finished(&self) -> bool {
        self.state.load(Acquire) == DONE
    }

    /// The result, once `is_finished` has been seen.
    ///
    /// # Safety
    /// Called at most once, after observing DONE (acquire).
    unsafe fn take_result(&self) -> std::thread::Result<T> {
        // SAFETY: DONE was observed, so the result is written and no longer touched by the
        // goroutine; the caller takes it once.
        unsafe { (*self.result.get()).take() }.expect("goroutine result present")
    }

    /// One poll of a `JoinFuture`.
    fn poll_join(&self, cx: &mut Context<'_>) -> Poll<std::thread::Result<T>> {
        if !self.is_finished() {
            *self.waker.lock().unwrap_or_else(|e| e.into_inner()) = Some(cx.waker().clone());
            // Publish that a waker waits (or keep AWAITED from an earlier poll: the waker was
            // replaced under the lock); a goroutine that finished meanwhile is seen below.
            let _ = self
                .state
                .compare_exchange(RUNNING, AWAITED, AcqRel, Acquire);
            if !self.is_finished() {
                return Poll::Pending;
            }
        }
        // SAFETY: DONE observed; a `JoinFuture` returns Ready once (it is fused by `taken`).
        Poll::Ready(unsafe { self.take_result() })
    }

    fn join(&self) -> std::thread::Result<T> {
        if !self.is_finished() {
            rt::park(WaitReason::Join, &mut |gp| {
                self.state
                    .compare_exchange(RUNNING, gp as usize, AcqRel, Acquire)
                    .is_ok()
            });
        }
        debug_assert!(self.is_finished());
        // SAFETY: DONE was observed (acquire); join consumes the handle, so this runs once.
        unsafe { self.take_result() }
    }
}

/// An owned permission to join a goroutine (like `std::thread::JoinHandle`). Dropping it
/// detaches the goroutine.
pub struct JoinHandle<T> {
    packet: Arc<Packet<T>>,
    id: GoroutineId,
}

impl<T> JoinHandle<T> {
    /// Waits for the goroutine to finish; `Err(payload)` if it panicked.
    pub fn join(self) -> std::thread::Result<T> {
        self.packet.join()
    }

    /// Whether the goroutine has finished (returned or panicked), so that `join` will not wait.
    pub fn is_finished(&self) -> bool {
        self.packet.is_finished()
    }

    /// The goroutine's id.
    pub fn id(&self) -> GoroutineId {
        self.id
    }
}

/// Awaiting a `JoinHandle` from async code waits for the goroutine without blocking the
/// executor's thread; the output is `join`'s.
///
/// ```
/// use std::future::IntoFuture;
/// let h = gort::spawn(|| 6 * 7);
/// assert_eq!(gort::block_on(h.into_future()).unwrap(), 42); // in async code: `h.await`
/// ```
impl<T> IntoFuture for JoinHandle<T> {
    type Output = std::thread::Result<T>;
    type IntoFuture = JoinFuture<T>;

    fn into_future(self) -> JoinFuture<T> {
        JoinFuture {
            packet: self.packet,
            done: false,
        }
    }
}

/// The future of an awaited [`JoinHandle`]: resolves to the goroutine's result, `Err(payload)`
/// if it panicked. Dropping it detaches the goroutine, as dropping the handle does.
pub struct JoinFuture<T> {
    packet: Arc<Packet<T>>,
    done: bool,
}

impl<T> Future for JoinFuture<T> {
    type Output = std::thread::Result<T>;

    /// # Panics
    /// If polled again after it returned `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(!self.done, "a JoinFuture was polled after it completed");
        let r = self.packet.poll_join(cx);
        if r.is_ready() {
            self.done = true;
        }
        r
    }
}

impl<T> fmt::Debug for JoinFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinFuture")
            .field("finished", &self.packet.is_finished())
            .finish()
    }
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle").field("id", &self.id).finish()
    }
}

/// `f` as the body of a joinable goroutine, which drops its goroutine-local values, counts
/// itself out of `num_goroutines` and then publishes its result; and the handle's half of the
/// packet it publishes in.
fn packet_body<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> (impl FnOnce() + Send + 'static, Arc<Packet<T>>) {
    let packet = Packet::new(None);
    let theirs = packet.clone();
    let body = move || theirs.complete(run_to_end(f));
    (body, packet)
}

/// Runs a goroutine's function and ends the goroutine's life as its joiners see it: its locals
/// are dropped and it is no longer counted. What follows (publishing the result, counting it
/// out of a group) then tells a waiter that the goroutine is gone.
fn run_to_end<T>(f: impl FnOnce() -> T) -> std::thread::Result<T> {
    let r = catch_unwind(AssertUnwindSafe(f));
    rt::drop_own_locals();
    rt::count_out();
    r
}

fn spawn_packet<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
    stack: usize,
    name: Option<String>,
    loc: &'static Location<'static>,
) -> io::Result<JoinHandle<T>> {
    let (body, packet) = packet_body(f);
    let id = rt::spawn(body, stack, name, loc)?;
    Ok(JoinHandle {
        packet,
        id: GoroutineId::from_raw(id),
    })
}

/// `spawn` for a goroutine of the runtime's own, which `num_goroutines` does not count (a
/// helper inside a library call).
#[track_caller]
pub(crate) fn spawn_system<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let (body, packet) = packet_body(f);
    let id = rt::spawn_system(body, Location::caller()).unwrap_or_else(|e| panic!("{e}"));
    JoinHandle {
        packet,
        id: GoroutineId::from_raw(id),
    }
}

/// `go` for a goroutine of the runtime's own (the signal dispatcher).
#[track_caller]
pub(crate) fn go_system(f: impl FnOnce() + Send + 'static) {
    go_system_at(f, Location::caller())
}

/// `go_system` with the spawn site given (a goroutine started on the caller's behalf).
pub(crate) fn go_system_at(f: impl FnOnce() + Send + 'static, loc: &'static Location<'static>) {
    if let Err(e) = rt::spawn_system(body(f), loc) {
        panic!("{e}");
    }
}

/// Starts a goroutine and returns a handle to join it.
///
/// ```
/// let handles: Vec<_> = (0..4u64).map(|i| gort::spawn(move || i * i)).collect();
/// let squares: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
///
/// # Panics
/// If no guarded stack can be allocated; `Builder::spawn` returns that error instead.
#[track_caller]
pub fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    match spawn_packet(f, 0, None, Location::caller()) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

/// Goroutine configuration (like `std::thread::Builder`).
#[derive(Debug, Default)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
    #[cfg(feature = "tracing")]
    span: Option<tracing::Span>,
}

impl Builder {
    /// A builder with the defaults: no name, the default stack size.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the goroutine; `runtime::dump` shows the name next to its id (for goroutines it
    /// can inspect: parked ones and the caller).
    pub fn name(mut self, name: String) -> Builder {
        self.name = Some(name);
        self
    }

    /// The usable stack limit in bytes: at least `size`, rounded up to the runtime's minimum
    /// (32 KiB) and, unless it is the default, to a power of two (the stack size classes, as
    /// Go's). The default is 256 KiB (or `GORT_STACK_SIZE`). The largest is 1 GiB, Go's limit:
    /// `spawn` fails with `InvalidInput` above it. Overflow past the limit is always reported,
    /// with the limit, never silent.
    pub fn stack_size(mut self, size: usize) -> Builder {
        self.stack_size = Some(size);
        self
    }

    /// Runs the goroutine inside `span` (feature `tracing`): the span is entered whenever the
    /// goroutine runs on a thread and exited whenever it switches out, as with
    /// [`instrument`](crate::instrument) around its whole body.
    #[cfg(feature = "tracing")]
    pub fn span(mut self, span: tracing::Span) -> Builder {
        self.span = Some(span);
        self
    }

    /// Starts the goroutine. Fails if no guarded stack can be had (the error says why), or
    /// if the stack size asked for is above the largest.
    #[track_caller]
    pub fn spawn<T: Send + 'static>(
        self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> io::Result<JoinHandle<T>> {
        if let Some(size) = self.stack_size.filter(|&s| s > rt::MAX_STACK) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "gort::Builder::stack_size: {size} bytes is more than the largest goroutine \
                     stack, {} bytes (1 GiB)",
                    rt::MAX_STACK
                ),
            ));
        }
        let stack = self.stack_size.map_or(0, rt::stack_size);
        #[cfg(feature = "tracing")]
        if let Some(span) = self.span {
            let f = move || crate::span::instrument(span, f);
            return spawn_packet(f, stack, self.name, Location::caller());
        }
        spawn_packet(f, stack, self.name, Location::caller())
    }
}

/// Runs `f` as a goroutine and blocks the caller until it returns; a panic in `f` propagates.
/// Starts the runtime if needed. This is what `#[gort::main]` and `#[gort::test]` call.
///
/// The result need not be `Send` (`Result<(), Box<dyn Error>>` is not): it only crosses from
/// the finished goroutine to the caller, as any value a goroutine holds crosses from thread to
/// thread when the goroutine migrates. So the same caveat applies as to values held across a
/// blocking call: the result must not be tied to the thread the goroutine ran on (a guard of
/// `std::io::stdout().lock()`, an `Rc` also kept in a `thread_local!`).
///
/// ```
/// let r: Result<i32, Box<dyn std::error::Error>> = gort::run(|| Ok("42".parse::<i32>()?));
/// assert_eq!(r.unwrap(), 42);
/// ```
#[track_caller]
pub fn run<R: 'static>(f: impl FnOnce() -> R + Send + 'static) -> R {
    let h = spawn(move || CrossesOnce(f()));
    match h.join() {
        Ok(r) => r.0,
        Err(p) => resume_unwind(p),
    }
}

/// A value that moves between threads once, as a goroutine's own values do when it migrates:
/// `run`'s result and the closures and results of `#[gort::main]` and `#[gort::test]`.
/// Thread-local borrows across such moves are the documented caveat of goroutines (the crate
/// docs), which the compiler cannot check either way.
struct CrossesOnce<T>(T);
// SAFETY: see above: the value is created on one thread and used on another, never shared.
unsafe impl<T> Send for CrossesOnce<T> {}

/// Lets other goroutines run (Go's runtime.Gosched).
pub fn yield_now() {
    rt::ensure_started();
    rt::yield_now(true);
}

/// The current goroutine's id; `None` on a thread that is not running a goroutine.
pub fn current_id() -> Option<GoroutineId> {
    rt::current_id().map(GoroutineId::from_raw)
}

/// Live user goroutines, the caller included (Go's NumGoroutine). Never the runtime's own: the
/// goroutine that relays signals, one that cancels a context at its deadline, or one that reads
/// a child's stderr during `Command::output`. A goroutine is counted out before its result
/// reaches `join`, so once `join` returns it is no longer counted, as a std thread is gone once
/// its `join` returns.
pub fn num_goroutines() -> usize {
    rt::num_goroutines()
}

/// The number of processors (Go's GOMAXPROCS).
pub fn procs() -> usize {
    rt::procs()
}

/// Sets the number of processors; returns the previous value. At most 256 processors run
/// goroutines: a larger `n` sets 256 (as `procs()` then says).
///
/// # Panics
/// If `n` is 0.
pub fn set_procs(n: usize) -> usize {
    assert!(
        n >= 1,
        "gort::set_procs: the number of processors must be at least 1, got 0"
    );
    rt::set_procs(n)
}

/// Pins the calling goroutine to its OS thread until a matching `unlock_os_thread` (calls nest,
/// as in Go). While pinned, its blocking calls block the thread (with its processor handed to
/// another thread), so thread-local state stays valid. A goroutine that exits while still
/// pinned ends its thread, as in Go: it may have changed the thread's state (`setns`,
/// `unshare`, thread-locals) in ways no other goroutine should inherit. No effect on a plain
/// thread.
///
/// ```
/// use std::time::Duration;
///
/// gort::run(|| {
///     gort::lock_os_thread();
///     let before = std::thread::current().id();
///     gort::sleep(Duration::from_millis(1)); // parks, but on this thread
///     assert_eq!(std::thread::current().id(), before);
///     gort::unlock_os_thread();
/// });
/// ```
pub fn lock_os_thread() {
    rt::lock_os_thread();
}

/// Undoes one `lock_os_thread`.
pub fn unlock_os_thread() {
    rt::unlock_os_thread();
}

/// Runs `f`, which may block the OS thread (std::fs, a blocking C call): the processor is
/// handed to another thread while it blocks, so other goroutines keep running (Go's
/// entersyscall/exitsyscall). A panic in `f` propagates. On a plain thread, just calls `f`.
///
/// ```
/// let h = gort::spawn(|| gort::blocking(|| std::fs::read_to_string("/proc/self/status")));
/// assert!(h.join().unwrap().unwrap().contains("Threads:"));
/// ```
pub fn blocking<R>(f: impl FnOnce() -> R) -> R {
    rt::blocking(f)
}

#[doc(hidden)]
pub mod __private {
    /// The channel core, named by the type of a `select!` case (nothing of it is public).
    pub use crate::chan::raw::RawChan;
    pub use crate::chan::slot::{RecvSlot, SendSlot};
    pub use crate::select::macro_support::run as select;

    /// `select! {}`: blocks the goroutine (or thread) for ever, as Go's `select {}`, waiting in
    /// "select (no cases)".
    pub fn block_forever() -> ! {
        crate::rt::block_forever()
    }

    /// Body of `#[gort::main]`: sets GOMAXPROCS if given (0: default) and runs `f` as the first
    /// goroutine. The result may be `!Send` (e.g. `Box<dyn Error>`); it only crosses from the
    /// finished goroutine to the main thread.
    ///
    /// # Safety
    /// `f` captures nothing that must stay on the calling thread: the macro passes the body of
    /// a `fn` without arguments, which captures nothing at all.
    #[track_caller]
    pub unsafe fn main<R: 'static>(procs: usize, f: impl FnOnce() -> R + 'static) -> R {
        if procs > 0 {
            crate::rt::request_procs(procs);
        }
        // The closure moves to the goroutine's thread once (see `CrossesOnce`).
        let f = super::CrossesOnce(f);
        super::run(move || {
            let f = f;
            (f.0)()
        })
    }

    /// Tests that set `procs` hold this exclusively; the others share it.
    static TESTS: std::sync::RwLock<()> = std::sync::RwLock::new(());

    /// Body of `#[gort::test]`: runs `f` as a goroutine; with `procs` > 0, alone among the
    /// binary's gort tests and with that many processors (restored afterwards); with
    /// `timeout_secs` > 0, fails with a goroutine dump if `f` has not returned by then.
    ///
    /// # Safety
    /// As for `main`.
    #[track_caller]
    pub unsafe fn test<R: 'static>(
        procs: usize,
        timeout_secs: u64,
        f: impl FnOnce() -> R + 'static,
    ) -> R {
        use super::CrossesOnce;
        /// Restores the processor count when the test ends, even by a panic.
        struct Restore(usize);
        impl Drop for Restore {
            fn drop(&mut self) {
                crate::rt::set_procs(self.0);
            }
        }
        let (_shared, _alone, _restore) = if procs > 0 {
            let alone = TESTS.write().unwrap_or_else(|e| e.into_inner());
            let prev = crate::rt::procs();
            crate::rt::set_procs(procs);
            (None, Some(alone), Some(Restore(prev)))
        } else {
            (
                Some(TESTS.read().unwrap_or_else(|e| e.into_inner())),
                None,
                None,
            )
        };
        // A panic's report comes back to this thread, which prints it where libtest captures
        // this test's output (see rt::DeferredPanicReport); the payload is resumed unchanged.
        let report = std::sync::Arc::new(std::sync::Mutex::new(None));
        let slot = report.clone();
        let f = CrossesOnce(f);
        let (tx, rx) = crate::chan::<CrossesOnce<std::thread::Result<R>>>(1);
        crate::go(move || {
            let f = f;
            let deferred = crate::rt::DeferredPanicReport::new(slot);
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f.0));
            // Before the result goes back: the test ends when its goroutine's locals are
            // dropped, as a std test's thread-locals are when libtest joins its thread.
            crate::rt::drop_own_locals();
            drop(deferred);
            let _ = tx.send(CrossesOnce(r));
        });
        let r = if timeout_secs == 0 {
            rx.recv().ok_or(())
        } else {
            rx.recv_timeout(std::time::Duration::from_secs(timeout_secs))
                .map_err(drop)
        };
        match r {
            Ok(CrossesOnce(Ok(v))) => v,
            Ok(CrossesOnce(Err(payload))) => {
                if let Some(text) = report.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    eprint!("{text}");
                }
                std::panic::resume_unwind(payload)
            }
            Err(()) if timeout_secs == 0 => {
                panic!("gort::test: the test's goroutine ended without a result")
            }
            Err(()) => {
                let mut dump = Vec::new();
                let _ = crate::rt::dump(&mut dump);
                eprintln!(
                    "gort::test: timed out after {timeout_secs} s; goroutine dump:\n{}",
                    String::from_utf8_lossy(&dump)
                );
                panic!("test timed out after {timeout_secs} s (goroutine dump on stderr)");
            }
        }
    }
}
