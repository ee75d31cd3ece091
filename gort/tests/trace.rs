//! The execution tracer (`gort::runtime::trace`): what a trace file holds, read back as JSON.
//! One trace runs at a time, so the tests take turns.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use gort_test_support::with_procs;
use serde_json::Value;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gort-trace-test-{}-{name}", std::process::id()))
}

/// Traces `f` into a file and returns the file's events.
fn traced(name: &str, f: impl FnOnce()) -> Vec<Value> {
    let path = temp(name);
    gort::runtime::trace::start(&path).unwrap();
    f();
    gort::runtime::trace::stop().unwrap();
    let mut text = String::new();
    if name.ends_with(".gz") {
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
    } else {
        text = std::fs::read_to_string(&path).unwrap();
    }
    std::fs::remove_file(&path).unwrap();
    let json: Value = serde_json::from_str(&text).expect("the trace is valid JSON");
    json["traceEvents"].as_array().unwrap().clone()
}

fn is(e: &Value, ph: &str, pid: u64) -> bool {
    e["ph"] == ph && e["pid"] == pid
}

fn named<'a>(events: &'a [Value], prefix: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["name"].as_str().is_some_and(|n| n.starts_with(prefix)))
        .collect()
}

/// Time slices on one processor track never overlap.
fn assert_no_overlap(events: &[Value]) {
    let mut by_tid: std::collections::HashMap<u64, Vec<(f64, f64)>> = Default::default();
    for e in events.iter().filter(|e| is(e, "X", 1)) {
        let ts = e["ts"].as_f64().unwrap();
        let end = ts + e["dur"].as_f64().unwrap();
        by_tid
            .entry(e["tid"].as_u64().unwrap())
            .or_default()
            .push((ts, end));
    }
    for (tid, mut v) in by_tid {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        for w in v.windows(2) {
            assert!(
                w[1].0 >= w[0].1 - 0.002,
                "slices overlap on P{tid}: {:?} and {:?}",
                w[0],
                w[1]
            );
        }
    }
}

#[test]
fn slices_flows_names_and_reasons() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    with_procs(2, 60, || {
        let events = traced("basic.json", || {
            let (ping, pinged) = gort::chan::<u32>(0);
            let (pong, ponged) = gort::chan::<u32>(0);
            let echo = gort::Builder::new()
                .name("echo \"quoted\"".into())
                .spawn(move || {
                    for v in pinged {
                        pong.send(v).unwrap();
                    }
                })
                .unwrap();
            for i in 0..200 {
                ping.send(i).unwrap();
                assert_eq!(ponged.recv(), Some(i));
            }
            drop(ping);
            echo.join().unwrap();
            gort::blocking(|| std::thread::sleep(Duration::from_millis(3)));
            gort::sleep(Duration::from_millis(2));
            let old = gort::set_procs(1);
            gort::set_procs(old);
        });
        // The named goroutine: created with its name and this file as its spawn site, then
        // time slices under its label that end in channel operations.
        let create = named(&events, "create G")
            .into_iter()
            .find(|e| e["args"]["name"] == "echo \"quoted\"")
            .expect("a create event for the named goroutine");
        let g = create["args"]["g"].as_u64().unwrap();
        assert!(
            create["args"]["site"]
                .as_str()
                .unwrap()
                .contains("trace.rs")
        );
        let label = format!("G{g} echo \"quoted\"");
        let slices: Vec<_> = events
            .iter()
            .filter(|e| is(e, "X", 1) && e["name"] == label.as_str())
            .collect();
        assert!(slices.len() >= 100, "{} slices of {label}", slices.len());
        assert!(
            slices
                .iter()
                .any(|e| e["args"]["end"] == "chan receive" || e["args"]["end"] == "chan send"),
            "no slice of {label} ended in a channel operation: {:?}",
            slices
                .iter()
                .map(|e| &e["args"]["end"])
                .collect::<std::collections::HashSet<_>>()
        );
        assert!(slices.iter().any(|e| e["args"]["end"] == "exit"));
        assert!(
            slices
                .iter()
                .all(|e| e["args"]["ready"].as_f64().unwrap() <= e["ts"].as_f64().unwrap() + 0.001)
        );
        // Every flow's end has a start: who readied whom.
        let starts: std::collections::HashSet<u64> = events
            .iter()
            .filter(|e| e["ph"] == "s")
            .map(|e| e["id"].as_u64().unwrap())
            .collect();
        let ends: Vec<u64> = events
            .iter()
            .filter(|e| e["ph"] == "f")
            .map(|e| e["id"].as_u64().unwrap())
            .collect();
        assert!(ends.len() >= 200, "{} flows", ends.len());
        assert!(ends.iter().all(|id| starts.contains(id)));
        // The blocking call on its own track, timers, the processor changes.
        let blocking: Vec<_> = events.iter().filter(|e| is(e, "X", 2)).collect();
        assert!(
            blocking
                .iter()
                .any(|e| e["dur"].as_f64().unwrap() >= 2_900.0),
            "no 3 ms blocking call in {blocking:?}"
        );
        assert!(!named(&events, "timers").is_empty());
        let procs: Vec<u64> = events
            .iter()
            .filter(|e| e["ph"] == "C" && e["name"] == "procs")
            .map(|e| e["args"]["procs"].as_u64().unwrap())
            .collect();
        // At the start, the two changes, and at the stop.
        assert_eq!(procs, [2, 1, 2, 2]);
        assert!(!named(&events, "proc start").is_empty());
        assert!(!named(&events, "proc stop").is_empty());
        for p in ["P0", "P1"] {
            assert!(
                events
                    .iter()
                    .any(|e| e["ph"] == "M" && e["args"]["name"] == p),
                "no track named {p}"
            );
        }
        assert_no_overlap(&events);
    });
}

#[test]
fn hog_hand_offs_and_netpoll_wakeups() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    with_procs(1, 60, || {
        let events = traced("hog.json.gz", || {
            // A hog: 60 ms without calling the runtime, while a sleeper needs the P.
            let hog = gort::spawn(|| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(60) {
                    std::hint::spin_loop();
                }
            });
            gort::sleep(Duration::from_millis(1));
            hog.join().unwrap();
            // A goroutine locked to its thread leaves a long blocking call while another keeps
            // the only P busy: it waits for the P to be handed to its thread.
            let yielder = gort::spawn(|| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(100) {
                    // Busy 50 µs at a time: a yield each time would make a million slices.
                    let s = Instant::now();
                    while s.elapsed() < Duration::from_micros(50) {
                        std::hint::spin_loop();
                    }
                    gort::yield_now();
                }
            });
            let locked = gort::spawn(|| {
                gort::lock_os_thread();
                gort::blocking(|| std::thread::sleep(Duration::from_millis(50)));
                gort::yield_now();
            });
            locked.join().unwrap();
            yielder.join().unwrap();
            // A read that parks until the peer writes.
            let ln = gort::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = ln.local_addr().unwrap();
            let server = gort::spawn(move || {
                let (mut c, _) = ln.accept().unwrap();
                let mut b = [0u8; 4];
                c.read_exact(&mut b).unwrap();
                b
            });
            let mut c = gort::net::TcpStream::connect(addr).unwrap();
            gort::sleep(Duration::from_millis(5));
            c.write_all(b"ping").unwrap();
            assert_eq!(&server.join().unwrap(), b"ping");
        });
        let handoffs = named(&events, "hand-off (hog)");
        assert!(!handoffs.is_empty(), "no hog hand-off recorded");
        assert!(
            events
                .iter()
                .any(|e| is(e, "X", 1) && e["args"]["end"] == "hog hand-off"),
            "the hog's slice does not end at the hand-off"
        );
        assert!(!named(&events, "netpoll").is_empty());
        assert!(
            events
                .iter()
                .any(|e| is(e, "X", 2) && e["dur"].as_f64().unwrap() >= 49_000.0),
            "the locked goroutine's blocking call is missing"
        );
        // Its 50 ms call outlasts two of sysmon's looks (10 ms apart at most) while the yielder
        // waits: the P is retaken.
        assert!(
            !named(&events, "hand-off (blocking call)").is_empty(),
            "no hand-off of a blocking call's processor"
        );
        assert!(
            events
                .iter()
                .any(|e| is(e, "X", 1) && e["args"]["end"] == "IO wait")
        );
        assert_no_overlap(&events);
    });
}

#[test]
fn one_trace_at_a_time_and_clear_errors() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let err = gort::runtime::trace::stop().unwrap_err();
    assert!(err.to_string().contains("no trace is running"), "{err}");
    let bad = std::path::Path::new("/nonexistent-dir/trace.json");
    let err = gort::runtime::trace::start(bad).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/trace.json"),
        "{err}"
    );
    let path = temp("twice.json");
    gort::runtime::trace::start(&path).unwrap();
    let err = gort::runtime::trace::start(temp("other.json")).unwrap_err();
    assert!(err.to_string().contains("already running"), "{err}");
    gort::runtime::trace::stop().unwrap();
    assert!(!temp("other.json").exists());
    std::fs::remove_file(&path).unwrap();
}

/// What runs when the trace stops is in it, cut at the stop ("trace end"), and the trace's last
/// event (the processor count) marks the stop, so that its length is the time it ran.
#[test]
fn goroutines_running_at_the_stop_are_in_the_trace() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    with_procs(2, 60, || {
        let stop = Arc::new(AtomicBool::new(false));
        let mut spinner = None;
        let events = traced("running-at-stop.json", || {
            let s = stop.clone();
            spinner = Some(gort::spawn(move || {
                let mut n = 0u64;
                while !s.load(Relaxed) {
                    n = std::hint::black_box(n + 1);
                }
                n
            }));
            std::thread::sleep(Duration::from_millis(100));
        });
        stop.store(true, Relaxed);
        spinner.unwrap().join().unwrap();
        let cut: Vec<_> = events
            .iter()
            .filter(|e| is(e, "X", 1) && e["args"]["end"] == "trace end")
            .collect();
        let hog: f64 = events
            .iter()
            .filter(|e| is(e, "X", 1))
            .filter(|e| {
                matches!(
                    e["args"]["end"].as_str(),
                    Some("trace end" | "hog hand-off")
                )
            })
            .map(|e| e["dur"].as_f64().unwrap())
            .sum();
        assert!(!cut.is_empty(), "no slice was cut at the stop");
        assert!(
            hog >= 50_000.0,
            "the spinner ran {hog} µs of the 100 ms traced"
        );
        let last = events
            .iter()
            .filter_map(|e| e["ts"].as_f64())
            .fold(0.0, f64::max);
        assert!(
            last >= 90_000.0,
            "the trace ends at {last} µs, not after 100 ms"
        );
        assert!(
            events
                .iter()
                .any(|e| is(e, "C", 1) && e["name"] == "procs" && e["args"]["procs"] == 2),
            "no processor count"
        );
        assert_no_overlap(&events);
    });
}

/// Threads that start and stop traces against each other while goroutines keep recording: a
/// `start` that comes in while a `stop` is still collecting the buffers must wait for it
/// (recorders wrote into buffers being emptied: a crash, about one run in six of this test).
/// Every trace that started stops, and each file is valid JSON.
#[test]
fn start_racing_stop_from_other_threads() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for _ in 0..2 {
        let stop = stop.clone();
        gort::go(move || {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (tx, rx) = gort::chan::<u32>(0);
                gort::go(move || {
                    let _ = tx.send(1);
                });
                let _ = rx.recv();
            }
        });
    }
    let racers: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let path = temp(&format!("race-{t}.json"));
                let start = Instant::now();
                let mut traces = 0;
                while start.elapsed() < Duration::from_secs(2) {
                    if gort::runtime::trace::start(&path).is_ok() {
                        std::thread::sleep(Duration::from_millis(2));
                        gort::runtime::trace::stop().expect("stop the trace this thread started");
                        let text = std::fs::read_to_string(&path).unwrap();
                        serde_json::from_str::<Value>(&text).expect("the trace is valid JSON");
                        traces += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
                let _ = std::fs::remove_file(&path);
                traces
            })
        })
        .collect();
    let traces: usize = racers.into_iter().map(|t| t.join().unwrap()).sum();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(traces > 0);
}
