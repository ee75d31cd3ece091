//! Scenarios for the observability paths: global deadlock report, SIGQUIT dump, schedtrace, and
//! the absence of a false deadlock report when a thread the runtime does not know could act.

use std::time::Duration;

/// Every goroutine blocks forever on a channel: the runtime must report the deadlock (exit 2).
pub fn deadlock() {
    gort::run(|| {
        let wg = gort::sync::WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        gort::go(move || w.wait());
        gort::go(|| gort::select! {});
        let (_tx, rx) = gort::chan::<u32>(0);
        rx.recv();
        wg.done();
    });
}

/// Channel timers nobody waits on do not hide a deadlock (Go 1.23 keeps them out of its timer
/// heaps): first, goroutines that wait on timer channels, in a receive, a select and an async
/// receive, are not taken for deadlocked while the timers run; then, with a `Timer`, an
/// `after` and a `Ticker` of an hour left idle, the program blocks for good.
pub fn deadlock_beside_idle_timers() {
    gort::run(|| {
        let (tx, rx) = gort::chan::<u32>(0);
        let t1 = tx.clone();
        gort::go(move || {
            gort::after(Duration::from_millis(300)).recv();
            t1.send(1).unwrap();
        });
        let t2 = tx.clone();
        gort::go(move || {
            let (_keep, never) = gort::chan::<u32>(0);
            gort::select! {
                recv(never) -> _ => unreachable!(),
                recv(gort::after(Duration::from_millis(300))) -> _ => t2.send(2).unwrap(),
            }
        });
        gort::go(move || {
            gort::block_on(gort::after(Duration::from_millis(300)).recv_async());
            tx.send(3).unwrap();
        });
        let sum: u32 = (0..3).map(|_| rx.recv().unwrap()).sum();
        println!("woken by timers: {sum}");
        let _timer = gort::time::Timer::new(Duration::from_secs(3600));
        let _after = gort::after(Duration::from_secs(3600));
        let _ticker = gort::time::Ticker::new(Duration::from_secs(3600));
        let (_keep, never) = gort::chan::<u32>(0);
        never.recv();
    });
}

/// A goroutine locked to its thread deadlocks: it parks by blocking that thread.
pub fn deadlock_locked() {
    gort::run(|| {
        gort::lock_os_thread();
        let (_tx, rx) = gort::chan::<u32>(0);
        rx.recv();
    });
}

/// The process's main thread, outside any goroutine, waits on a channel nobody else holds: its
/// first blocking call starts the runtime, whose detector reports the deadlock.
pub fn plain_thread_deadlock() {
    let (_tx, rx) = gort::chan::<u32>(0);
    rx.recv();
}

/// A misuse the type system allows: a goroutine locks a Mutex it already holds (Go's sync.Mutex
/// is not reentrant either). It does not hang silently: the deadlock is reported.
pub fn mutex_relock() {
    gort::run(|| {
        let m = gort::sync::Mutex::new(0);
        let _held = m.lock();
        let _again = m.lock();
    });
}

/// SIGQUIT prints the dump and exits with status 2.
pub fn sigquit() {
    gort::run(|| {
        let (_tx, rx) = gort::chan::<u32>(0);
        gort::go(move || {
            rx.recv();
        });
        // Quit once both goroutines are parked (polled from a plain thread: a loaded machine
        // may take a while to get there).
        std::thread::spawn(|| {
            for _ in 0..1000 {
                let mut out = Vec::new();
                gort::runtime::dump(&mut out).unwrap();
                let text = String::from_utf8_lossy(&out);
                if text.contains("[chan receive") && text.contains("[sleep") {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            // SAFETY: raising a signal at ourselves; the runtime installed a handler for it.
            unsafe { libc::raise(libc::SIGQUIT) };
        });
        gort::sleep(Duration::from_secs(20));
        println!("not reached");
    });
}

/// GORT_DEBUG=schedtrace=50 prints scheduler lines while the program runs.
pub fn schedtrace() {
    gort::run(|| {
        for _ in 0..40 {
            gort::sleep(Duration::from_millis(15));
        }
    });
    println!("done");
}

/// A goroutine waits for a plain thread that does not touch gort until it sends: not a deadlock.
pub fn no_false_deadlock() {
    let (tx, rx) = gort::chan::<u32>(0);
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(400));
        tx.send(7).unwrap();
    });
    let v = gort::run(move || rx.recv());
    t.join().unwrap();
    println!("received {v:?}");
}

/// The main thread, at the lowest priority (the test keeps every CPU busy meanwhile), waits in
/// `gort::run` again and again: each time it is woken, it may not run for a long while, and
/// it must not count as parked then (the deadlock detector would see every goroutine gone and
/// every known thread parked).
pub fn woken_thread_is_not_parked() {
    gort::run(|| ());
    // SAFETY: setpriority on the calling thread (Linux: a TID of 0 is this thread).
    unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, 19) };
    let start = std::time::Instant::now();
    let mut runs = 0;
    while start.elapsed() < Duration::from_secs(4) {
        let v = gort::run(move || {
            gort::sleep(Duration::from_micros(100));
            runs
        });
        assert_eq!(v, runs);
        runs += 1;
    }
    println!("{runs} runs");
}

/// More hogs than the thread limit allows: each goroutine that runs without calling the runtime
/// keeps a thread once its processor is handed off, so the program must stop with a fatal error
/// that names the limit instead of starting threads without bound.
pub fn thread_limit() {
    gort::runtime::set_max_threads(4);
    gort::run(|| {
        for _ in 0..16 {
            gort::go!(|| {
                loop {
                    std::hint::spin_loop();
                }
            });
        }
        gort::sleep(std::time::Duration::from_secs(20));
        println!("not reached");
    });
}

/// Lowers the thread limit below the threads already running: that must stop the program at
/// once.
pub fn thread_limit_below_count() {
    gort::run(|| {
        // Two goroutines that spin until both have run: each processor then has a thread.
        let both = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let hs: Vec<_> = (0..2)
            .map(|_| {
                let both = both.clone();
                gort::spawn(move || {
                    both.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    while both.load(std::sync::atomic::Ordering::SeqCst) < 2 {
                        std::hint::spin_loop();
                    }
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        println!("{} threads running", gort::runtime::stats().threads);
        gort::runtime::set_max_threads(1);
        println!("not reached");
    });
}

/// A goroutine dumps into a writer that blocks for ever (a channel nobody reads) while the main
/// goroutine waits on nothing: a deadlock, whose report must not wait for that dump.
pub fn dump_writer_blocks() {
    struct ChanWriter(gort::Sender<Vec<u8>>);
    impl std::io::Write for ChanWriter {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .send(b.to_vec())
                .map_err(|_| std::io::Error::other("closed"))?;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    gort::run(|| {
        let (tx, rx) = gort::chan::<Vec<u8>>(0);
        let _h = gort::spawn(move || gort::runtime::dump(&mut ChanWriter(tx)));
        let _keep = rx;
        gort::never::<u8>().recv();
    });
}

/// The signal dispatcher is the runtime's own goroutine: the dump and `goroutines_by_state`
/// leave it out, unless GORT_TRACEBACK asks for the runtime's goroutines.
pub fn runtime_goroutines() {
    gort::run(|| {
        let rx = gort::signal::notify(&[libc::SIGUSR1]);
        let mut out = Vec::new();
        gort::runtime::dump(&mut out).unwrap();
        print!("{}", String::from_utf8_lossy(&out));
        let counted: usize = gort::runtime::goroutines_by_state().values().sum();
        println!("by state: {counted}");
        gort::signal::stop(&rx);
    });
}
