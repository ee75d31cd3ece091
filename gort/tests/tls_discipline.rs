//! Thread-locals and migrating goroutines (ARCHITECTURE.md, decision "thread-locals").
//!
//! A goroutine can move to another thread at any switch. LLVM treats a thread-local's address
//! as constant within a function, so a read before a switch and one after it may be merged,
//! and the second then uses the first thread's variable. gort reads its thread-locals only in
//! small functions that start with an empty `asm!` statement (which LLVM must assume has side
//! effects), or in functions that only ever run on one thread (thread start and exit, foreign
//! threads calling back, plain threads). `std::thread::panicking()` reads std's thread-local
//! panic count, so it is read only through `rt::g::thread_panicking`.
//!
//! Whether a merged read happens depends on inlining, so no runtime test can catch one
//! reliably. This test checks the rule on the source instead: every thread-local access in
//! gort/src is in a barrier function or in the list of one-thread functions below.

use std::fs;
use std::path::{Path, PathBuf};

/// The barrier every thread-local accessor starts with.
const BARRIER: &str = "std::arch::asm!(\"\", options(nostack, preserves_flags))";

/// Functions that read thread-locals without the barrier, and why that is sound.
const ONE_THREAD: &[(&str, &str, &str)] = &[
    (
        "stack/overflow.rs",
        "on_thread_start",
        "runs at an M's thread start",
    ),
    (
        "stack/overflow.rs",
        "on_thread_exit",
        "runs as a thread exits",
    ),
    (
        "rt/cgo.rs",
        "bound_m",
        "a foreign thread's callback, which never migrates",
    ),
    (
        "rt/cgo.rs",
        "drop",
        "the foreign thread's binding, dropped as the thread exits",
    ),
    ("rt/g.rs", "thread_g", "plain threads only"),
    (
        "rt/g.rs",
        "thread_waiting",
        "plain threads only (its caller has no M)",
    ),
    (
        "rt/g.rs",
        "drop",
        "a plain thread's G, dropped as the thread exits",
    ),
    (
        "rt/m.rs",
        "set_current_m",
        "binds the calling thread, before any switch",
    ),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("read gort/src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Names of the statics declared in `thread_local!` blocks of `src`.
fn thread_locals(src: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut inside = false;
    for line in src.lines() {
        let t = line.trim();
        if t.starts_with("thread_local!") {
            inside = true;
        } else if inside && t == "}" {
            inside = false;
        } else if inside && let Some(rest) = t.strip_prefix("static ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            names.push(name);
        }
    }
    names
}

/// The function enclosing line `at`: its name and the text from its signature up to `at`.
fn enclosing_fn(lines: &[&str], at: usize) -> (String, String) {
    for i in (0..=at).rev() {
        let t = lines[i].trim_start();
        let sig = [
            "fn ",
            "pub fn ",
            "pub(crate) fn ",
            "unsafe fn ",
            "pub(crate) unsafe fn ",
        ]
        .iter()
        .find_map(|p| t.strip_prefix(p));
        if let Some(rest) = sig {
            let name = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            return (name, lines[i..=at].join("\n"));
        }
    }
    (String::new(), String::new())
}

#[test]
fn thread_locals_are_read_behind_a_barrier_or_on_one_thread() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let mut accesses = 0;
    let mut bad = Vec::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let src = fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = src.lines().collect();
        let mut needles: Vec<String> = thread_locals(&src)
            .into_iter()
            .flat_map(|n| [format!("{n}.with("), format!("{n}.try_with(")])
            .collect();
        needles.push("std::thread::panicking()".into());
        for (i, line) in lines.iter().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if !needles.iter().any(|n| code.contains(n.as_str())) {
                continue;
            }
            accesses += 1;
            let (name, body) = enclosing_fn(&lines, i);
            let barrier = body.contains(BARRIER);
            let one_thread = ONE_THREAD
                .iter()
                .any(|(file, func, _)| *file == rel && *func == name);
            if !barrier && !one_thread {
                bad.push(format!("{rel}:{} in fn {name}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        accesses >= 5,
        "found only {accesses} thread-local reads: is the scan broken?"
    );
    assert!(
        bad.is_empty(),
        "thread-local reads that a migrating goroutine could merge across a switch (read them \
         behind the asm barrier, as rt::m::current_m does, or through rt::g::thread_panicking):\n{}",
        bad.join("\n")
    );
}
