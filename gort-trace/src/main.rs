//! gort-trace: reads a trace written by `gort::runtime::trace` (or `GORT_TRACE=path`); gort's
//! counterpart of Go's `go tool trace` (cmd/trace), as a summary and a picture instead of a
//! web UI (Perfetto opens the same file for browsing).
//!
//! ```text
//! gort-trace summary FILE [--top N]   per-goroutine times, scheduling latency, blocking reasons
//! gort-trace svg FILE -o OUT.svg      a self-contained timeline picture
//! ```
//! FILE may be gzip-compressed (`.json.gz`). Exit status: 0 on success, 1 if the trace cannot
//! be read or the output written, 2 for bad arguments.

mod model;
mod summary;
mod svg;

use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "usage:
  gort-trace summary FILE [--top N]   per-goroutine run, runnable and blocked time,
                                      scheduling latency, blocking reasons, hand-offs
  gort-trace svg FILE -o OUT.svg      a timeline picture (lanes are processors)
FILE is a trace written by gort::runtime::trace or GORT_TRACE=FILE (.json or .json.gz).";

enum Command {
    Summary { file: PathBuf, top: usize },
    Svg { file: PathBuf, out: PathBuf },
    Help,
}

fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter();
    let cmd = it.next().ok_or("no command given")?;
    let mut file = None;
    let mut out = None;
    let mut top = 20;
    while let Some(a) = it.next() {
        match a.as_str() {
            "-o" | "--output" => out = Some(PathBuf::from(it.next().ok_or("-o needs a file")?)),
            "--top" => {
                let n = it.next().ok_or("--top needs a number")?;
                top = n
                    .parse()
                    .map_err(|_| format!("--top: {n:?} is not a number"))?;
            }
            "--all" => top = usize::MAX,
            "-h" | "--help" => return Ok(Command::Help),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s if file.is_none() => file = Some(PathBuf::from(s)),
            s => return Err(format!("unexpected argument {s:?}")),
        }
    }
    match cmd.as_str() {
        "summary" => Ok(Command::Summary {
            file: file.ok_or("summary needs a trace FILE")?,
            top,
        }),
        "svg" => Ok(Command::Svg {
            file: file.ok_or("svg needs a trace FILE")?,
            out: out.ok_or("svg needs -o OUT.svg")?,
        }),
        "-h" | "--help" | "help" => Ok(Command::Help),
        other => Err(format!("unknown command {other:?}")),
    }
}

/// Writes the report to stdout. A reader that went away (`| head`) is not an error: the
/// program ends quietly, as other tools do. Any other failure (a full disk) is.
fn to_stdout(text: &str) -> Result<(), String> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("writing the summary: {e}"))
        }
        _ => Ok(()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cmd = match parse_args(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("gort-trace: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match cmd {
        Command::Help => {
            println!("{USAGE}");
            Ok(())
        }
        Command::Summary { file, top } => model::read(&file)
            .map_err(|e| e.to_string())
            .and_then(|t| to_stdout(&summary::render(&t, &summary::compute(&t), top))),
        Command::Svg { file, out } => model::read(&file).map_err(|e| e.to_string()).and_then(|t| {
            let name = file.file_name().map_or_else(
                || file.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            std::fs::write(&out, svg::render(&t, &summary::compute(&t), &name))
                .map_err(|e| format!("{}: {e}", out.display()))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gort-trace: {e}");
            ExitCode::FAILURE
        }
    }
}
