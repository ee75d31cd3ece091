//! Feature `tracing`: goroutines run inside spans (`Builder::span`, `gort::instrument`). With
//! tracing-subscriber's registry, which keeps the current span per thread, a goroutine's span is
//! current at every point of the goroutine while it parks and moves between threads, and never
//! on any other goroutine; nested spans nest; a panic leaves the enclosing span current.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Mutex, Once};
use std::time::Duration;

use gort_test_support::{bounded, gettid, with_procs};
use tracing::{Id, Span};

fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry::Registry::default())
            .unwrap()
    });
}

fn current() -> Option<Id> {
    Span::current().id()
}

/// Parks in one of three ways, in turn: yield, sleep, channel receive; every 50th time it also
/// makes a 10 ms blocking call, long enough for sysmon to hand its processor to another thread
/// meanwhile, so that the goroutine resumes on another thread.
fn park(i: usize, ping: &gort::Sender<()>, pong: &gort::Receiver<()>) {
    if i % 50 == 49 {
        gort::blocking(|| std::thread::sleep(Duration::from_millis(10)));
    }
    match i % 3 {
        0 => gort::yield_now(),
        1 => gort::sleep(Duration::from_micros(50)),
        _ => {
            ping.send(()).unwrap();
            pong.recv().unwrap();
        }
    }
}

fn follows_its_goroutine(procs: usize) {
    init();
    with_procs(procs, 120, move || {
        let span = tracing::info_span!("worker");
        let id = span.id().expect("the registry enables every span");
        let stop = Arc::new(AtomicBool::new(false));
        let busy = Arc::new(Mutex::new(HashSet::new()));
        let others: Vec<_> = (0..4)
            .map(|_| {
                let (stop, busy) = (stop.clone(), busy.clone());
                gort::spawn(move || {
                    let mut checks = 0;
                    while !stop.load(Relaxed) {
                        assert_eq!(current(), None, "another goroutine's span is current");
                        busy.lock().unwrap().insert(gettid());
                        gort::yield_now();
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        // Every processor has work of its own, so the worker, readied from a plain thread into
        // the global queue, is taken by whichever processor looks first.
        while busy.lock().unwrap().len() < procs {
            gort::sleep(Duration::from_millis(1));
        }
        let (ping, pinged) = gort::chan::<()>(0);
        let (ponged, pong) = gort::chan::<()>(0);
        // A plain thread answers: a goroutine it readies goes to the global queue, where
        // either processor may take it.
        let echo = std::thread::spawn(move || {
            for () in pinged {
                assert_eq!(current(), None);
                ponged.send(()).unwrap();
            }
        });
        let worker_id = id.clone();
        let worker = gort::Builder::new()
            .span(span)
            .spawn(move || {
                let mut threads = HashSet::new();
                for i in 0..1000 {
                    assert_eq!(current(), Some(worker_id.clone()), "before park {i}");
                    threads.insert(gettid());
                    park(i, &ping, &pong);
                    assert_eq!(current(), Some(worker_id.clone()), "after park {i}");
                }
                threads.len()
            })
            .unwrap();
        let threads = worker.join().unwrap();
        stop.store(true, Relaxed);
        echo.join().unwrap();
        for o in others {
            assert!(o.join().unwrap() > 0);
        }
        assert_eq!(current(), None);
        assert!(threads >= 2, "the goroutine never changed threads");
    });
}

#[test]
fn a_span_follows_its_goroutine_procs1() {
    follows_its_goroutine(1);
}

#[test]
fn a_span_follows_its_goroutine_procs2() {
    follows_its_goroutine(2);
}

#[test]
fn instrument_nests_and_survives_panics() {
    init();
    with_procs(2, 60, || {
        let outer = tracing::info_span!("outer");
        let inner = tracing::info_span!("inner");
        let (outer_id, inner_id) = (outer.id().unwrap(), inner.id().unwrap());
        gort::instrument(outer, || {
            for _ in 0..100 {
                assert_eq!(current(), Some(outer_id.clone()));
                gort::instrument(inner.clone(), || {
                    assert_eq!(current(), Some(inner_id.clone()));
                    gort::sleep(Duration::from_micros(20));
                    assert_eq!(current(), Some(inner_id.clone()));
                });
                gort::yield_now();
            }
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                gort::instrument(inner.clone(), || {
                    gort::yield_now();
                    panic!("inside the inner span");
                })
            }));
            assert!(r.is_err());
            assert_eq!(
                current(),
                Some(outer_id.clone()),
                "the panic left the inner span"
            );
            gort::yield_now();
            assert_eq!(current(), Some(outer_id.clone()));
        });
        assert_eq!(current(), None);
    });
}

#[test]
fn instrument_on_a_plain_thread_is_in_scope() {
    init();
    bounded(30, || {
        let span = tracing::info_span!("thread");
        let id = span.id().unwrap();
        let v = gort::instrument(span, || {
            gort::sleep(Duration::from_millis(1));
            assert_eq!(current(), Some(id.clone()));
            5
        });
        assert_eq!(v, 5);
        assert_eq!(current(), None);
    });
}
