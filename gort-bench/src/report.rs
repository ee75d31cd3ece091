//! The JSON record of one run (one JSON line per run, the same shape as the Go, may and tokio versions print) and
//! the process measurements it needs (getrusage, VmRSS).

use std::fmt::Write as _;
use std::time::Duration;

/// What a workload function returns.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Operation count that `per_op_ns` divides by (each workload's module doc says which).
    pub ops: u64,
    /// Timed region.
    pub wall: Duration,
    /// Overrides `wall / ops` when set.
    pub per_op_ns: Option<f64>,
    pub ok: bool,
    pub note: String,
    /// W2: bytes of resident memory per parked goroutine.
    pub bytes_per_g: Option<f64>,
    /// A checked result (W1: the counter), as the Go version reports it.
    pub value: Option<i64>,
}

/// One JSON line. Field names and order follow the Go version's `result` struct.
#[derive(Clone, Debug)]
pub struct Record {
    pub workload: String,
    pub procs: usize,
    pub n: u64,
    pub wall_ns: u64,
    pub per_op_ns: f64,
    pub peak_rss_kib: i64,
    pub ok: bool,
    pub note: String,
    pub cpu_ns: i64,
    pub bytes_per_g: Option<f64>,
    pub value: Option<i64>,
}

impl Record {
    pub fn from_outcome(workload: &str, procs: usize, o: Outcome, cpu_ns: i64) -> Record {
        let wall_ns = u64::try_from(o.wall.as_nanos()).unwrap_or(u64::MAX);
        let per = o.per_op_ns.unwrap_or(if o.ops > 0 {
            wall_ns as f64 / o.ops as f64
        } else {
            0.0
        });
        Record {
            workload: workload.to_string(),
            procs,
            n: o.ops,
            wall_ns,
            // Two decimals, truncated, as the Go version does.
            per_op_ns: (per * 100.0).trunc() / 100.0,
            peak_rss_kib: peak_rss_kib(),
            ok: o.ok,
            note: o.note,
            cpu_ns,
            bytes_per_g: o.bytes_per_g,
            value: o.value,
        }
    }

    /// A failed run that produced no outcome (panic, crash, timeout).
    pub fn failure(workload: &str, procs: usize, n: u64, note: String) -> Record {
        Record {
            workload: workload.to_string(),
            procs,
            n,
            wall_ns: 0,
            per_op_ns: 0.0,
            peak_rss_kib: -1,
            ok: false,
            note,
            cpu_ns: -1,
            bytes_per_g: None,
            value: None,
        }
    }

    pub fn to_json(&self) -> String {
        let mut s = String::with_capacity(256);
        s.push_str("{\"runtime\":\"gort\",\"workload\":");
        json_str(&mut s, &self.workload);
        let _ = write!(
            s,
            ",\"procs\":{},\"n\":{},\"wall_ns\":{},\"per_op_ns\":{},\"peak_rss_kib\":{},\"ok\":{},\"note\":",
            self.procs,
            self.n,
            self.wall_ns,
            json_f64(self.per_op_ns),
            self.peak_rss_kib,
            self.ok
        );
        json_str(&mut s, &self.note);
        let _ = write!(s, ",\"cpu_ns\":{}", self.cpu_ns);
        if let Some(b) = self.bytes_per_g {
            let _ = write!(s, ",\"bytes_per_g\":{}", json_f64(b));
        }
        if let Some(v) = self.value {
            let _ = write!(s, ",\"value\":{v}");
        }
        s.push_str(",\"version\":");
        json_str(&mut s, concat!("gort ", env!("CARGO_PKG_VERSION")));
        s.push('}');
        s
    }

    /// Parses a line this program printed (used by the suite runner to read its children).
    /// Only the fields the table needs; anything else keeps its default.
    pub fn from_json(line: &str) -> Option<Record> {
        let line = line.trim();
        if !line.starts_with('{') {
            return None;
        }
        let num = |key: &str| -> Option<f64> {
            let pat = format!("\"{key}\":");
            let rest = &line[line.find(&pat)? + pat.len()..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim().parse().ok()
        };
        let string = |key: &str| -> Option<String> {
            let pat = format!("\"{key}\":\"");
            let rest = &line[line.find(&pat)? + pat.len()..];
            let mut out = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '"' => return Some(out),
                    '\\' => match chars.next()? {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        'r' => out.push('\r'),
                        'u' => {
                            let hex: String = chars.by_ref().take(4).collect();
                            out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                        }
                        other => out.push(other),
                    },
                    c => out.push(c),
                }
            }
            None
        };
        Some(Record {
            workload: string("workload")?,
            procs: num("procs")? as usize,
            n: num("n")? as u64,
            wall_ns: num("wall_ns").unwrap_or(0.0) as u64,
            per_op_ns: num("per_op_ns").unwrap_or(0.0),
            peak_rss_kib: num("peak_rss_kib").unwrap_or(-1.0) as i64,
            ok: line.contains("\"ok\":true"),
            note: string("note").unwrap_or_default(),
            cpu_ns: num("cpu_ns").unwrap_or(-1.0) as i64,
            bytes_per_g: num("bytes_per_g"),
            value: num("value").map(|v| v as i64),
        })
    }
}

fn json_f64(v: f64) -> String {
    if v.is_finite() {
        // Display never uses exponents, so this is always a valid JSON number.
        format!("{v}")
    } else {
        "null".to_string()
    }
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn rusage() -> Option<libc::rusage> {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `struct rusage` into the valid, writable buffer we pass.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, ru.as_mut_ptr()) };
    // SAFETY: on success the kernel filled the struct (and it was zeroed before anyway).
    (rc == 0).then(|| unsafe { ru.assume_init() })
}

/// Peak resident set of this process, KiB (ru_maxrss is KiB on Linux); -1 if unavailable.
pub fn peak_rss_kib() -> i64 {
    rusage().map_or(-1, |ru| ru.ru_maxrss)
}

/// Process CPU time (user + system) in ns; -1 if unavailable.
pub fn cpu_ns() -> i64 {
    rusage().map_or(-1, |ru| {
        let tv = |t: libc::timeval| t.tv_sec * 1_000_000_000 + t.tv_usec * 1_000;
        tv(ru.ru_utime) + tv(ru.ru_stime)
    })
}

/// Current resident set (VmRSS from /proc/self/status) in bytes.
pub fn vm_rss_bytes() -> Option<i64> {
    proc_status_bytes("VmRSS")
}

/// A size field of /proc/self/status (VmRSS, VmPTE, ...) in bytes.
pub fn proc_status_bytes(field: &str) -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find(|l| l.strip_prefix(field).is_some_and(|r| r.starts_with(':')))?;
    let kib: i64 = line[field.len() + 1..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024)
}
