//! A short walk through gort. Run with `cargo run --release --example tour`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[gort::main]
fn main() {
    println!("gort tour: {} processors", gort::procs());

    // 1. Goroutines: spawn and join.
    let h = gort::spawn(|| (1..=10u64).product::<u64>());
    println!("1. spawn/join: 10! = {}", h.join().unwrap());

    // 2. A hundred thousand goroutines, each parked in sleep at once.
    let n = 100_000;
    let count = Arc::new(AtomicUsize::new(0));
    let wg = gort::sync::WaitGroup::new();
    let t = Instant::now();
    for _ in 0..n {
        wg.add(1);
        let (wg, count) = (wg.clone(), count.clone());
        gort::go!(move || {
            gort::sleep(Duration::from_millis(50));
            count.fetch_add(1, Ordering::Relaxed);
            wg.done();
        });
    }
    println!("   ({} goroutines alive)", gort::num_goroutines());
    wg.wait();
    println!(
        "2. {} goroutines slept 50 ms concurrently in {:?}",
        count.load(Ordering::Relaxed),
        t.elapsed()
    );

    // 3. Scoped goroutines borrow from the stack.
    let data = vec![1, 2, 3, 4, 5, 6, 7, 8];
    let sum: i32 = gort::scope(|s| {
        let hs: Vec<_> = data
            .chunks(2)
            .map(|c| s.go(move || c.iter().sum::<i32>()))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).sum()
    });
    println!("3. scoped sum of {data:?} = {sum}");

    // 4. A blocking call hands the processor to another thread.
    let t = Instant::now();
    let slow = gort::spawn(|| gort::blocking(|| std::thread::sleep(Duration::from_millis(100))));
    let mut yields = 0;
    while !slow.is_finished() {
        gort::yield_now();
        yields += 1;
    }
    println!(
        "4. while a blocking call slept 100 ms, this goroutine yielded {yields} times ({:?})",
        t.elapsed()
    );

    // 5. Channels: a producer -> squarer -> consumer pipeline. Each stage closes its output by
    //    dropping the last Sender; the next stage's `for v in &rx` ends when it is drained.
    let (nums_tx, nums_rx) = gort::chan::<u64>(0); // unbuffered: every send meets a receive
    let (sq_tx, sq_rx) = gort::chan::<u64>(16); // buffered: the squarer may run ahead
    gort::go(move || {
        for i in 1..=10 {
            nums_tx.send(i).unwrap();
        }
    }); // nums_tx dropped here: the channel closes
    gort::go(move || {
        for v in &nums_rx {
            sq_tx.send(v * v).unwrap();
        }
    });
    let squares: Vec<u64> = sq_rx.iter().collect();
    println!(
        "5. pipeline 1..=10 -> square -> collect: {squares:?} (sum {})",
        squares.iter().sum::<u64>()
    );

    // 6. select!: whichever channel is ready first, with a timeout arm (Go's time.After idiom).
    let (fast_tx, fast_rx) = gort::chan::<&str>(0);
    let (slow_tx, slow_rx) = gort::chan::<&str>(0);
    gort::go(move || {
        gort::sleep(Duration::from_millis(10));
        let _ = fast_tx.send("fast");
    });
    gort::go(move || {
        gort::sleep(Duration::from_millis(300));
        let _ = slow_tx.send("slow"); // fails once the receiver is dropped below
    });
    let t = Instant::now();
    gort::select! {
        recv(fast_rx) -> v => println!("6. select: got {:?} after {:?}", v.unwrap(), t.elapsed()),
        recv(slow_rx) -> v => println!("6. select: got {:?} after {:?}", v.unwrap(), t.elapsed()),
    }
    // fast_tx is dropped now (a closed channel is always ready): wait on slow alone, with a timeout.
    let t = Instant::now();
    gort::select! {
        recv(slow_rx) -> v => println!("6. select: got {:?} after {:?}", v, t.elapsed()),
        recv(gort::after(Duration::from_millis(50))) -> _ => {
            println!("6. select: timed out after {:?}; slow is still sleeping", t.elapsed())
        }
    }
    drop(slow_rx);

    // 7. Timers and tickers: gort::tick fires every period; a Timer can be stopped before it fires.
    let t = Instant::now();
    let ticks = gort::tick(Duration::from_millis(20));
    for i in 1..=3 {
        ticks.recv().unwrap();
        println!("7. tick {i} at {:?}", t.elapsed());
    }
    drop(ticks); // dropping the receiver stops the ticker
    let timer = gort::time::Timer::new(Duration::from_millis(30));
    let stopped = timer.stop(); // true: it was still pending, so it will never fire
    gort::select! {
        recv(timer.receiver()) -> _ => println!("7. the stopped timer fired (unexpected)"),
        recv(gort::after(Duration::from_millis(60))) -> _ => {
            println!("7. timer.stop() = {stopped}: nothing arrived in 60 ms")
        }
    }
    let timer = gort::time::Timer::new(Duration::from_millis(10));
    timer.receiver().recv().unwrap();
    println!(
        "7. an unstopped 10 ms timer fired; stop() afterwards = {}",
        timer.stop()
    );

    // 8. Networking: gort::net has std::net's shapes, but a socket that is not ready parks the
    //    goroutine. A server goroutine echoes one connection; a client goroutine talks to it.
    use std::io::{Read, Write};
    let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    gort::go(move || {
        let (mut conn, _) = ln.accept().unwrap();
        let mut buf = [0u8; 64];
        loop {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break, // the client closed: EOF
                Ok(n) => conn.write_all(&buf[..n]).unwrap(),
            }
        }
    });
    let client = gort::spawn(move || {
        let mut s = gort::net::TcpStream::connect(addr).unwrap();
        let mut replies = Vec::new();
        for word in ["ping", "pong", "gort"] {
            s.write_all(word.as_bytes()).unwrap();
            let mut back = [0u8; 4];
            s.read_exact(&mut back).unwrap();
            replies.push(String::from_utf8_lossy(&back).into_owned());
        }
        replies
    });
    println!("8. echo over {addr}: {:?}", client.join().unwrap());

    // 9. sync: a goroutine-aware Mutex shared by many goroutines (a blocked lock parks the
    //    goroutine, not its thread), counted in with a WaitGroup.
    let total = Arc::new(gort::sync::Mutex::new(0u64));
    let wg = gort::sync::WaitGroup::new();
    for i in 1..=100u64 {
        wg.add(1);
        let (total, wg) = (total.clone(), wg.clone());
        gort::go(move || {
            *total.lock() += i;
            wg.done();
        });
    }
    wg.wait();
    println!(
        "9. 100 goroutines added 1..=100 under a Mutex: {}",
        *total.lock()
    );

    // 10. context: one cancel stops a group of workers, each selecting on ctx.done().
    let (ctx, cancel) = gort::context::Context::background().with_cancel();
    let (jobs_tx, jobs) = gort::chan::<u32>(0);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (ctx, jobs) = (ctx.clone(), jobs.clone());
            gort::spawn(move || {
                let mut done = 0u32;
                loop {
                    gort::select! {
                        recv(ctx.done()) -> _ => return done,
                        recv(jobs) -> job => if job.is_some() { done += 1 },
                    }
                }
            })
        })
        .collect();
    for job in 0..40 {
        jobs_tx.send(job).unwrap();
    }
    cancel.cancel();
    let handled: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    println!(
        "10. 4 workers handled {handled} jobs, then stopped on cancel ({:?})",
        ctx.err().unwrap()
    );

    // 11. Clean shutdown, as a Go server does it: signal::notify turns SIGTERM into a channel
    //     value, and one cancel stops every server goroutine. (The tour sends itself SIGTERM.)
    let sigs = gort::signal::notify(&[libc::SIGTERM, libc::SIGINT]);
    let (ctx, cancel) = gort::context::Context::background().with_cancel();
    let servers: Vec<_> = (0..3)
        .map(|_| {
            let ctx = ctx.clone();
            gort::spawn(move || {
                let mut ticks = 0u32;
                let tick = gort::tick(Duration::from_millis(1));
                loop {
                    gort::select! {
                        recv(ctx.done()) -> _ => return ticks,
                        recv(tick) -> _ => ticks += 1,
                    }
                }
            })
        })
        .collect();
    gort::sleep(Duration::from_millis(20));
    // SAFETY: kill(2) to this process; SIGTERM is notified, so it arrives on `sigs`.
    unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
    let sig = sigs.recv().unwrap();
    cancel.cancel();
    let ticks: u32 = servers.into_iter().map(|s| s.join().unwrap()).sum();
    gort::signal::stop(&sigs);
    println!(
        "11. got signal {sig} (SIGTERM), cancelled the context: 3 servers stopped after {ticks} \
         ticks"
    );

    let s = gort::runtime::stats();
    println!(
        "runtime: {} threads (peak {}), {} goroutines spawned, stacks: {}",
        s.threads, s.threads_peak, s.spawned_total, s.stack_mechanism
    );
}
