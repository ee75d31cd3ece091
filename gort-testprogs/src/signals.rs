//! Signal scenarios (`gort::signal`), each in its own process: notify and stop, notify with no
//! signals (every signal), two receivers, a storm of 10,000 signals, a handler installed before
//! gort (chained), and SIGINT/SIGQUIT keeping their default behaviour when nobody is notified.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

fn raise(sig: i32) {
    // SAFETY: kill(2) to our own process.
    unsafe { libc::kill(libc::getpid(), sig) };
}

/// notify delivers; after stop, the signal's default action (termination by SIGUSR1) is back.
pub fn notify_stop() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR1, libc::SIGUSR2]);
        raise(libc::SIGUSR1);
        assert_eq!(rx.recv(), Some(libc::SIGUSR1));
        raise(libc::SIGUSR2);
        assert_eq!(rx.recv(), Some(libc::SIGUSR2));
        println!("delivered");
        gort::signal::stop(&rx);
        // As Go's signal.Stop: no more signals, and the channel stays open (a select that
        // still lists it must not fire on it).
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(50)),
            Err(gort::RecvTimeoutError::Timeout)
        );
        assert!(!rx.is_closed());
        println!("stopped");
        raise(libc::SIGUSR1);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive: SIGUSR1's default action was not restored");
    });
}

/// Two channels for one signal both receive it; stopping one leaves the other. The goroutine
/// that relays signals is the runtime's own: `num_goroutines` does not count it.
pub fn two_receivers() {
    gort::run(|| {
        let before = gort::num_goroutines();
        let a = gort::signal::notify(&[libc::SIGUSR1]);
        let b = gort::signal::notify(&[libc::SIGUSR1, libc::SIGHUP]);
        raise(libc::SIGUSR1);
        assert_eq!(a.recv(), Some(libc::SIGUSR1));
        assert_eq!(b.recv(), Some(libc::SIGUSR1));
        gort::signal::stop(&a);
        raise(libc::SIGUSR1);
        assert_eq!(b.recv(), Some(libc::SIGUSR1));
        assert!(a.recv_timeout(Duration::from_millis(50)).is_err());
        raise(libc::SIGHUP);
        assert_eq!(b.recv(), Some(libc::SIGHUP));
        // The dispatcher that relays the signals is the runtime's own goroutine.
        assert_eq!(gort::num_goroutines(), before, "the dispatcher was counted");
        println!("both received");
    });
}

/// 10,000 signals from another thread while a goroutine receives: they coalesce (fewer
/// arrive), at least one arrives after the storm ends, and nothing crashes.
pub fn storm() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR1]);
        let sender = std::thread::spawn(|| {
            for _ in 0..10_000 {
                raise(libc::SIGUSR1);
            }
        });
        let mut got = 0;
        while !sender.is_finished() {
            if rx.recv_timeout(Duration::from_millis(10)).is_ok() {
                got += 1;
            }
        }
        sender.join().unwrap();
        raise(libc::SIGUSR1);
        while rx.recv_timeout(Duration::from_millis(200)).is_ok() {
            got += 1;
        }
        assert!((1..=10_001).contains(&got), "{got}");
        println!("storm: 10000 sent, {got} received");
    });
}

/// An empty list relays every signal Go's does with no arguments: a user signal, one whose
/// default is to be ignored, one whose default is to stop the process, a real-time signal and
/// SIGTERM all arrive, on one channel with room for each. After stop, SIGTERM ends the process.
pub fn notify_all() {
    gort::run(|| {
        let rx = gort::signal::notify(&[]);
        assert!(rx.capacity() >= 50, "room for {} signals", rx.capacity());
        let sent = [
            libc::SIGUSR1,
            libc::SIGWINCH,
            libc::SIGTSTP,
            libc::SIGRTMIN() + 2,
            libc::SIGTERM,
        ];
        for sig in sent {
            raise(sig);
            assert_eq!(rx.recv(), Some(sig));
        }
        println!("all relayed");
        gort::signal::stop(&rx);
        raise(libc::SIGTERM);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive: SIGTERM's default action was not restored");
    });
}

/// Polls `cond` for up to 5 s (a process-directed signal is handled on some thread, soon).
fn wait_until(cond: impl Fn() -> bool, what: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        gort::sleep(Duration::from_millis(1));
    }
}

static CHAINED: AtomicUsize = AtomicUsize::new(0);

/// A handler installed before gort's still runs (chained), and gort's channel gets the signal.
pub fn chained() {
    extern "C" fn before(_: libc::c_int) {
        CHAINED.fetch_add(1, SeqCst);
    }
    // SAFETY: installing a handler that only increments an atomic.
    unsafe {
        let mut sa: libc::sigaction = std::mem::zeroed();
        sa.sa_sigaction = before as *const () as usize;
        libc::sigemptyset(&mut sa.sa_mask);
        libc::sigaction(libc::SIGUSR2, &sa, std::ptr::null_mut());
    }
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR2]);
        raise(libc::SIGUSR2);
        assert_eq!(rx.recv(), Some(libc::SIGUSR2));
        // The handler chains after it wakes the dispatcher, possibly on another thread.
        wait_until(|| CHAINED.load(SeqCst) == 1, "the chained handler ran");
        gort::signal::stop(&rx);
        raise(libc::SIGUSR2);
        wait_until(|| CHAINED.load(SeqCst) == 2, "the previous handler is back");
        println!("chained");
    });
}

/// SIGINT with nobody notified ends the process as its default action does.
pub fn sigint_default() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR1]);
        raise(libc::SIGINT);
        std::thread::sleep(Duration::from_secs(5));
        drop(rx);
        println!("still alive after SIGINT");
    });
}

/// A receiver dropped without `stop` counts as stopped: the next SIGTERM ends the process as
/// its default action does (it must not be swallowed by a handler nobody listens to).
pub fn dropped_receiver() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGTERM]);
        drop(rx);
        println!("dropped");
        raise(libc::SIGTERM);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive after SIGTERM");
    });
}

/// With SIGPIPE at its default action (as in a C program hosting gort), writing to a TCP peer
/// that is gone is `BrokenPipe`, through `write` and `write_vectored` alike, never SIGPIPE.
pub fn sigpipe_default() {
    use std::io::{IoSlice, Write};
    // SAFETY: restores SIGPIPE's default action, which Rust's start-up had set to ignore.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    gort::run(|| {
        let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = gort::net::TcpStream::connect(ln.local_addr().unwrap()).unwrap();
        drop(ln.accept().unwrap());
        // The first write after the peer closed draws its reset; the next ones see the pipe
        // broken.
        let _ = c.write(b"x");
        gort::sleep(Duration::from_millis(50));
        let w = c.write(b"x").map_err(|e| e.kind());
        let v = c
            .write_vectored(&[IoSlice::new(b"x")])
            .map_err(|e| e.kind());
        println!("write: {w:?}; write_vectored: {v:?}");
    });
}

/// Notified of SIGQUIT, the program receives it instead of dumping; stopped, the dump is back.
pub fn sigquit_notified() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGQUIT]);
        raise(libc::SIGQUIT);
        assert_eq!(rx.recv(), Some(libc::SIGQUIT));
        println!("received SIGQUIT");
        gort::signal::stop(&rx);
        raise(libc::SIGQUIT);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive after the second SIGQUIT");
    });
}

/// Bad input: a panic that names the problem.
pub fn bad_signal() {
    let r = std::panic::catch_unwind(|| gort::signal::notify(&[libc::SIGKILL]));
    let msg = r.unwrap_err();
    println!("{}", msg.downcast_ref::<String>().unwrap());
}

/// Whether `sig`'s action is the default one now.
fn default_action(sig: i32) -> bool {
    // SAFETY: sigaction only reads the current action.
    unsafe {
        let mut old: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut old);
        old.sa_sigaction == libc::SIG_DFL
    }
}

/// reset ends delivery of a signal to every channel (other signals still arrive) and brings
/// back its default action: the last SIGUSR1 kills the process.
pub fn reset() {
    gort::run(|| {
        let a = gort::signal::notify(&[libc::SIGUSR1]);
        let b = gort::signal::notify(&[libc::SIGUSR1, libc::SIGUSR2]);
        gort::signal::reset(&[libc::SIGUSR1]);
        assert!(default_action(libc::SIGUSR1));
        raise(libc::SIGUSR2);
        assert_eq!(b.recv(), Some(libc::SIGUSR2));
        assert!(a.recv_timeout(Duration::from_millis(20)).is_err());
        assert!(
            !a.is_closed(),
            "a reset channel stays open, as a stopped one"
        );
        println!("reset");
        raise(libc::SIGUSR1);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive: SIGUSR1's default action was not restored");
    });
}

/// ignore: the signal neither reaches a channel nor kills; notify catches it again and its stop
/// ignores it again; an ignored SIGQUIT does not dump.
pub fn ignore() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR1]);
        gort::signal::ignore(&[libc::SIGUSR1, libc::SIGQUIT]);
        assert!(gort::signal::ignored(libc::SIGUSR1));
        assert!(gort::signal::ignored(libc::SIGQUIT));
        assert!(!gort::signal::ignored(libc::SIGUSR2));
        assert!(!gort::signal::ignored(0) && !gort::signal::ignored(99));
        raise(libc::SIGUSR1);
        raise(libc::SIGQUIT);
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
        let again = gort::signal::notify(&[libc::SIGUSR1]);
        assert!(!gort::signal::ignored(libc::SIGUSR1));
        raise(libc::SIGUSR1);
        assert_eq!(again.recv(), Some(libc::SIGUSR1));
        gort::signal::stop(&again);
        assert!(
            gort::signal::ignored(libc::SIGUSR1),
            "stop restores the ignore"
        );
        raise(libc::SIGUSR1);
        std::thread::sleep(Duration::from_millis(50));
        println!("ignored and alive");
    });
}

/// ignore before the runtime has started: the runtime's SIGQUIT handler, installed when it
/// starts, does not replace the ignore.
pub fn ignore_before_start() {
    gort::signal::ignore(&[libc::SIGQUIT]);
    gort::run(|| {
        assert!(gort::signal::ignored(libc::SIGQUIT));
        raise(libc::SIGQUIT);
        gort::sleep(Duration::from_millis(50));
        println!("ignored before start and alive");
    });
}

/// notify_context: a signal cancels the context, after which the signal has its default
/// action again; a context cancelled by its CancelFn stops catching too.
pub fn notify_context() {
    use gort::context::{Context, Error};
    gort::run(|| {
        let (ctx, stop) = gort::signal::notify_context(&Context::background(), &[libc::SIGUSR2]);
        assert!(!default_action(libc::SIGUSR2));
        stop.cancel();
        assert_eq!(ctx.err(), Some(Error::Canceled));
        // As Go's stop function: let go of by the time it returns.
        assert!(
            default_action(libc::SIGUSR2),
            "still caught after cancel returned"
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let (ctx, _stop) = gort::signal::notify_context(&Context::background(), &[libc::SIGUSR1]);
        raise(libc::SIGUSR1);
        assert_eq!(ctx.done().recv(), None);
        assert_eq!(ctx.err(), Some(Error::Canceled));
        println!("cancelled by the signal");
        while !default_action(libc::SIGUSR1) {
            assert!(
                std::time::Instant::now() < deadline,
                "still caught after the signal"
            );
            gort::sleep(Duration::from_millis(1));
        }
        raise(libc::SIGUSR1);
        std::thread::sleep(Duration::from_secs(5));
        println!("still alive: the second SIGUSR1 was caught");
    });
}
