//! Unix signals delivered on gort channels (Go's os/signal, over the runtime's sigsend and
//! signal_recv in signal_unix.go and sigqueue.go).
//!
//! [`notify`] installs gort's handler for the signals it names and returns a channel that
//! receives them; [`stop`] ends delivery to a channel; [`reset`] and [`ignore`] end it for
//! every channel, and [`notify_context`] cancels a context on a signal, as Go's functions of
//! the same names. The path from the kernel to the channel:
//! - The handler is async-signal-safe: it sets the signal's bit in a pending mask, writes one
//!   byte to a non-blocking pipe (a full pipe already means "look at the mask"), and calls the
//!   handler that was installed before gort's, if that was a function (chaining). It allocates
//!   nothing, takes no lock and touches no goroutine.
//! - A dispatcher goroutine, parked on the pipe's read end in the poller, drains the pipe, swaps
//!   the mask to zero and sends each pending signal to every channel registered for it, without
//!   blocking: a channel whose buffer is full misses that signal (Go's non-blocking send).
//!
//! As in Go, signals coalesce: a signal that arrives again before the dispatcher has run counts
//! once. A storm of signals is never lost entirely and never blocks the handler.
//!
//! A signal nobody is notified of keeps its default behaviour: gort installs its handler on the
//! first `notify` for a signal and restores the previous action when the last channel for it
//! is stopped. So SIGINT and SIGTERM still end the program, and SIGQUIT still prints gort's
//! goroutine dump and exits, unless a channel asks for them; while one does, gort's dump handler
//! is not chained. A channel whose receivers are all dropped counts as stopped. The dispatcher
//! notices at the next signal: it restores the action and raises that signal again under it, so
//! the signal is not lost.
//!
//! `notify` with an empty list relays every signal Go's `signal.Notify` relays with no arguments
//! (the signals marked `_SigNotify` in Go's sigtab_linux_generic.go): all but the synchronous
//! faults the runtime handles itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSTKFLT,
//! SIGSYS), the two that cannot be caught, and the C library's thread signals (32 up to
//! SIGRTMIN). Naming one of those explicitly is an error; SIGTRAP, SIGSTKFLT and SIGSYS may
//! still be named.

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{FromRawFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

use crate::chan::{Receiver, Sender, chan};
use crate::context::{CancelFn, Context};
use crate::io::Pollable;

/// Signals `1..=MAX_SIG` (Linux's 64, real-time signals included).
const MAX_SIG: i32 = 64;

/// Bit `sig - 1` is set while `sig` is pending for the dispatcher.
static PENDING: AtomicU64 = AtomicU64::new(0);
/// The pipe's write end, for the handler; -1 until the dispatcher starts.
static PIPE_W: AtomicI32 = AtomicI32::new(-1);
/// The action installed before gort's, per signal, for chaining: its handler address (0 for
/// none to call) and its `sa_flags`.
static CHAIN: [(AtomicUsize, AtomicI32); MAX_SIG as usize] =
    [const { (AtomicUsize::new(0), AtomicI32::new(0)) }; MAX_SIG as usize];

/// Registered channels and the actions gort replaced.
struct Registry {
    /// Each channel with the mask of signals it wants.
    receivers: Vec<(u64, Sender<i32>)>,
    /// The action each installed signal had before gort's handler.
    saved: Vec<(i32, libc::sigaction)>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    receivers: Vec::new(),
    saved: Vec::new(),
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner())
}

fn bit(sig: i32) -> u64 {
    1 << (sig - 1)
}

/// Delivers the listed signals (libc numbers: `libc::SIGINT`, ...) on a new channel, as Go's
/// `signal.Notify`; an empty list means every signal that can be relayed (see the module doc).
/// The channel buffers one value per signal; a signal that finds it full is dropped for this
/// channel (signals coalesce; see the module doc). Call [`stop`] to end delivery; dropping
/// every receiver of the channel ends it too, as the module doc describes.
///
/// # Panics
/// If `signals` names a number outside 1..=64, or a signal that cannot be caught (SIGKILL,
/// SIGSTOP) or that the runtime needs for itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL, and the C
/// library's 32 up to SIGRTMIN); or if the pipe that carries signals to their channels cannot
/// be created (no file descriptor left).
///
/// ```
/// let rx = gort::signal::notify(&[libc::SIGUSR1]);
/// // SAFETY: raise(3) sends the signal to this process.
/// unsafe { libc::raise(libc::SIGUSR1) };
/// assert_eq!(rx.recv(), Some(libc::SIGUSR1));
/// gort::signal::stop(&rx);
/// ```
pub fn notify(signals: &[i32]) -> Receiver<i32> {
    let mask = mask_of("notify", signals);
    start_dispatcher();
    let (tx, rx) = chan(mask.count_ones() as usize);
    let mut reg = registry();
    reg.receivers.push((mask, tx));
    for sig in 1..=MAX_SIG {
        if mask & bit(sig) != 0 && !reg.saved.iter().any(|(s, _)| *s == sig) {
            let old = install(sig);
            reg.saved.push((sig, old));
        }
    }
    rx
}

/// Ends delivery to `rx` (Go's `signal.Stop`): once it returns, no more signals are sent to the
/// channel. A signal no channel wants any more gets back the action it had before `notify`.
pub fn stop(rx: &Receiver<i32>) {
    let mut reg = registry();
    let stopped: Vec<_> = reg
        .receivers
        .extract_if(.., |(_, tx)| tx.same_channel(rx))
        .collect();
    restore_unwanted(&mut reg);
    drop(reg);
    // As Go's: the channel stays open, with nobody to send on it.
    for (_, tx) in stopped {
        tx.leave_open();
    }
}

/// Undoes `notify` for the listed signals, for every channel (Go's `signal.Reset`): no channel
/// receives them any more, and each gets back the action it had before its first `notify`. An
/// empty list means every signal `notify` can relay. A channel left with no signal stays open,
/// as after `stop`.
///
/// # Panics
/// For a signal `notify` refuses.
pub fn reset(signals: &[i32]) {
    let mask = mask_of("reset", signals);
    // The runtime's own SIGQUIT handler goes in at start-up: after it, not over what this does.
    crate::rt::ensure_started();
    let mut reg = registry();
    let stopped = unwant(&mut reg, mask);
    drop(reg);
    for tx in stopped {
        tx.leave_open();
    }
}

/// Ignores the listed signals (Go's `signal.Ignore`): as `reset`, then the action becomes
/// `SIG_IGN`, so the signal neither reaches a channel nor has its default effect (SIGQUIT no
/// longer dumps). A later `notify` catches it again, and its `stop` ignores it again. An empty
/// list means every signal `notify` can relay.
///
/// # Panics
/// For a signal `notify` refuses.
pub fn ignore(signals: &[i32]) {
    let mask = mask_of("ignore", signals);
    // The runtime's own SIGQUIT handler goes in at start-up: after it, not over what this does.
    crate::rt::ensure_started();
    let mut reg = registry();
    // SIG_IGN goes straight over gort's handler, so that no signal arrives meanwhile under the
    // action `notify` replaced (the default one, usually, which would end the process). The
    // replaced actions are then forgotten, so that `unwant` restores none of them over it.
    for sig in (1..=MAX_SIG).filter(|&s| mask & bit(s) != 0) {
        // SAFETY: sigaction with a zeroed struct naming SIG_IGN.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_IGN;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
        CHAIN[sig as usize - 1].0.store(0, SeqCst);
    }
    reg.saved.retain(|(sig, _)| mask & bit(*sig) == 0);
    let stopped = unwant(&mut reg, mask);
    drop(reg);
    for tx in stopped {
        tx.leave_open();
    }
}

/// Whether `sig` is ignored now (its action is `SIG_IGN`), by `ignore` or by whatever started
/// the process (Go's `signal.Ignored`). False for a number that is not a signal.
pub fn ignored(sig: i32) -> bool {
    if !(1..=MAX_SIG).contains(&sig) {
        return false;
    }
    // As `ignore`: the answer must not change when the runtime starts.
    crate::rt::ensure_started();
    // SAFETY: sigaction only reads the current action into `old`.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old) == 0 && old.sa_sigaction == libc::SIG_IGN
    }
}

/// A child of `parent` that is cancelled when one of the listed signals arrives (Go's
/// `signal.NotifyContext`), or by the returned `CancelFn`, or with `parent`. The signals stop
/// being caught for it when the `CancelFn` returns (Go's stop function), and also soon after
/// the context is done otherwise (unlike Go, which waits for stop): a second Ctrl-C has its
/// default effect. An empty list means every signal `notify` can relay.
///
/// ```
/// use gort::context::{Context, Error};
/// let (ctx, stop) = gort::signal::notify_context(&Context::background(), &[libc::SIGUSR2]);
/// // SAFETY: raise(3) sends the signal to this process.
/// unsafe { libc::raise(libc::SIGUSR2) };
/// assert_eq!(ctx.done().recv(), None);
/// assert_eq!(ctx.err(), Some(Error::Canceled));
/// stop.cancel();
/// ```
///
/// # Panics
/// As `notify`.
#[track_caller]
pub fn notify_context(parent: &Context, signals: &[i32]) -> (Context, CancelFn) {
    let rx = notify(signals);
    let (ctx, cancel) = parent.with_cancel();
    let (done, on_signal) = (ctx.clone(), cancel.clone());
    // Go's stop function: the signals are let go before `cancel` returns, not when the
    // goroutine below gets to it.
    let theirs = rx.clone();
    let cancel = cancel.with_also(move || stop(&theirs));
    crate::goroutine::go_system_at(
        move || {
            let mut sel = crate::Select::new();
            let signal = sel.recv(&rx);
            sel.recv(done.done());
            let op = sel.select();
            if op.index() == signal {
                let _ = op.recv(&rx);
                on_signal.cancel();
            } else {
                let _ = op.recv(done.done());
            }
            stop(&rx);
        },
        std::panic::Location::caller(),
    );
    (ctx, cancel)
}

/// The signals a list names, as a mask; every signal that can be relayed for an empty list
/// (see the module doc). Panics, naming `what`, for one that cannot.
fn mask_of(what: &str, signals: &[i32]) -> u64 {
    if signals.is_empty() {
        return (1..=MAX_SIG)
            .filter(|&sig| refusal(sig).is_none() && !FAULTS.contains(&sig))
            .fold(0, |m, sig| m | bit(sig));
    }
    signals.iter().fold(0, |m, &sig| {
        if let Some(why) = refusal(sig) {
            panic!("gort::signal::{what}: {why}");
        }
        m | bit(sig)
    })
}

/// Takes the signals in `mask` away from every channel, restores the actions no channel needs
/// any more, and returns the channels left with no signal, for the caller to leave open once
/// the registry is unlocked.
fn unwant(reg: &mut Registry, mask: u64) -> Vec<Sender<i32>> {
    for (m, _) in reg.receivers.iter_mut() {
        *m &= !mask;
    }
    let stopped = reg
        .receivers
        .extract_if(.., |(m, _)| *m == 0)
        .map(|(_, tx)| tx)
        .collect();
    restore_unwanted(reg);
    stopped
}

/// Gives every installed signal that no channel wants any more its previous action back, and
/// returns those signals with the actions restored.
fn restore_unwanted(reg: &mut Registry) -> Vec<(i32, libc::sigaction)> {
    let wanted = reg.receivers.iter().fold(0, |m, (mask, _)| m | mask);
    let (keep, restore) = std::mem::take(&mut reg.saved)
        .into_iter()
        .partition(|(sig, _)| wanted & bit(*sig) != 0);
    reg.saved = keep;
    for (sig, old) in &restore {
        // SAFETY: restoring the action sigaction gave us for this signal.
        unsafe { libc::sigaction(*sig, old, std::ptr::null_mut()) };
        CHAIN[*sig as usize - 1].0.store(0, SeqCst);
    }
    restore
}

/// Faults that may be named but that an empty list leaves alone, as Go's does: they report a
/// bug in the program (or a debugger's breakpoint) on the thread that caused it.
const FAULTS: [i32; 3] = [libc::SIGTRAP, libc::SIGSTKFLT, libc::SIGSYS];

/// Why `sig` cannot be delivered on a channel, or None if it can.
fn refusal(sig: i32) -> Option<String> {
    if !(1..=MAX_SIG).contains(&sig) {
        return Some(format!("{sig} is not a signal number (1..={MAX_SIG})"));
    }
    let reserved = [
        (libc::SIGKILL, "cannot be caught"),
        (libc::SIGSTOP, "cannot be caught"),
        (libc::SIGSEGV, "is the runtime's (stack overflow reports)"),
        (libc::SIGBUS, "is the runtime's (stack overflow reports)"),
        (
            libc::SIGFPE,
            "is synchronous: it cannot be delivered on a channel",
        ),
        (
            libc::SIGILL,
            "is synchronous: it cannot be delivered on a channel",
        ),
    ];
    if let Some((_, why)) = reserved.iter().find(|(s, _)| *s == sig) {
        return Some(format!("signal {sig} {why}"));
    }
    if (32..libc::SIGRTMIN()).contains(&sig) {
        return Some(format!(
            "signal {sig} is reserved by the C library's threads"
        ));
    }
    None
}

/// Installs gort's handler for `sig`; returns the action it replaced, and records it for
/// chaining unless it is a default, an ignore, or gort's own SIGQUIT dump handler.
fn install(sig: i32) -> libc::sigaction {
    // SAFETY: sigaction with valid structs; the handler is async-signal-safe (module doc).
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = handler as *const () as usize;
        sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
        libc::sigfillset(&mut sa.sa_mask);
        let mut old: libc::sigaction = std::mem::zeroed();
        let (h, flags) = &CHAIN[sig as usize - 1];
        // Record the chain target first: the handler may run as soon as it is installed.
        libc::sigaction(sig, std::ptr::null(), &mut old);
        let target = old.sa_sigaction;
        let chain = target != libc::SIG_DFL
            && target != libc::SIG_IGN
            && target != crate::rt::sigquit_handler();
        flags.store(old.sa_flags, SeqCst);
        h.store(if chain { target } else { 0 }, SeqCst);
        if libc::sigaction(sig, &sa, &mut old) != 0 {
            panic!(
                "gort::signal::notify: cannot install a handler for signal {sig}: {}",
                io::Error::last_os_error()
            );
        }
        old
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: errno is thread-local; reading and restoring it keeps the interrupted code's.
    let errno = unsafe { *libc::__errno_location() };
    if (1..=MAX_SIG).contains(&sig) {
        PENDING.fetch_or(bit(sig), SeqCst);
        let fd = PIPE_W.load(SeqCst);
        if fd >= 0 {
            let b = 0u8;
            // SAFETY: write(2) is async-signal-safe; a full pipe (EAGAIN) already wakes the
            // dispatcher.
            unsafe { libc::write(fd, (&b as *const u8).cast(), 1) };
        }
        let (h, flags) = &CHAIN[sig as usize - 1];
        let target = h.load(SeqCst);
        if target != 0 {
            // SAFETY: `target` is the handler that was installed before ours, with its flags
            // telling which signature it has.
            unsafe {
                if flags.load(SeqCst) & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        std::mem::transmute(target);
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(libc::c_int) = std::mem::transmute(target);
                    f(sig);
                }
            }
        }
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Starts the pipe and the dispatcher goroutine, once.
fn start_dispatcher() {
    static STARTED: OnceLock<()> = OnceLock::new();
    STARTED.get_or_init(|| {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 fills `fds` with two new descriptors.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } != 0 {
            panic!(
                "gort::signal: cannot create the signal pipe: {}",
                io::Error::last_os_error()
            );
        }
        // SAFETY: the read end is ours; the write end stays open for the handler for ever.
        let read = unsafe { File::from_raw_fd(fds[0]) };
        let read = Pollable::new(read)
            .unwrap_or_else(|e| panic!("gort::signal: cannot poll the signal pipe: {e}"));
        PIPE_W.store(fds[1], SeqCst);
        crate::goroutine::go_system(move || dispatch(read));
    });
}

/// The dispatcher goroutine: waits for the pipe, then sends every pending signal. Channels
/// whose receivers are all gone are dropped from the registry, as if stopped.
fn dispatch(pipe: Pollable<File>) {
    let mut buf = [0u8; 64];
    loop {
        if let Err(e) = pipe.read_with(|mut f| f.read(&mut buf)) {
            crate::util::fatal!("gort::signal: the signal pipe failed: {e}");
        }
        // Drain what else is there: one look at the mask covers every byte written so far.
        while matches!(pipe.get_ref().read(&mut buf), Ok(n) if n == buf.len()) {}
        let pending = PENDING.swap(0, SeqCst);
        let mut reg = registry();
        let before = reg.receivers.len();
        reg.receivers.retain(|(_, tx)| !tx.is_closed());
        let restored = if reg.receivers.len() != before {
            restore_unwanted(&mut reg)
        } else {
            Vec::new()
        };
        for sig in (1..=MAX_SIG).filter(|&s| pending & bit(s) != 0) {
            for (mask, tx) in &reg.receivers {
                if mask & bit(sig) != 0 {
                    let _ = tx.send_now(sig);
                }
            }
        }
        drop(reg);
        // A signal caught only for channels nobody could receive from any more gets the
        // action it would have had without gort: raised again under the default action or
        // gort's dump, now restored. (A handler of the program's was chained by the catch, and
        // an ignored signal stays ignored.)
        for (sig, old) in restored {
            let action = old.sa_sigaction;
            let unhandled = action == libc::SIG_DFL || action == crate::rt::sigquit_handler();
            if pending & bit(sig) != 0 && unhandled {
                // SAFETY: raise(3) sends `sig` to this thread, under the action just restored.
                unsafe { libc::raise(sig) };
            }
        }
    }
}
