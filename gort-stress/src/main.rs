//! gort-stress: a seeded torture program for the gort runtime.
//!
//! ```text
//! gort-stress [--seed N] [--procs 1,2,4] [--minutes M | --seconds S] [--rounds K]
//!             [--round-ms R] [--max-wait-ms B] [--watchdog-secs W] [--skip a,b] [--only a,b]
//!             [--list]
//! ```
//!
//! The run is a sequence of rounds until the time is up (default 2 minutes) or `--rounds` have
//! run. Round `k` uses the processor count `procs[k % len]` and its own seed, derived from the
//! master seed and `k` (round 0's seed is the master seed itself). Each round prints one line:
//!
//! ```text
//! round    3 procs 4 seed 0x5d2c...  812 ms [pair mpmc hog timer] msgs 10234 ... handoffs 3 | sleep+2.1 yield 1.3 ms
//! ```
//!
//! # Replaying a round
//!
//! A round's workload is a pure function of its seed, its processor count and its length, so
//!
//! ```text
//! gort-stress --seed <the round's seed> --procs <its procs> --rounds 1
//! ```
//!
//! reruns exactly that round's workload (with the run's `--round-ms`, `--skip`/`--only` and
//! `--max-wait-ms`, which the header line and a failure report repeat). A failure prints
//! this command. The interleaving is up to the scheduler, so a replay reproduces the workload,
//! not necessarily the failure: loop it (`for i in $(seq 50); do ... || break; done`).
//!
//! # What a round runs and checks
//!
//! See `mix` for the pieces (select! with timers and the same channel in two arms, dynamic
//! `Select` pairs, buffered and unbuffered channels with close, spawn chains, `set_procs` in the
//! middle, Mutex/Cond/WaitGroup, timers, `blocking`/`ffi::call`, CPU hogs) and `check`/`live`
//! for the invariants: exactly-once delivery, liveness (probes' waits within `--max-wait-ms`),
//! no panic, no leak (`runtime::stats().goroutines` back to its value before the round) and no
//! hang.
//!
//! # Failure
//!
//! On the first failed round the program prints the round's seed, procs, what failed and the
//! replay command, writes `gort::runtime::dump` (every goroutine with its backtrace) to stderr
//! and exits with status 1. A liveness failure is usually found after the fact (the probe
//! notices when it finally runs), so a stall catcher thread also takes a dump at the moment a
//! probe has been waiting longer than the bound; that dump is printed first. A watchdog thread
//! (a plain std thread) does the same if a round runs longer than `--watchdog-secs` (default
//! 20, or the round length + 15 s if longer). A crash (the process killed by a signal) is a
//! failure too: each round's line is printed up to its seed before the round starts, so the
//! seed is on the terminal. Run with `GORT_DEBUG=scheddetail=1` and each dump starts with the
//! scheduler's state (every processor's queue, timers and slice, every thread), which is what
//! a liveness failure usually needs.

mod check;
mod live;
mod mix;
mod rng;

use std::io::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::time::{Duration, Instant};

use check::lock;

struct Args {
    seed: Option<u64>,
    procs: Vec<usize>,
    total: Duration,
    rounds: Option<u64>,
    round_ms: Option<u64>,
    max_wait: Duration,
    watchdog: Duration,
    skip: Vec<String>,
}

const USAGE: &str = "usage: gort-stress [--seed N] [--procs 1,2,4] [--minutes M | --seconds S] \
[--rounds K] [--round-ms R] [--max-wait-ms B] [--watchdog-secs W] [--skip a,b] [--only a,b] [--list]";

fn parse_u64(s: &str) -> Result<u64, String> {
    let r = match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad number {s:?}: {e}"))
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        seed: None,
        procs: vec![1, 2, 4],
        total: Duration::from_secs(120),
        rounds: None,
        round_ms: None,
        max_wait: Duration::from_millis(100),
        watchdog: Duration::from_secs(20),
        skip: Vec::new(),
    };
    let names: Vec<&str> = mix::PIECES.iter().map(|p| p.0).collect();
    let list = |v: &str| -> Result<Vec<String>, String> {
        let l: Vec<String> = v.split(',').map(str::to_string).collect();
        match l.iter().find(|n| !names.contains(&n.as_str())) {
            Some(n) => Err(format!(
                "unknown piece {n:?} (pieces: {})",
                names.join(", ")
            )),
            None => Ok(l),
        }
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--list" {
            for (name, what, chance, _) in mix::PIECES {
                println!("{name:>6}  {chance:>3}%  {what}");
            }
            std::process::exit(0);
        }
        if flag == "-h" || flag == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        }
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--seed" => a.seed = Some(parse_u64(&v)?),
            "--procs" => {
                a.procs = v
                    .split(',')
                    .map(|p| parse_u64(p).map(|n| n as usize))
                    .collect::<Result<_, _>>()?;
                if a.procs.is_empty() || a.procs.contains(&0) {
                    return Err("--procs: each count must be at least 1".into());
                }
            }
            "--minutes" => a.total = Duration::from_secs(parse_u64(&v)? * 60),
            "--seconds" => a.total = Duration::from_secs(parse_u64(&v)?),
            "--rounds" => a.rounds = Some(parse_u64(&v)?),
            "--round-ms" => a.round_ms = Some(parse_u64(&v)?.max(1)),
            "--max-wait-ms" => a.max_wait = Duration::from_millis(parse_u64(&v)?),
            "--watchdog-secs" => a.watchdog = Duration::from_secs(parse_u64(&v)?),
            "--skip" => a.skip = list(&v)?,
            "--only" => {
                let only = list(&v)?;
                a.skip = names
                    .iter()
                    .filter(|n| !only.iter().any(|o| o == *n))
                    .map(|n| n.to_string())
                    .collect();
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(a)
}

/// The round in progress, for the watchdog and the failure report.
#[derive(Clone)]
struct Current {
    round: u64,
    seed: u64,
    procs: usize,
    /// Options that change a round's workload or checks (`--round-ms`, `--skip`, ...).
    flags: String,
    started: Instant,
    limit: Duration,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);
static FAILING: AtomicBool = AtomicBool::new(false);

/// Reports a failed round (its seed, what failed, how to replay it), dumps every goroutine to
/// stderr, and exits with status 1.
fn fail(cur: &Current, what: &[String]) -> ! {
    if FAILING.swap(true, SeqCst) {
        // The other reporter exits the process.
        loop {
            std::thread::park();
        }
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "FAIL");
    let _ = writeln!(
        out,
        "FAILED: round {} procs {} seed {:#018x}:",
        cur.round, cur.procs, cur.seed
    );
    for w in what.iter().take(20) {
        let _ = writeln!(out, "  - {w}");
    }
    if what.len() > 20 {
        let _ = writeln!(out, "  ... and {} more", what.len() - 20);
    }
    let _ = writeln!(
        out,
        "replay: gort-stress --seed {:#018x} --procs {} --rounds 1{}",
        cur.seed, cur.procs, cur.flags
    );
    let _ = writeln!(out, "goroutine dump follows on stderr");
    let _ = out.flush();
    drop(out);
    // The dump may itself get stuck on a wedged runtime: bound it.
    let (tx, rx) = std::sync::mpsc::channel();
    let stall = live::take_stall_dump();
    std::thread::spawn(move || {
        let mut err = std::io::stderr().lock();
        if let Some(d) = stall {
            let _ = writeln!(err, "{d}");
        }
        let _ = writeln!(
            err,
            "---- gort::runtime::stats() ----\n{:#?}",
            gort::runtime::stats()
        );
        let _ = writeln!(err, "---- gort::runtime::dump (now) ----");
        let _ = gort::runtime::dump(&mut err);
        let _ = writeln!(err, "---- end of dump ----");
        let _ = tx.send(());
    });
    if rx.recv_timeout(Duration::from_secs(10)).is_err() {
        eprintln!("(the dump did not finish within 10 s)");
    }
    std::process::exit(1);
}

fn start_watchdog() {
    std::thread::Builder::new()
        .name("stress-watchdog".into())
        .spawn(|| {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let cur = lock(&CURRENT).clone();
                if let Some(cur) = cur
                    && cur.started.elapsed() > cur.limit
                {
                    fail(
                        &cur,
                        &[format!(
                            "hang: the round did not finish within {} s (watchdog)",
                            cur.limit.as_secs()
                        )],
                    );
                }
            }
        })
        .expect("spawning the watchdog");
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("gort-stress: {e}\n{USAGE}");
            std::process::exit(2);
        }
    };
    let master = args.seed.unwrap_or_else(rng::random_seed);
    let mut flags = String::new();
    if let Some(r) = args.round_ms {
        flags += &format!(" --round-ms {r}");
    }
    if !args.skip.is_empty() {
        flags += &format!(" --skip {}", args.skip.join(","));
    }
    if args.max_wait != Duration::from_millis(100) {
        flags += &format!(" --max-wait-ms {}", args.max_wait.as_millis());
    }
    println!(
        "gort-stress: seed {master:#018x}, procs {:?}, {} s{}; replay a round with: \
         gort-stress --seed <its seed> --procs <its procs> --rounds 1{flags}",
        args.procs,
        args.total.as_secs(),
        args.rounds
            .map(|r| format!(", at most {r} rounds"))
            .unwrap_or_default()
    );
    check::install_panic_hook();
    live::start_control_thread();
    live::start_stall_catcher(args.max_wait);
    start_watchdog();
    let start = Instant::now();
    let mut round = 0u64;
    let mut handoffs = gort::runtime::stats().handoffs;
    while start.elapsed() < args.total && args.rounds.is_none_or(|n| round < n) {
        let procs = args.procs[round as usize % args.procs.len()];
        let seed = rng::round_seed(master, round);
        print!("round {round:>4} procs {procs} seed {seed:#018x} ");
        let _ = std::io::stdout().flush();
        let longest = Duration::from_millis(args.round_ms.unwrap_or(2000));
        let cur = Current {
            round,
            seed,
            procs,
            flags: flags.clone(),
            started: Instant::now(),
            limit: args.watchdog.max(longest + Duration::from_secs(15)),
        };
        *lock(&CURRENT) = Some(cur.clone());
        let baseline = gort::runtime::stats().goroutines;
        let _ = live::take_stall_dump();
        let cfg = mix::Config {
            seed,
            procs,
            round_ms: args.round_ms,
            max_wait: args.max_wait,
            skip: args.skip.clone(),
        };
        let result = std::panic::catch_unwind(|| gort::run(move || mix::run_round(&cfg)));
        let mut out = match result {
            Ok(out) => out,
            Err(p) => fail(
                &cur,
                &[format!(
                    "panic: the round's body panicked: {}",
                    check::payload_msg(&*p)
                )],
            ),
        };
        // No leak: every goroutine of the round finishes (after_func bodies and chain tails
        // may still be on their way out).
        let t = Instant::now();
        let mut now = gort::runtime::stats().goroutines;
        while now > baseline && t.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(5));
            now = gort::runtime::stats().goroutines;
        }
        if now > baseline {
            out.failures.push(format!(
                "leak: {now} goroutines 5 s after the round, {baseline} before it"
            ));
        }
        out.failures.extend(check::take_panics());
        let h = gort::runtime::stats().handoffs;
        println!(
            "{:>4} ms [{}] {} handoffs {} | sleep+{:.1} yield {:.1} ms",
            out.len.as_millis(),
            out.plan.join(" "),
            out.ops,
            h - handoffs,
            check::ms(out.max_sleep_over),
            check::ms(out.max_yield_gap),
        );
        handoffs = h;
        if !out.failures.is_empty() {
            fail(&cur, &out.failures);
        }
        *lock(&CURRENT) = None;
        round += 1;
    }
    println!(
        "gort-stress: {round} rounds passed in {:.1} s (seed {master:#018x})",
        start.elapsed().as_secs_f64()
    );
}
