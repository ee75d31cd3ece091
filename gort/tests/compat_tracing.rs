//! Feature `tracing`: goroutines run inside spans (`Builder::span`, `gort::instrument`). With
//! tracing-subscriber's registry, which keeps the current span per thread, a goroutine's span is
//! current at every point of the goroutine while it parks and moves between threads, and never
//! on any other goroutine; nested spans nest; a panic leaves the enclosing span current. A
//! subscriber that yields or panics inside the switch hook leaves the goroutine sound.

use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::*};
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

/// The ways the worker parks, in turn: yield, sleep, a round trip through a plain thread, and a
/// receive readied by one of two relay goroutines (see `follows_its_goroutine`). Every 50th time
/// it also makes a 10 ms blocking call, long enough for sysmon to hand its processor to another
/// thread meanwhile.
struct Parks {
    ping: gort::Sender<()>,
    pong: gort::Receiver<()>,
    relayed: Vec<gort::Receiver<()>>,
}

impl Parks {
    fn park(&self, i: usize) {
        if i % 50 == 49 {
            gort::blocking(|| std::thread::sleep(Duration::from_millis(10)));
        }
        match i % 4 {
            0 => gort::yield_now(),
            1 => gort::sleep(Duration::from_micros(50)),
            2 => {
                self.ping.send(()).unwrap();
                self.pong.recv().unwrap();
            }
            _ => self.relayed[i / 4 % 2].recv().unwrap(),
        }
    }
}

/// A worker inside a span parks 1,000 times and changes threads on the way: with two
/// processors, two relay goroutines spin on them (neither parks, so neither processor idles and
/// steals), each readying the worker onto its own processor in turn; with one, the blocking
/// calls move it. The span is current at every point of the worker, and never on the relays or
/// on the plain thread.
fn follows_its_goroutine(procs: usize) {
    init();
    with_procs(procs, 120, move || {
        let span = tracing::info_span!("worker");
        let id = span.id().expect("the registry enables every span");
        let stop = Arc::new(AtomicBool::new(false));
        let mut relayed = Vec::new();
        let relays: Vec<_> = (0..2)
            .map(|_| {
                let (tx, rx) = gort::chan::<()>(0);
                relayed.push(rx);
                let stop = stop.clone();
                gort::spawn(move || {
                    let mut checks = 0;
                    while !stop.load(Relaxed) {
                        assert_eq!(current(), None, "another goroutine's span is current");
                        let _ = tx.try_send(());
                        gort::yield_now();
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        let (ping, pinged) = gort::chan::<()>(0);
        let (ponged, pong) = gort::chan::<()>(0);
        let echo = std::thread::spawn(move || {
            for () in pinged {
                assert_eq!(current(), None);
                ponged.send(()).unwrap();
            }
        });
        let parks = Parks {
            ping,
            pong,
            relayed,
        };
        let worker_id = id.clone();
        let worker = gort::Builder::new()
            .span(span)
            .spawn(move || {
                let (mut moves, mut last) = (0, gettid());
                for i in 0..1000 {
                    assert_eq!(current(), Some(worker_id.clone()), "before park {i}");
                    parks.park(i);
                    assert_eq!(current(), Some(worker_id.clone()), "after park {i}");
                    let tid = gettid();
                    moves += (tid != last) as usize;
                    last = tid;
                }
                moves
            })
            .unwrap();
        let moves = worker.join().unwrap();
        stop.store(true, Relaxed);
        echo.join().unwrap();
        for r in relays {
            assert!(r.join().unwrap() > 0);
        }
        assert_eq!(current(), None);
        let least = if procs > 1 { 100 } else { 1 };
        assert!(
            moves >= least,
            "the worker changed threads only {moves} times"
        );
        eprintln!("procs {procs}: the worker changed threads {moves} times in 1,000 parks");
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

/// A subscriber that misbehaves on goroutines: every `exit` yields if `yields` (a park inside
/// the switch hook), and one `enter` in `panic_every` (if set) panics (inside the switch back
/// in, after a park).
struct Misbehaves {
    yields: bool,
    panic_every: Option<usize>,
    enters: AtomicUsize,
    panics: AtomicUsize,
}

impl tracing::Subscriber for Misbehaves {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &Id) {
        let n = self.enters.fetch_add(1, Relaxed);
        if self.panic_every.is_some_and(|k| n % k == k - 1) && gort::current_id().is_some() {
            self.panics.fetch_add(1, Relaxed);
            panic!("this subscriber panics in enter");
        }
    }
    fn exit(&self, _: &Id) {
        if self.yields && gort::current_id().is_some() {
            gort::yield_now();
        }
    }
}

/// With two processors kept busy by spinners, four workers move between threads at their parks,
/// and so at the yields inside their hooks too: the switch that follows must be from the thread
/// it runs on then. Panics in `enter` (if `panic_every`) must not unwind out of a select's park.
fn misbehaving_subscriber(yields: bool, panic_every: Option<usize>) {
    with_procs(2, 60, move || {
        let sub = Arc::new(Misbehaves {
            yields,
            panic_every,
            enters: AtomicUsize::new(0),
            panics: AtomicUsize::new(0),
        });
        let dispatch = tracing::Dispatch::from(sub.clone());
        let span = tracing::dispatcher::with_default(&dispatch, || tracing::info_span!("w"));
        let stop = Arc::new(AtomicBool::new(false));
        let spinners: Vec<_> = (0..2)
            .map(|_| {
                let stop = stop.clone();
                gort::spawn(move || {
                    while !stop.load(Relaxed) {
                        gort::yield_now();
                    }
                })
            })
            .collect();
        let (tx, rx) = gort::chan::<u32>(0);
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let rx = rx.clone();
                gort::Builder::new()
                    .span(span.clone())
                    .spawn(move || {
                        let mut got = 0;
                        for i in 0..5_000u32 {
                            match i % 3 {
                                0 => gort::yield_now(),
                                1 => gort::sleep(Duration::from_micros(20)),
                                // A select parks with its channels locked: only a subscriber
                                // that does not park in the hook may see one.
                                _ if yields => gort::yield_now(),
                                _ => gort::select! {
                                    recv(rx) -> v => got += v.unwrap_or(0),
                                    recv(gort::after(Duration::from_micros(30))) -> _ => {}
                                },
                            }
                        }
                        got
                    })
                    .unwrap()
            })
            .collect();
        let feeder = gort::spawn(move || {
            let mut sent = 0;
            for _ in 0..200 {
                if tx.send_timeout(1, Duration::from_millis(5)).is_ok() {
                    sent += 1;
                }
            }
            sent
        });
        let sent = feeder.join().unwrap();
        let got: u32 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        stop.store(true, Relaxed);
        spinners.into_iter().for_each(|s| s.join().unwrap());
        assert_eq!(got, sent, "every value sent was received once");
        assert_eq!(sub.panics.load(Relaxed) > 0, panic_every.is_some());
    });
}

#[test]
fn a_subscriber_that_yields_in_the_hook_leaves_the_goroutine_sound() {
    misbehaving_subscriber(true, None);
}

#[test]
fn a_subscriber_that_panics_in_the_hook_leaves_the_goroutine_sound() {
    misbehaving_subscriber(false, Some(10));
}
