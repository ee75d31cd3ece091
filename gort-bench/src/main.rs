//! gort-bench: the benchmark workloads on gort. W1-W13 and W15 also exist as Go programs, W1-W11
//! as may and tokio ones too; W14 and W16 are gort only.
//!
//! ```text
//! gort-bench [WORKLOAD...] [--procs 1,2] [--n N] [--quick] [--sweep] [--timeout S]
//! gort-bench WORKLOAD --procs P [--n N]     one run in this process, one JSON line
//! gort-bench --list                          the implemented workload names, one a line
//! ```
//!
//! Exactly one workload at exactly one procs value is a *single run* (what comparison scripts rely on):
//! it runs once, in this process, at `--n` or the workload's default N (the Go version's default), and
//! prints one JSON line. Anything else is a *suite*: every (workload, procs, N) runs as a child
//! process of this binary (so peak RSS and the stack pool of one run never leak into the next),
//! each child's JSON line is echoed on stdout, and a readable table follows on stderr. A suite
//! measures every N of a workload's sweep (W2_idle: 10k, 100k, 1M) unless `--n` is given;
//! `--sweep` asks for the sweep in a single-workload, single-procs invocation too.

mod report;
mod workloads;

use std::io::{BufRead, BufReader, Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use report::Record;
use workloads::Workload;

const USAGE: &str = "\
usage: gort-bench [WORKLOAD...] [--procs 1,2] [--n N] [--quick] [--sweep] [--timeout SECS]
       gort-bench WORKLOAD --procs P [--n N]   (one run in this process, one JSON line)
       gort-bench --list

  WORKLOAD      names from --list (default: all)
  --procs LIST  comma-separated processor counts (gort::set_procs); default 1,2
  --n N         override the workload's N (same meaning as the Go version's -n)
  --quick       divide every default N by 100 (a smoke test)
  --sweep       measure every N of the workload's sweep even for one workload at one procs value
  --timeout S   suite mode: kill a run after S seconds (default 180)
  --list        print the implemented workload names, one a line

One workload at one procs value runs once in this process. Anything else runs each
(workload, procs, N) in a child process, echoes its JSON line on stdout, and prints a table
on stderr. Env GORT_BENCH_WATCHDOG_S=S (or BENCH_WATCHDOG_S): a run with no result after S
seconds prints an ok:false \"HANG\" line and exits 4.";

struct Args {
    workloads: Vec<&'static Workload>,
    procs: Vec<usize>,
    n: Option<u64>,
    quick: bool,
    sweep: bool,
    timeout: Duration,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut args = Args {
        workloads: Vec::new(),
        procs: vec![1, 2],
        n: None,
        quick: false,
        sweep: false,
        timeout: Duration::from_secs(180),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| it.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{USAGE}\n\nworkloads:");
                for w in workloads::ALL {
                    println!("  {:<12}{}", w.name, w.summary);
                }
                return Ok(None);
            }
            "--list" => {
                for w in workloads::ALL {
                    println!("{}", w.name);
                }
                return Ok(None);
            }
            "--quick" => args.quick = true,
            "--sweep" => args.sweep = true,
            "--procs" | "-procs" => {
                let v = value("--procs")?;
                args.procs = v
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(|s| match s.trim().parse::<usize>() {
                        Ok(p) if p >= 1 => Ok(p),
                        _ => Err(format!("--procs: bad value {s:?} (want integers >= 1)")),
                    })
                    .collect::<Result<_, _>>()?;
                if args.procs.is_empty() {
                    return Err("--procs: empty list".into());
                }
            }
            "--n" | "-n" => {
                let v = value("--n")?;
                match v.parse::<u64>() {
                    Ok(n) if n >= 1 => args.n = Some(n),
                    _ => return Err(format!("--n: bad value {v:?} (want an integer >= 1)")),
                }
            }
            "--timeout" => {
                let v = value("--timeout")?;
                let s: u64 = v
                    .parse()
                    .map_err(|_| format!("--timeout: bad value {v:?}"))?;
                args.timeout = Duration::from_secs(s.max(1));
            }
            f if f.starts_with('-') => return Err(format!("unknown option {f}")),
            name => match workloads::find(name) {
                Some(w) => args.workloads.push(w),
                None => {
                    let names: Vec<_> = workloads::ALL.iter().map(|w| w.name).collect();
                    return Err(format!(
                        "unknown workload {name:?}; implemented: {}",
                        names.join(" ")
                    ));
                }
            },
        }
    }
    Ok(Some(args))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => return ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gort-bench: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let single = args.workloads.len() == 1 && args.procs.len() == 1 && !args.sweep;
    if single {
        let w = args.workloads[0];
        let n = args.n.unwrap_or_else(|| scaled(w.default_n, args.quick));
        let rec = run_single(w, args.procs[0], n);
        println!("{}", rec.to_json());
        if rec.ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    } else {
        run_suite(&args)
    }
}

fn scaled(n: u64, quick: bool) -> u64 {
    if quick { (n / 100).max(1) } else { n }
}

/// One run in this process.
fn run_single(w: &'static Workload, procs: usize, n: u64) -> Record {
    gort::set_procs(procs);
    let procs = gort::procs();
    start_watchdog(w.name, procs, n);
    let cpu0 = report::cpu_ns();
    match catch_unwind(AssertUnwindSafe(|| (w.run)(n))) {
        Ok(outcome) => {
            let cpu = report::cpu_ns() - cpu0;
            Record::from_outcome(w.name, procs, outcome, cpu)
        }
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic payload".to_string());
            let mut rec = Record::failure(w.name, procs, n, format!("panicked: {msg}"));
            rec.peak_rss_kib = report::peak_rss_kib();
            rec
        }
    }
}

/// GORT_BENCH_WATCHDOG_S / BENCH_WATCHDOG_S: report a hang as a JSON line and exit 4.
fn start_watchdog(workload: &'static str, procs: usize, n: u64) {
    let secs = ["GORT_BENCH_WATCHDOG_S", "BENCH_WATCHDOG_S"]
        .iter()
        .find_map(|k| std::env::var(k).ok()?.parse::<u64>().ok())
        .filter(|&s| s > 0);
    let Some(secs) = secs else { return };
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(secs));
        let s = gort::runtime::stats();
        let mut rec = Record::failure(
            workload,
            procs,
            n,
            format!(
                "HANG: no result after {secs} s; goroutines={} threads={} idle_procs={}/{} spawned_total={}",
                s.goroutines, s.threads, s.idle_procs, s.procs, s.spawned_total
            ),
        );
        rec.peak_rss_kib = report::peak_rss_kib();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", rec.to_json());
        let _ = out.flush();
        std::process::exit(4);
    });
}

/// Every (workload, procs, N) in its own child process.
fn run_suite(args: &Args) -> ExitCode {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("gort-bench: cannot find my own executable: {e}");
            return ExitCode::from(2);
        }
    };
    let list: Vec<&'static Workload> = if args.workloads.is_empty() {
        workloads::ALL.iter().collect()
    } else {
        args.workloads.clone()
    };
    let mut records = Vec::new();
    let mut all_ok = true;
    for w in list {
        let ns: Vec<u64> = match args.n {
            Some(n) => vec![n],
            None if w.sweep.is_empty() => vec![scaled(w.default_n, args.quick)],
            None => w.sweep.iter().map(|&n| scaled(n, args.quick)).collect(),
        };
        for &p in &args.procs {
            let mut largest_ok = None;
            for (i, &n) in ns.iter().enumerate() {
                let rec = run_child(&exe, w.name, p, n, args.timeout);
                all_ok &= rec.ok;
                if rec.ok {
                    largest_ok = Some(n);
                } else if ns.len() > 1 {
                    let skipped: Vec<String> = ns[i + 1..].iter().map(u64::to_string).collect();
                    eprintln!(
                        "gort-bench: {} procs={p}: first failure at N={n}; largest N that worked: {}{}",
                        w.name,
                        largest_ok.map_or("none".to_string(), |n| n.to_string()),
                        if skipped.is_empty() {
                            String::new()
                        } else {
                            format!(" (skipping N={})", skipped.join(","))
                        }
                    );
                    records.push(rec);
                    break;
                }
                records.push(rec);
            }
        }
    }
    print_table(&records);
    if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `exe WORKLOAD --procs P --n N`, echoes its JSON line, forwards its stderr, and returns
/// the parsed record (a synthesized ok:false one if it crashed, hung or printed none).
fn run_child(exe: &std::path::Path, name: &str, procs: usize, n: u64, timeout: Duration) -> Record {
    let spawned = Command::new(exe)
        .args([name, "--procs", &procs.to_string(), "--n", &n.to_string()])
        .env("GORT_BENCH_WATCHDOG_S", timeout.as_secs().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let rec = Record::failure(name, procs, n, format!("cannot start child: {e}"));
            println!("{}", rec.to_json());
            return rec;
        }
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter(|l| l.starts_with('{'))
            .last()
    });
    let err_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = stderr.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    });
    // The child's own watchdog fires at `timeout`; this is the backstop.
    let deadline = Instant::now() + timeout + Duration::from_secs(10);
    let mut killed = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break Some(st),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                killed = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break None,
        }
    };
    let line = out_reader.join().ok().flatten();
    let err_text = err_reader.join().unwrap_or_default();
    if !err_text.is_empty() {
        eprint!("{err_text}");
    }
    let parsed = line.as_deref().and_then(Record::from_json);
    match (line, parsed) {
        (Some(line), Some(rec)) => {
            println!("{line}");
            rec
        }
        _ => {
            let tail: Vec<&str> = err_text.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            let why = if killed {
                format!("killed after {} s with no result", deadline_secs(timeout))
            } else {
                match status {
                    Some(st) => format!("no JSON line; child exited with {st}"),
                    None => "no JSON line; child status unknown".to_string(),
                }
            };
            let rec = Record::failure(
                name,
                procs,
                n,
                format!("{why}; stderr: {}", tail.join(" | ")),
            );
            println!("{}", rec.to_json());
            rec
        }
    }
}

fn deadline_secs(timeout: Duration) -> u64 {
    timeout.as_secs() + 10
}

fn print_table(records: &[Record]) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(
        e,
        "\n{:<18}{:>6}{:>11}{:>12}{:>13}{:>11}{:>14}  {:<4} note",
        "workload", "procs", "n", "per_op_ns", "bytes_per_g", "wall_ms", "peak_rss_MiB", "ok"
    );
    for r in records {
        let bpg = r.bytes_per_g.map_or("-".to_string(), |b| format!("{b:.0}"));
        let rss = if r.peak_rss_kib >= 0 {
            format!("{:.1}", r.peak_rss_kib as f64 / 1024.0)
        } else {
            "-".to_string()
        };
        let note: String = r.note.chars().take(70).collect();
        let ellipsis = if r.note.chars().count() > 70 {
            "..."
        } else {
            ""
        };
        let _ = writeln!(
            e,
            "{:<18}{:>6}{:>11}{:>12.2}{:>13}{:>11.1}{:>14}  {:<4} {note}{ellipsis}",
            r.workload,
            r.procs,
            r.n,
            r.per_op_ns,
            bpg,
            r.wall_ns as f64 / 1e6,
            rss,
            if r.ok { "yes" } else { "NO" },
        );
    }
}
