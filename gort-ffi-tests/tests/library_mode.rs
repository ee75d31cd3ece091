//! Library mode: gort-ffi-lib built as a `staticlib` and as a `cdylib`, driven by C host programs
//! (csrc/lib_host.c) that this test compiles with the system C compiler and runs. Each host calls
//! the exported functions from 4 pthreads at once and checks every result; loading the library
//! must start no threads.
//!
//! The library is found next to this test's `deps/` directory (target/<profile>/), after
//! `cargo build -p gort-ffi-lib` in the same profile and target directory (once per test process,
//! by `gort_test_support::build_package`; a no-op when it is up to date, and it keeps the library
//! from going stale).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use gort_test_support::{Artifacts, Output, bounded, build_package, profile, run_child};

const TIMEOUT: Duration = Duration::from_secs(30);
const NTHREADS: u64 = 4;
const ROUNDS: u64 = 10;

/// target/<profile>, with gort-ffi-lib built into it.
fn lib_dir() -> &'static Path {
    build_package(
        "gort-ffi-lib",
        Artifacts::Lib,
        &["libgort_ffi_lib.a", "libgort_ffi_lib.so"],
    )
}

/// Compiles csrc/lib_host.c into `name` with extra arguments; returns the executable.
fn compile_host(name: &str, args: &[&str]) -> PathBuf {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", profile()));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("csrc/lib_host.c");
    let include = Path::new(env!("CARGO_MANIFEST_DIR")).join("../gort-ffi-lib/include");
    let cc = std::env::var_os("CC").unwrap_or_else(|| "cc".into());
    let mut cmd = Command::new(cc);
    cmd.args(["-O2", "-Wall", "-pthread", "-o"])
        .arg(&out)
        .arg("-I")
        .arg(&include)
        .arg(&src)
        .args(args);
    let res = cmd
        .output()
        .unwrap_or_else(|e| panic!("could not run the C compiler {cmd:?}: {e}"));
    assert!(
        res.status.success(),
        "{cmd:?} failed ({}):\n{}",
        res.status,
        String::from_utf8_lossy(&res.stderr)
    );
    out
}

fn sum_of_squares(n: u64) -> u64 {
    n * (n + 1) * (2 * n + 1) / 6
}

/// Checks a host's output: status 0, "ok", no threads started by loading, the exact total.
fn check(out: &Output) {
    out.assert_success().assert_stdout_has("\nok\n");
    let value = |key: &str| -> i64 {
        let v = out.stdout_value(key);
        v.parse()
            .unwrap_or_else(|_| panic!("want a number in `{key}={v}`: {out}"))
    };
    let start = value("threads_start");
    assert_eq!(
        start, 1,
        "the host had other threads at the start of main: {out}"
    );
    assert_eq!(
        value("threads_loaded"),
        start,
        "loading the library started threads: {out}"
    );
    assert!(
        value("threads_after_use") > start,
        "the runtime should have started threads once used: {out}"
    );
    let want: u64 = (0..NTHREADS)
        .flat_map(|id| (0..ROUNDS).map(move |r| sum_of_squares(50 + 10 * id + r)))
        .sum();
    assert_eq!(value("total") as u64, want, "{out}");
    let extra = value("extra_threads");
    assert!(
        (1..=NTHREADS as i64).contains(&extra),
        "4 calling threads should bind between 1 and 4 extra Ms: {out}"
    );
}

#[test]
fn staticlib_from_four_pthreads() {
    // Generous: the first test to run builds the library with cargo.
    bounded(300, || {
        let lib = lib_dir().join("libgort_ffi_lib.a");
        let lib = lib.to_str().expect("utf-8 path");
        let host = compile_host(
            "lib_host_static",
            &[lib, "-lgcc_s", "-lutil", "-lrt", "-lpthread", "-lm", "-ldl"],
        );
        check(&run_child(Command::new(host), TIMEOUT));
    });
}

#[test]
fn cdylib_via_dlopen_from_four_pthreads() {
    // Generous: the first test to run builds the library with cargo.
    bounded(300, || {
        let lib = lib_dir().join("libgort_ffi_lib.so");
        let host = compile_host("lib_host_dlopen", &["-DHOST_DLOPEN", "-ldl"]);
        let mut cmd = Command::new(host);
        cmd.arg(lib);
        check(&run_child(cmd, TIMEOUT));
    });
}
