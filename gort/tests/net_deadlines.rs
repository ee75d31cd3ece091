//! Go's deadlines on every socket type (`set_deadline`, `set_read_deadline`,
//! `set_write_deadline`; `set_deadline` on listeners for accept), at procs 1 and 2: a deadline
//! moved into the past from another goroutine wakes a parked operation at once with `TimedOut`
//! (how one goroutine cancels another's read); a future deadline ends a wait on time; a passed
//! deadline fails an operation before it is tried, even with data waiting; clearing it restores
//! I/O; the earlier of a deadline and a per-operation timeout wins; and 10,000 sockets parked
//! with staggered deadlines all time out with the timer count back at its baseline.

use std::io::{ErrorKind, Read, Write};
use std::time::{Duration, Instant};

use gort::net::{TcpListener, TcpStream, UdpSocket, UnixListener, UnixStream};
use gort_test_support::{scaled, wait_for_state, with_procs};

/// Runs `op` (which parks) in a goroutine; once it is parked, `cancel` moves its deadline into
/// the past. The operation must end with `TimedOut` within 2 s (it is woken, not timed out by a
/// later timer), and leave no goroutine behind.
fn cancelled_while_parked(
    op: impl FnOnce() -> std::io::Result<()> + Send + 'static,
    cancel: impl FnOnce(),
) {
    let h = gort::spawn(op);
    wait_for_state("IO wait", 1);
    let t = Instant::now();
    cancel();
    let err = h.join().unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "{err}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

fn every_type_is_cancelled(procs: usize) {
    with_procs(procs, 60, move || {
        let past = Some(Instant::now() - Duration::from_millis(1));

        let ln = std::sync::Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = ln.local_addr().unwrap();
        let l2 = ln.clone();
        cancelled_while_parked(
            move || l2.accept().map(drop),
            || ln.set_deadline(past).unwrap(),
        );
        ln.set_deadline(None).unwrap();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = ln.accept().unwrap();
        let s = std::sync::Arc::new(s);
        let s2 = s.clone();
        cancelled_while_parked(
            move || (&*s2).read(&mut [0; 8]).map(drop),
            || s.set_read_deadline(past).unwrap(),
        );
        // Cleared, the stream works again.
        s.set_read_deadline(None).unwrap();
        (&c).write_all(b"x").unwrap();
        assert_eq!((&*s).read(&mut [0; 8]).unwrap(), 1);

        let u = std::sync::Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
        let u2 = u.clone();
        cancelled_while_parked(
            move || u2.recv_from(&mut [0; 8]).map(drop),
            || u.set_deadline(past).unwrap(),
        );

        let dir =
            std::env::temp_dir().join(format!("gort-deadline-{}-{procs}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let ul = std::sync::Arc::new(UnixListener::bind(&dir).unwrap());
        let ul2 = ul.clone();
        cancelled_while_parked(
            move || ul2.accept().map(drop),
            || ul.set_deadline(past).unwrap(),
        );
        std::fs::remove_file(&dir).unwrap();

        let (a, _b) = UnixStream::pair().unwrap();
        let a = std::sync::Arc::new(a);
        let a2 = a.clone();
        cancelled_while_parked(
            move || (&*a2).read(&mut [0; 8]).map(drop),
            || a.set_deadline(past).unwrap(),
        );
    });
}

#[test]
fn every_type_is_cancelled_procs1() {
    every_type_is_cancelled(1);
}

#[test]
fn every_type_is_cancelled_procs2() {
    every_type_is_cancelled(2);
}

/// A blocked write (the peer does not read) is cancelled by a write deadline; a read on the
/// same stream is not affected.
#[test]
fn a_parked_write_is_cancelled() {
    with_procs(2, 60, || {
        let (a, b) = UnixStream::pair().unwrap();
        let a = std::sync::Arc::new(a);
        let a2 = a.clone();
        cancelled_while_parked(
            move || {
                let chunk = vec![0u8; 64 * 1024];
                loop {
                    (&*a2).write_all(&chunk)?;
                }
            },
            || a.set_write_deadline(Some(Instant::now())).unwrap(),
        );
        (&b).write_all(b"y").unwrap();
        assert_eq!((&*a).read(&mut [0; 8]).unwrap(), 1);
    });
}

#[test]
fn deadlines_end_waits_on_time_and_compose_with_timeouts() {
    with_procs(2, 60, || {
        let (a, b) = UnixStream::pair().unwrap();
        // A deadline 50 ms away.
        let t = Instant::now();
        a.set_read_deadline(Some(t + Duration::from_millis(50)))
            .unwrap();
        let err = (&a).read(&mut [0; 8]).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(50) && e < Duration::from_secs(2),
            "{e:?}"
        );

        // The earlier of deadline and timeout wins, either way round.
        for (deadline, timeout) in [(50, 5_000), (5_000, 50)] {
            let t = Instant::now();
            a.set_read_deadline(Some(t + Duration::from_millis(deadline)))
                .unwrap();
            a.set_read_timeout(Some(Duration::from_millis(timeout)))
                .unwrap();
            let err = (&a).read(&mut [0; 8]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::TimedOut);
            let e = t.elapsed();
            assert!(
                e >= Duration::from_millis(50) && e < Duration::from_secs(2),
                "{e:?}"
            );
        }
        a.set_read_timeout(None).unwrap();

        // A passed deadline fails the read before it is tried, even with data waiting.
        (&b).write_all(b"z").unwrap();
        a.set_read_deadline(Some(Instant::now())).unwrap();
        assert_eq!(
            (&a).read(&mut [0; 8]).unwrap_err().kind(),
            ErrorKind::TimedOut
        );
        // Moved into the future, the data is read.
        a.set_read_deadline(Some(Instant::now() + Duration::from_secs(60)))
            .unwrap();
        assert_eq!((&a).read(&mut [0; 8]).unwrap(), 1);
    });
}

/// Raises this process's open-file limit to its hard limit; returns the new limit.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit with a valid rlimit struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = lim.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
    lim.rlim_cur
}

/// 10,000 sockets, each read by its own goroutine under a deadline 20–520 ms away: every read
/// times out, none early, and the runtime's timer count returns to where it was.
#[test]
fn ten_thousand_staggered_deadlines_leave_no_timers() {
    with_procs(2, 120, || {
        let n = scaled(10_000, 2_000).min(raise_fd_limit() as usize - 500);
        assert!(n >= 2_000, "the open-file limit is too low for this test");
        let baseline = gort::runtime::stats().timers;
        let start = Instant::now();
        let hs: Vec<_> = (0..n)
            .map(|i| {
                let s = UdpSocket::bind("127.0.0.1:0").unwrap();
                let deadline = start + Duration::from_millis(20 + (i % 500) as u64);
                s.set_read_deadline(Some(deadline)).unwrap();
                gort::spawn(move || {
                    let err = s.recv_from(&mut [0; 8]).unwrap_err();
                    assert_eq!(err.kind(), ErrorKind::TimedOut);
                    assert!(Instant::now() >= deadline, "timed out early");
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let left = gort::runtime::stats().timers;
        assert!(
            left <= baseline,
            "timers leaked: {baseline} before, {left} after"
        );
    });
}

/// A read timeout on a plain thread ends the wait on time at one processor: the deadline's
/// callback marks itself done before it wakes the thread, which would otherwise spin on that
/// mark ahead of the callback's thread on one CPU (see `time_semantics`'
/// `a_plain_threads_timed_receive_wakes_on_time`). Three quarters of 200 reads with a 1 ms
/// timeout must end within 1 ms of it.
#[test]
fn a_plain_threads_read_timeout_ends_on_time() {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let d = Duration::from_millis(1);
    sock.set_read_timeout(Some(d)).unwrap();
    gort_test_support::plain_thread_waits_on_time("reads with a 1 ms timeout", 200, d, move || {
        let e = sock.recv_from(&mut [0u8; 16]).unwrap_err();
        assert!(
            matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock),
            "{e}"
        );
    });
}
