//! Deep stacks that fit, and the mapping budget of the mprotect guard mechanism.

use std::hint::black_box;

/// Recurses until at least `bytes` of stack below `start` are in use, ~1 KiB per frame.
/// Measures with addresses, so debug and release builds use the same depth in bytes.
#[inline(never)]
fn use_stack(start: usize, bytes: usize) -> usize {
    let mut frame = [0u8; 1024];
    black_box(&mut frame);
    let here = frame.as_ptr() as usize;
    let used = start - here;
    if used >= bytes {
        return used;
    }
    use_stack(start, bytes) + usize::from(frame[black_box(0)])
}

fn deep(bytes: usize) -> usize {
    let marker = 0u8;
    let start = black_box(&marker) as *const u8 as usize;
    use_stack(start, bytes)
}

/// ~200 KiB of recursion fits in the default 256 KiB limit.
pub fn deep_ok_default() {
    gort::run(|| {
        let used = gort::spawn(|| deep(200 << 10)).join().expect("join");
        assert!(used >= 200 << 10);
        println!("ok");
    });
}

/// ~8 MiB of recursion in a goroutine with a 16 MiB limit.
pub fn deep_ok_16m() {
    gort::run(|| {
        let used = gort::Builder::new()
            .stack_size(16 << 20)
            .spawn(|| deep(8 << 20))
            .expect("spawn with a 16 MiB stack")
            .join()
            .expect("join");
        assert!(used >= 8 << 20);
        println!("ok");
    });
}

/// Under an address-space limit (run with 4 GiB), a few goroutines leave most of it to the
/// program: a 2.5 GiB reservation after them succeeds (it is not touched).
pub fn heap_after_spawn() {
    gort::run(|| {
        let hs: Vec<_> = (0..4).map(|i| gort::spawn(move || i)).collect();
        assert_eq!(hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>(), 6);
    });
    let v: Vec<u8> = Vec::with_capacity(2560 << 20);
    std::hint::black_box(&v);
    println!("ok");
}

/// Spawns parked goroutines with `gort::Builder::spawn` until it fails (run with
/// GORT_STACK_GUARD=mprotect: each stack costs two mappings under `vm.max_map_count`). Prints
/// `error: <text>` and `count: <n>`, then releases every goroutine and exits 0.
pub fn budget() {
    println!("stack_mechanism={}", gort::runtime::stats().stack_mechanism);
    gort::run(|| {
        let gate = gort::sync::WaitGroup::new();
        gate.add(1);
        let mut handles = Vec::new();
        let err = loop {
            let g = gate.clone();
            match gort::Builder::new().spawn(move || g.wait()) {
                Ok(h) => handles.push(h),
                Err(e) => break e,
            }
            if handles.len() > 10_000_000 {
                panic!("no spawn failed after {} goroutines", handles.len());
            }
        };
        println!("error: {err}");
        println!("count: {}", handles.len());
        gate.done();
        for h in handles {
            h.join().expect("join");
        }
        println!("released");
    });
}

/// As `budget`, but with `gort::go`, which has no way to return the error and so panics with it
/// (exit status 101). Prints progress to stderr every 10,000 goroutines.
pub fn budget_go() {
    gort::run(|| {
        let gate = gort::sync::WaitGroup::new();
        gate.add(1);
        for n in 0..10_000_000u64 {
            let g = gate.clone();
            gort::go(move || g.wait());
            if n % 10_000 == 0 {
                eprintln!("spawned {n}");
            }
        }
        unreachable!("gort::go never failed");
    });
}

/// Spawns parked goroutines until a spawn fails (run with GORT_STACK_GUARD=mprotect). Returns
/// the gate that lets them go and their handles.
fn exhaust() -> (gort::sync::WaitGroup, Vec<gort::JoinHandle<()>>) {
    let gate = gort::sync::WaitGroup::new();
    gate.add(1);
    let mut handles = Vec::new();
    loop {
        let g = gate.clone();
        match gort::Builder::new().spawn(move || g.wait()) {
            Ok(h) => handles.push(h),
            Err(_) => return (gate, handles),
        }
    }
}

fn release((gate, handles): (gort::sync::WaitGroup, Vec<gort::JoinHandle<()>>)) {
    gate.done();
    for h in handles {
        h.join().expect("join");
    }
}

/// With no stack to be had, an `after_func` that fires (its callback runs on a scheduler's
/// stack) and a context's `after_func` started by `cancel` wait, and run once stacks are free
/// again; the cancel still reaches the context's child. Prints what it saw.
pub fn after_func_retries() {
    use std::time::Duration;
    gort::run(|| {
        let held = exhaust();
        let (tx, timer_ran) = gort::chan(1);
        let _af = gort::time::after_func(Duration::from_millis(1), move || {
            tx.send(()).unwrap();
        });
        let (parent, cancel) = gort::context::Context::background().with_cancel();
        let (child, _cancel_child) = parent.with_cancel();
        let (tx, ctx_ran) = gort::chan(1);
        let _caf = parent.after_func(move || tx.send(()).unwrap());
        cancel.cancel();
        println!("child cancelled: {}", child.err().is_some());
        gort::sleep(Duration::from_millis(100));
        let early = timer_ran.try_recv().is_ok() || ctx_ran.try_recv().is_ok();
        println!("ran without a stack: {early}");
        release(held);
        let d = Duration::from_secs(10);
        println!("after_func ran: {}", timer_ran.recv_timeout(d).is_ok());
        println!(
            "context after_func ran: {}",
            ctx_ran.recv_timeout(d).is_ok()
        );
    });
}

/// A spawn that fails drops its closure in the caller, as std's `Builder::spawn` does: a drop
/// that parks works, and a drop that panics unwinds to the caller and leaves the scheduler as it
/// was, so that a goroutine spinning afterwards still loses its processor to the others (run
/// with GOMAXPROCS=1). Prints what it saw.
pub fn failed_spawn_drops_in_caller() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
    use std::time::{Duration, Instant};
    struct Parks(Arc<AtomicBool>);
    impl Drop for Parks {
        fn drop(&mut self) {
            gort::sleep(Duration::from_millis(5));
            self.0.store(true, SeqCst);
        }
    }
    struct Panics;
    impl Drop for Panics {
        fn drop(&mut self) {
            panic!("the drop of a closure that never ran");
        }
    }
    gort::run(|| {
        let ticks = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (ticks.clone(), stop.clone());
        let ticker = gort::spawn(move || {
            while !s.load(SeqCst) {
                gort::sleep(Duration::from_millis(1));
                t.fetch_add(1, SeqCst);
            }
        });
        let held = exhaust();
        let dropped = Arc::new(AtomicBool::new(false));
        let p = Parks(dropped.clone());
        let failed = gort::Builder::new().spawn(move || drop(p)).is_err();
        println!(
            "spawn failed: {failed}; parking drop ran: {}",
            dropped.load(SeqCst)
        );
        let q = Panics;
        let r = std::panic::catch_unwind(|| gort::Builder::new().spawn(move || drop(q)));
        println!("drop's panic reached the caller: {}", r.is_err());
        // At once, with no switch in between.
        let before = ticks.load(SeqCst);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(300) {
            std::hint::spin_loop();
        }
        println!("ticks_while_spinning={}", ticks.load(SeqCst) - before);
        release(held);
        stop.store(true, SeqCst);
        ticker.join().unwrap();
    });
}
