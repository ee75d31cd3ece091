//! Entry points and environment variables, each in a child process: what `#[gort::main]`
//! does with a result, an exit code, a panic and its `procs` argument; and bad, empty and good
//! values of GOMAXPROCS, GORT_STACK_SIZE and GORT_STACK_GUARD (a warning each, and the
//! default used).

use super::*;

#[test]
fn main_result_err_exits_1() {
    let out = run("main_err", None, &[]);
    out.assert_exit(1).assert_stderr_has("Error: \"bad\"");
}

#[test]
fn main_procs_sets_gomaxprocs() {
    let out = run("main_procs", None, &[]);
    out.assert_exit(0).assert_stdout_has("procs=3\n");
    // The attribute wins over the environment.
    let out = run("main_procs", None, &[("GOMAXPROCS", "5")]);
    out.assert_exit(0).assert_stdout_has("procs=3\n");
}

#[test]
fn main_exit_code_is_the_exit_status() {
    let out = run("main_exit_code", None, &[]);
    out.assert_exit(3).assert_stdout_has("exiting with 3\n");
}

#[test]
fn main_panic_exits_101() {
    let out = run("main_panic", None, &[]);
    out.assert_exit(101)
        .assert_stderr_has("main goroutine panicked on purpose")
        .assert_stdout_has("spawned at gort-testprogs/src/bin/main_panic.rs:5:");
}

fn ncpu() -> String {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .to_string()
}

/// Checks that `bad_env` ran normally with `procs` processors and printed exactly one warning
/// starting with each of `warnings` (and no other warning).
fn check_bad_env(env: &[(&str, &str)], procs: &str, warnings: &[&str]) {
    let out = scenario("bad_env", env);
    out.assert_exit(0).assert_stdout_has("joined=42\n");
    assert_eq!(out.stdout_value("procs"), procs, "{out}");
    for w in warnings {
        let prefix = format!("gort: warning: {w}");
        assert_eq!(
            out.stderr_lines(&prefix).len(),
            1,
            "want one `{prefix}` line: {out}"
        );
    }
    assert_eq!(
        out.stderr_lines("gort: warning:").len(),
        warnings.len(),
        "want exactly {} warnings: {out}",
        warnings.len()
    );
}

#[test]
fn bad_env_warns_and_uses_defaults() {
    check_bad_env(
        &[("GOMAXPROCS", "abc"), ("GORT_STACK_SIZE", "zz")],
        &ncpu(),
        &["GOMAXPROCS=", "GORT_STACK_SIZE="],
    );
}

/// Bad input: a zero stack size warns and the 256 KiB default is used (the warning
/// names it).
#[test]
fn stack_size_zero_warns_and_uses_the_default() {
    let out = scenario("bad_env", &[("GORT_STACK_SIZE", "0")]);
    out.assert_exit(0).assert_stdout_has("joined=42\n");
    let lines = out.stderr_lines("gort: warning: GORT_STACK_SIZE=");
    assert_eq!(lines.len(), 1, "{out}");
    assert!(lines[0].ends_with("using 262144"), "{out}");
}

#[test]
fn gomaxprocs_zero_warns() {
    check_bad_env(&[("GOMAXPROCS", "0")], &ncpu(), &["GOMAXPROCS="]);
}

/// Empty variables are unset, as an empty GOMAXPROCS is in Go: no warning.
#[test]
fn empty_variables_are_unset() {
    check_bad_env(
        &[
            ("GOMAXPROCS", ""),
            ("GORT_STACK_SIZE", ""),
            ("GORT_STACK_GUARD", ""),
        ],
        &ncpu(),
        &[],
    );
}

/// A GOMAXPROCS above the runtime's 256 processors warns and uses 256.
#[test]
fn gomaxprocs_above_the_limit_warns() {
    check_bad_env(&[("GOMAXPROCS", "100000")], "256", &["GOMAXPROCS="]);
}

#[test]
fn bad_stack_guard_warns() {
    check_bad_env(
        &[("GORT_STACK_GUARD", "bogus")],
        &ncpu(),
        &["GORT_STACK_GUARD="],
    );
}

#[test]
fn good_env_is_silent() {
    check_bad_env(
        &[
            ("GOMAXPROCS", "3"),
            ("GORT_STACK_SIZE", "1m"),
            ("GORT_STACK_GUARD", "mprotect"),
        ],
        "3",
        &[],
    );
}
