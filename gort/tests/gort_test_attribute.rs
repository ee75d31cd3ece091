//! `#[gort::test]`'s arguments: `procs = N` runs the test alone with N processors and restores
//! the previous count; `timeout = S` bounds a test (the hanging case is in
//! gort_test_timeout.rs, so that it does not hold a test thread while these run in parallel).

use std::time::{Duration, Instant};

/// While a test with `procs` runs, no other gort test of the binary changes the count.
fn procs_stay(n: usize) {
    let end = Instant::now() + Duration::from_millis(100);
    while Instant::now() < end {
        assert_eq!(gort::procs(), n, "another test changed procs meanwhile");
        gort::sleep(Duration::from_millis(1));
    }
}

#[gort::test(procs = 1)]
fn procs_one_is_set_for_the_whole_test() {
    procs_stay(1);
}

#[gort::test(procs = 3)]
fn procs_three_is_set_for_the_whole_test() {
    procs_stay(3);
}

#[gort::test(procs = 2, timeout = 30)]
fn procs_and_timeout_combine() {
    procs_stay(2);
}

#[test]
fn procs_are_restored_after_the_test() {
    // SAFETY: a function item captures nothing.
    let run = |procs| unsafe { gort::__private::test(procs, 0, gort::procs) };
    let before = run(0);
    let during = run(before + 1);
    assert_eq!(during, before + 1);
    // Restored before the next test body (which holds the shared side) can look.
    assert_eq!(run(0), before);
}

#[gort::test(timeout = 10)]
fn a_test_within_its_timeout_returns_its_value() -> Result<(), String> {
    gort::sleep(Duration::from_millis(5));
    Ok(())
}

#[gort::test(timeout = 10)]
#[should_panic(expected = "the body's own panic")]
fn a_panic_inside_a_timed_test_propagates() {
    panic!("the body's own panic");
}

static LOCAL_DROPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// A goroutine-local whose drop takes a while (it parks), as a flushing log's would.
struct SlowDrop;
impl Drop for SlowDrop {
    fn drop(&mut self) {
        gort::sleep(Duration::from_millis(5));
        LOCAL_DROPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

gort::goroutine_local! {
    static SLOW: SlowDrop = SlowDrop;
}

#[gort::test]
#[ignore = "run by a_test_ends_after_its_goroutine_locals_are_dropped"]
fn touches_a_goroutine_local() {
    SLOW.with(|_| ());
}

/// A `#[gort::test]` returns once its goroutine's locals are dropped, as a std test's
/// thread-locals are dropped before libtest reports it. It returned before.
#[test]
fn a_test_ends_after_its_goroutine_locals_are_dropped() {
    touches_a_goroutine_local();
    assert_eq!(
        LOCAL_DROPS.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "the test returned before its goroutine-local was dropped"
    );
}

/// A test may return `impl Termination`, as a std `#[test]` (and `main`) may.
#[gort::test]
fn a_test_may_return_impl_termination() -> impl std::process::Termination {
    assert!(gort::current_id().is_some());
    Ok::<(), String>(())
}

/// ... and a type with `impl Trait` inside it.
#[gort::test]
fn a_test_may_return_a_result_with_an_impl_error() -> Result<(), impl std::fmt::Debug> {
    Ok::<(), String>(())
}
