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

    let s = gort::runtime::stats();
    println!(
        "runtime: {} threads, {} goroutines spawned, stacks: {}",
        s.threads, s.spawned_total, s.stack_mechanism
    );
}
