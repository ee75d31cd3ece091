//! gort-trace on a real trace: the tour (gort's example, built here as `traced_tour`), run with
//! `GORT_TRACE` at two processors. The summary's numbers are checked against the file's events,
//! the SVG is parsed as XML and, where `rsvg-convert` is installed, rendered to a PNG.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gort-trace")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("gort-trace-cli-{}-{name}", std::process::id()))
}

/// Runs `cmd`, failing the test if it takes more than `secs`.
fn run_bounded(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            panic!("{cmd:?} took more than {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The tour's trace, made once.
fn tour_trace() -> &'static Path {
    static TRACE: OnceLock<PathBuf> = OnceLock::new();
    TRACE.get_or_init(|| {
        // Examples are built next to the test binaries' directory (target/<profile>/examples).
        let exe = std::env::current_exe().unwrap();
        let tour = exe
            .parent()
            .and_then(Path::parent)
            .unwrap()
            .join("examples/traced_tour");
        assert!(
            tour.exists(),
            "{} is missing: cargo test builds it",
            tour.display()
        );
        let path = tmp("tour.json");
        let mut cmd = Command::new(&tour);
        cmd.env("GORT_TRACE", &path).env("GOMAXPROCS", "2");
        let out = run_bounded(cmd, 120);
        assert!(out.status.success(), "the tour failed: {out:?}");
        assert!(path.exists(), "GORT_TRACE wrote no file");
        path
    })
}

fn gort_trace(args: &[&str]) -> Output {
    let mut cmd = Command::new(bin());
    cmd.args(args);
    run_bounded(cmd, 120)
}

/// What the summary must agree with, counted from the file (one event per line).
#[derive(Default)]
struct Counted {
    slices: u64,
    run_us: f64,
    blocking: u64,
    handoffs: u64,
}

fn count(path: &Path) -> Counted {
    let text = std::fs::read_to_string(path).unwrap();
    let mut c = Counted::default();
    for line in text.lines() {
        if line.starts_with("{\"ph\":\"X\",\"pid\":1,") {
            c.slices += 1;
            let ev: serde_json::Value = serde_json::from_str(line.trim_end_matches(',')).unwrap();
            c.run_us += ev["dur"].as_f64().unwrap();
        } else if line.starts_with("{\"ph\":\"X\",\"pid\":2,") {
            c.blocking += 1;
        } else if line.contains("\"cat\":\"handoff\"") {
            c.handoffs += 1;
        }
    }
    c
}

/// The number after `key` in `text` ("1,234" or "12.5").
fn number_after(text: &str, key: &str) -> f64 {
    let rest = &text[text
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in\n{text}"))
        + key.len()..];
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    num.parse()
        .unwrap_or_else(|_| panic!("no number after {key:?} in\n{text}"))
}

/// "12.34 ms" → microseconds.
fn micros_after(text: &str, key: &str) -> f64 {
    let rest = &text[text.find(key).unwrap() + key.len()..];
    let mut parts = rest.split_whitespace();
    let v: f64 = parts.next().unwrap().parse().unwrap();
    match parts.next().unwrap() {
        "s" => v * 1e6,
        "ms" => v * 1e3,
        _ => v,
    }
}

#[test]
fn the_summary_agrees_with_the_events() {
    let trace = tour_trace();
    let out = gort_trace(&["summary", trace.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let c = count(trace);
    assert!(c.slices > 1000, "{} slices", c.slices);
    assert_eq!(
        number_after(&text, "goroutines,") as u64,
        c.slices,
        "{text}"
    );
    let run = micros_after(&text, "total run time");
    // The summary prints two decimals: past a second that is 10 ms, so up to 5 ms of rounding.
    let rounding = if run >= 1e6 { 5_000.0 } else { 5.0 };
    assert!(
        (run - c.run_us).abs() <= c.run_us * 0.001 + 10.0 + rounding,
        "total run time {run} µs, events say {} µs\n{text}",
        c.run_us
    );
    assert_eq!(number_after(&text, "blocking calls:") as u64, c.blocking);
    assert_eq!(number_after(&text, "hand-offs:") as u64, c.handoffs);
    for p in ["P0", "P1"] {
        assert!(text.contains(&format!("  {p} ")), "no {p} line\n{text}");
    }
    // The tour's steps leave their marks: sleeping, channels, a blocking call.
    for reason in ["sleep", "blocking call"] {
        assert!(
            text.contains(&format!("  {reason} ")),
            "no {reason:?}\n{text}"
        );
    }
    let lat = &text[text.find("p50").unwrap()..];
    let qs: Vec<f64> = ["p50", "p90", "p99", "max"]
        .iter()
        .map(|k| micros_after(lat, k))
        .collect();
    assert!(qs.windows(2).all(|w| w[0] <= w[1]), "{qs:?}");
    assert!(
        text.contains("tour.rs:"),
        "no spawn site from the tour\n{text}"
    );
}

#[test]
fn the_svg_is_well_formed_with_every_lane() {
    let trace = tour_trace();
    let svg = tmp("tour.svg");
    let out = gort_trace(&["svg", trace.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = std::fs::read_to_string(&svg).unwrap();
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    for id in ["lane-P0", "lane-P1", "lane-blocking", "axis", "legend"] {
        assert!(
            doc.descendants().any(|n| n.attribute("id") == Some(id)),
            "no {id}"
        );
    }
    let boxes = doc
        .descendants()
        .filter(|n| n.has_tag_name("rect") && n.children().any(|c| c.has_tag_name("title")))
        .count();
    assert!(boxes > 10, "{boxes} goroutine boxes");
    if let Ok(v) = Command::new("rsvg-convert").arg("--version").output()
        && v.status.success()
    {
        let png = tmp("tour.png");
        let mut cmd = Command::new("rsvg-convert");
        cmd.arg(&svg).arg("-o").arg(&png);
        let out = run_bounded(cmd, 60);
        assert!(out.status.success(), "rsvg-convert: {out:?}");
        let bytes = std::fs::read(&png).unwrap();
        assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
        let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
        assert_eq!(width, 1400);
        std::fs::remove_file(&png).unwrap();
    } else {
        assert!(
            std::env::var_os("GORT_TRACE_TEST_RENDER").is_none(),
            "GORT_TRACE_TEST_RENDER is set but rsvg-convert is not installed"
        );
        eprintln!("rsvg-convert is not installed: the rendering check is skipped");
    }
    std::fs::remove_file(&svg).unwrap();
}

#[test]
fn compressed_traces_read_the_same() {
    let json = r#"{"traceEvents":[
{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}},
{"ph":"X","pid":1,"tid":0,"ts":1.0,"dur":2.5,"name":"G1","args":{"end":"sleep"}}
]}"#;
    let gz = tmp("small.json.gz");
    let mut z = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    std::io::Write::write_all(&mut z, json.as_bytes()).unwrap();
    z.finish().unwrap();
    let out = gort_trace(&["summary", gz.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("1 time slices"), "{text}");
    assert!(text.contains("total run time 2.50 µs"), "{text}");
    std::fs::remove_file(&gz).unwrap();
}

#[test]
fn bad_input_is_a_clear_error() {
    let out = gort_trace(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage:"));
    let out = gort_trace(&["frobnicate", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let out = gort_trace(&["svg", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-o"));
    let out = gort_trace(&["summary", "/nonexistent/trace.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/trace.json"));
    let junk = tmp("junk.json");
    std::fs::write(&junk, "{\"hello\": [1, 2]}").unwrap();
    let out = gort_trace(&["summary", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not a gort trace"),
        "{out:?}"
    );
    std::fs::write(&junk, "not json at all").unwrap();
    let out = gort_trace(&["summary", junk.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    std::fs::remove_file(&junk).unwrap();
}

/// Bad numbers and many distinct reasons, as only a corrupt or hostile file has: times that
/// are not finite are a clear error (the SVG's axis looped for ever on them), and 100,000
/// distinct slice-end reasons read in linear time (interning them was quadratic).
#[test]
fn corrupt_times_and_many_reasons_are_handled() {
    let bad = tmp("inf.json");
    std::fs::write(
        &bad,
        r#"{"traceEvents":[{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}},
        {"ph":"X","pid":1,"tid":0,"ts":1.7e308,"dur":1.7e308,"name":"G1","args":{"end":"x"}}]}"#,
    )
    .unwrap();
    for cmd in [&["summary"][..], &["svg", "-o", "/dev/null"][..]] {
        let mut c = Command::new(bin());
        c.args(cmd).arg(&bad);
        let out = run_bounded(c, 30);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {out:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("not a finite time"),
            "{out:?}"
        );
    }
    std::fs::remove_file(&bad).unwrap();

    let many = tmp("reasons.json");
    let mut json = String::from(
        r#"{"traceEvents":[{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}}"#,
    );
    for i in 0..100_000 {
        json.push_str(&format!(
            r#",{{"ph":"X","pid":1,"tid":0,"ts":{i},"dur":0.5,"name":"G1","args":{{"end":"r{i}"}}}}"#
        ));
    }
    json.push_str("]}");
    std::fs::write(&many, json).unwrap();
    let mut c = Command::new(bin());
    c.arg("summary").arg(&many);
    let out = run_bounded(c, 30);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    std::fs::remove_file(&many).unwrap();
}

/// Output that cannot be written is an error, never a panic: a full disk says so (exit 1), and
/// a reader that went away (`| head`) ends the program quietly, as other tools do.
#[test]
fn unwritable_output_is_an_error_not_a_panic() {
    let small = tmp("small.json");
    std::fs::write(
        &small,
        r#"{"traceEvents":[{"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}},
        {"ph":"X","pid":1,"tid":0,"ts":1,"dur":2,"name":"G1","args":{"end":"exit"}}]}"#,
    )
    .unwrap();
    let trace = small.to_str().unwrap();
    let mut c = Command::new(bin());
    c.args(["summary", trace])
        .stdout(std::fs::File::create("/dev/full").unwrap());
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gort-trace: writing") && !err.contains("panicked"),
        "{err}"
    );

    let mut child = Command::new(bin())
        .args(["summary", trace])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    std::fs::remove_file(&small).unwrap();
}

/// A trace stopped before anything ran (written by gort itself, plain and compressed) reads as
/// an empty summary, with the processor count the trace recorded, not the tracks it drew.
#[test]
fn an_empty_trace_reads_as_an_empty_summary() {
    gort::set_procs(3);
    for name in ["empty.json", "empty.json.gz"] {
        let path = tmp(name);
        gort::runtime::trace::start(&path).unwrap();
        gort::runtime::trace::stop().unwrap();
        let out = gort_trace(&["summary", path.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(", 3 processors, 0 goroutines"),
            "{name}: {text}"
        );
        assert!(text.contains("total run time 0.00 µs"), "{name}: {text}");
        let svg = tmp(&format!("{name}.svg"));
        let out = gort_trace(&["svg", path.to_str().unwrap(), "-o", svg.to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {out:?}");
        std::fs::remove_file(&svg).unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}
