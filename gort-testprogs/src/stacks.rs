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

/// Exhausts the stack budget, then lets an `after_func` timer fire: its callback runs on the
/// scheduler's stack and cannot start its goroutine. The panic must stop the program with a
/// report, not unwind out of the scheduler and leave its processor held by a dead thread.
pub fn scheduler_stack_panic() {
    gort::run(|| {
        let gate = gort::sync::WaitGroup::new();
        gate.add(1);
        loop {
            let g = gate.clone();
            if gort::Builder::new().spawn(move || g.wait()).is_err() {
                break;
            }
        }
        gort::time::after_func(std::time::Duration::from_millis(1), || {});
        gort::sleep(std::time::Duration::from_millis(2000));
        println!("not reached");
    });
}
