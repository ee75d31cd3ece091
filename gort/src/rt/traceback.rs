//! How dumps read (Go's traceback.go: `showframe`, `goroutineheader`; and the grouping of the
//! debug=1 goroutine profile in pprof's `printCountProfile`), and `GORT_TRACEBACK`.
//!
//! Trimming: a parked goroutine's backtrace starts deep in the runtime (the capture, the
//! switch, park, the channel's internals) and ends in the goroutine's entry trampoline and the
//! `catch_unwind` around its body. Both ends are cut, as Go's traceback hides `runtime.*`
//! frames: what is left starts at the gort call the goroutine blocks in (`Receiver::recv`) and
//! ends at the goroutine's body.
//!
//! Grouping: goroutines with the same state, spawn site and trimmed stack are printed once,
//! under a header that counts them ("1,000 goroutines [chan receive, 3 minutes]:"), followed by
//! a line per goroutine for the first few (so that `goroutine 17 [chan receive, ...` still
//! finds a goroutine that shares its stack with others) and the rest of the ids as ranges.
//!
//! `GORT_TRACEBACK` follows GOTRACEBACK: `none` prints no goroutines (SIGQUIT, the deadlock
//! report and fatal errors give their one line; panics print no backtrace), `single` (the
//! default) dumps every goroutine on SIGQUIT and deadlock as Go does, `all` adds the dump to
//! fatal errors, and `crash` also ends SIGQUIT and the deadlock report with SIGABRT (a core
//! dump, where enabled) instead of exit status 2.
//!
//! Dumps leave out the runtime's own goroutines (the signal dispatcher, a context's deadline
//! canceller: those `num_goroutines` does not count), as Go's traceback leaves out system
//! goroutines, unless the level is `system` (`all` with them) or `crash`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::Relaxed};

/// GORT_TRACEBACK levels.
pub(crate) const NONE: u8 = 0;
pub(crate) const SINGLE: u8 = 1;
pub(crate) const ALL: u8 = 2;
pub(crate) const CRASH: u8 = 3;

static LEVEL: AtomicU8 = AtomicU8::new(SINGLE);
/// Whether dumps list the runtime's own goroutines (`system` and `crash`).
static SYSTEM: AtomicBool = AtomicBool::new(false);

/// The GORT_TRACEBACK level.
pub(crate) fn level() -> u8 {
    LEVEL.load(Relaxed)
}

/// Whether dumps list the runtime's own goroutines.
pub(crate) fn shows_runtime_goroutines() -> bool {
    SYSTEM.load(Relaxed)
}

/// Reads GORT_TRACEBACK (at runtime start).
pub(crate) fn read_env() {
    let Ok(v) = std::env::var("GORT_TRACEBACK") else {
        return;
    };
    let level = match v.trim() {
        "none" | "0" => NONE,
        "single" | "" => SINGLE,
        "all" | "1" => ALL,
        "system" | "2" => {
            SYSTEM.store(true, Relaxed);
            ALL
        }
        "crash" => {
            SYSTEM.store(true, Relaxed);
            CRASH
        }
        other => {
            super::start::warn(&format!(
                "GORT_TRACEBACK={other:?} is not one of none, single, all, system, crash; \
                 using single"
            ));
            SINGLE
        }
    };
    LEVEL.store(level, Relaxed);
    if level == CRASH {
        crate::util::fatal::set_crash();
    }
    if level >= ALL {
        crate::util::fatal::set_on_fatal(dump_on_fatal);
    }
}

/// Dumps every goroutine after a fatal error's message (GORT_TRACEBACK=all or crash).
fn dump_on_fatal() {
    let mut out = Vec::new();
    let _ = writeln!(out);
    // An error that struck inside a dump must not wait for the dump's lock: that would hang
    // the abort.
    if super::dump::try_dump(&mut out).is_none() {
        out.extend_from_slice(b"(no goroutine dump: the error struck inside one)\n");
    }
    crate::util::write_stderr(&out);
}

/// One goroutine, as the dump captured it.
pub(crate) struct Entry {
    pub(crate) id: u64,
    pub(crate) name: Option<String>,
    /// "chan receive", "running", ...
    pub(crate) state: &'static str,
    /// How long it has waited (ns), for a parked goroutine.
    pub(crate) waited: Option<i64>,
    pub(crate) site: Option<String>,
    /// The trimmed backtrace, or None if it could not be taken.
    pub(crate) stack: Option<String>,
}

/// Frames of the runtime itself at the top of a parked goroutine's stack.
const RUNTIME: &[&str] = &[
    "gort::rt::",
    "gort::arch::",
    "gort::wait::",
    "gort::stack::",
    "gort::sys::",
    "gort::util::",
    "gort::chan::raw::",
    "gort::chan::stash::",
    "gort::goroutine::Packet",
    "std::backtrace",
    "std::sys::backtrace",
];

/// Frames below a goroutine's body: its entry, and the wrappers that catch its panic. Cut from
/// the bottom up, so that a `gort::goroutine` frame the body called (`JoinHandle::join`) stays.
const ENTRY: &[&str] = &["gort::rt::spawn::", "gort::goroutine::", "gort::arch::"];
const WRAPPERS: &[&str] = &[
    "std::panicking::",
    "std::panic::",
    "core::panic::",
    "<core::panic::",
    "core::ops::function::",
    "__rust_try",
];

/// `bt` (std's Display of a backtrace) with the runtime's frames cut from both ends and the
/// rest renumbered. The whole backtrace if nothing would be left.
pub(crate) fn trim(bt: &str) -> String {
    let starts = |name: &str, set: &[&str]| set.iter().any(|p| name.starts_with(p));
    trim_with(bt, |frames| {
        frames
            .iter()
            .position(|f| !starts(f.0, RUNTIME))
            .unwrap_or(frames.len())
    })
}

/// A panicking goroutine's backtrace (`bt`, taken in the panic hook) in std's short form: from
/// the frame after std's `__rust_end_short_backtrace` marker (the panic machinery and the hook
/// are above it) down to the goroutine's body (its entry frames cut, as in `trim`).
pub(crate) fn trim_panic(bt: &str) -> String {
    trim_with(bt, |frames| {
        frames
            .iter()
            .rposition(|f| f.0.contains("__rust_end_short_backtrace"))
            .map_or(0, |i| i + 1)
    })
}

/// The frames of `bt` from the one `first` picks down to the goroutine's body, renumbered.
fn trim_with(bt: &str, first: impl Fn(&[(&str, Vec<&str>)]) -> usize) -> String {
    // Frames: a "  N: name" line followed by "at file:line" lines.
    let mut frames: Vec<(&str, Vec<&str>)> = Vec::new();
    for line in bt.lines() {
        let t = line.trim_start();
        match t.split_once(": ") {
            Some((n, name)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => {
                frames.push((name, Vec::new()))
            }
            _ => match frames.last_mut() {
                Some(f) if !t.is_empty() => f.1.push(t),
                _ => {}
            },
        }
    }
    let starts = |name: &str, set: &[&str]| set.iter().any(|p| name.starts_with(p));
    let first = first(&frames);
    let mut last = frames.len();
    while last > first
        && (starts(frames[last - 1].0, ENTRY) || starts(frames[last - 1].0, WRAPPERS))
    {
        last -= 1;
    }
    if first >= last {
        return bt.to_string();
    }
    let mut out = String::new();
    for (i, (name, locs)) in frames[first..last].iter().enumerate() {
        out.push_str(&format!("  {i:>2}: {name}\n"));
        for l in locs {
            out.push_str(&format!("             {l}\n"));
        }
    }
    out
}

/// "5 ms", "12 s", "3 minutes".
pub(crate) fn waited(ns: i64) -> String {
    let ms = ns / 1_000_000;
    if ms < 10_000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{} s", ms / 1000)
    } else {
        format!("{} minutes", ms / 60_000)
    }
}

/// `n` with thousands separators.
fn count(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Members listed by name in a group's section before the rest go by id ranges.
const LISTED: usize = 10;

/// Writes the entries, grouped (module doc), in the order of each group's first member.
pub(crate) fn write_grouped(w: &mut dyn Write, entries: Vec<Entry>) -> io::Result<()> {
    let mut groups: Vec<Vec<Entry>> = Vec::new();
    let mut index: std::collections::HashMap<_, usize> = std::collections::HashMap::new();
    for e in entries {
        let key = (e.state, e.site.clone(), e.stack.clone());
        match index.get(&key) {
            Some(&i) => groups[i].push(e),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![e]);
            }
        }
    }
    for mut g in groups {
        g.sort_by_key(|e| e.id);
        let first = &g[0];
        let state = |e: &Entry| match e.waited {
            Some(ns) => format!("{}, {}", e.state, waited(ns)),
            None => e.state.to_string(),
        };
        let header = |e: &Entry| match &e.name {
            Some(name) => format!("goroutine {} {name:?} [{}]", e.id, state(e)),
            None => format!("goroutine {} [{}]", e.id, state(e)),
        };
        if g.len() == 1 {
            writeln!(w, "{}:", header(first))?;
        } else {
            let waits: Vec<i64> = g.iter().filter_map(|e| e.waited).collect();
            let span = match (waits.iter().min(), waits.iter().max()) {
                (Some(&lo), Some(&hi)) if waited(lo) == waited(hi) => format!(", {}", waited(hi)),
                (Some(&lo), Some(&hi)) => format!(", {} - {}", waited(lo), waited(hi)),
                _ => String::new(),
            };
            writeln!(w, "{} goroutines [{}{span}]:", count(g.len()), first.state)?;
            for e in g.iter().take(LISTED) {
                writeln!(w, "  {}", header(e))?;
            }
            if g.len() > LISTED {
                let rest: Vec<u64> = g[LISTED..].iter().map(|e| e.id).collect();
                writeln!(w, "  ... and {} more: {}", count(rest.len()), ranges(&rest))?;
            }
        }
        if let Some(site) = &first.site {
            writeln!(w, "  spawned at {site}")?;
        }
        match &first.stack {
            Some(s) => writeln!(w, "{s}")?,
            // Parked by blocking its own thread (locked to it, unwinding, or a callback on a
            // foreign thread): only switched-out stacks can be borrowed.
            None if first.waited.is_some() => writeln!(
                w,
                "  (no stack: the goroutine waits on its own OS thread, whose stack a dump cannot borrow)\n"
            )?,
            None => writeln!(w, "  (no stack: the goroutine is not parked)\n")?,
        }
    }
    Ok(())
}

/// Sorted ids as "3, 5-9, 12".
fn ranges(ids: &[u64]) -> String {
    let mut out = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        out.push(if j > i {
            format!("{}-{}", ids[i], ids[j])
        } else {
            ids[i].to_string()
        });
        i = j + 1;
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_frames_are_cut_from_both_ends() {
        let bt = "   0: gort::rt::dump::capture_and_return
             at ./gort/src/rt/dump.rs:65:14
   1: gort::rt::park::park
   2: gort::chan::raw::RawChan::op
   3: gort::chan::Receiver<T>::recv
             at ./gort/src/chan/mod.rs:211:33
   4: app::worker::{{closure}}
             at ./src/main.rs:34:16
   5: <core::panic::unwind_safe::AssertUnwindSafe<F> as core::ops::function::FnOnce<()>>::call_once
   6: std::panicking::catch_unwind
   7: gort::goroutine::go::{{closure}}
   8: gort::rt::spawn::run_inline
   9: gort::arch::x86_64::trampoline
";
        assert_eq!(
            trim(bt),
            "   0: gort::chan::Receiver<T>::recv
             at ./gort/src/chan/mod.rs:211:33
   1: app::worker::{{closure}}
             at ./src/main.rs:34:16
"
        );
        // A join: the join's own frame stays, the entry below the body goes.
        let join = "   0: gort::rt::park::park
   1: gort::goroutine::Packet<T>::join
   2: gort::goroutine::JoinHandle<T>::join
             at ./gort/src/goroutine.rs:191:21
   3: app::main::{{closure}}
   4: std::panicking::catch_unwind
   5: gort::goroutine::packet_body::{{closure}}
   6: gort::rt::spawn::run_inline
   7: std::panic::catch_unwind
   8: gort::rt::spawn::g_entry
   9: gort::arch::x86_64::trampoline
";
        assert_eq!(
            trim(join),
            "   0: gort::goroutine::JoinHandle<T>::join
             at ./gort/src/goroutine.rs:191:21
   1: app::main::{{closure}}
"
        );
        // Nothing but runtime: kept whole.
        let only = "   0: gort::rt::park::park\n";
        assert_eq!(trim(only), only);
    }

    #[test]
    fn identical_goroutines_are_grouped() {
        let e = |id, state, stack: &str| Entry {
            id,
            name: None,
            state,
            waited: Some(5_000_000),
            site: Some("a.rs:1:1".into()),
            stack: Some(stack.into()),
        };
        let mut entries: Vec<Entry> = (1..=20).map(|i| e(i, "chan receive", "  0: f\n")).collect();
        entries.push(e(30, "chan receive", "  0: g\n"));
        let mut out = Vec::new();
        write_grouped(&mut out, entries).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with(
                "20 goroutines [chan receive, 5 ms]:\n  goroutine 1 [chan receive, 5 ms]\n"
            ),
            "{text}"
        );
        assert!(text.contains("  ... and 10 more: 11-20\n"), "{text}");
        assert!(
            text.contains("goroutine 30 [chan receive, 5 ms]:\n  spawned at a.rs:1:1\n  0: g\n"),
            "{text}"
        );
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(1_000), "1,000");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(ranges(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        assert_eq!(waited(5_000_000), "5 ms");
        assert_eq!(waited(15_000_000_000), "15 s");
        assert_eq!(waited(180_000_000_000), "3 minutes");
    }
}
