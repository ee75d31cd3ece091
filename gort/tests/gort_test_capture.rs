//! `#[gort::test]` under libtest's output capture, as `#[test]`: a failing test's panic report
//! appears in that test's own section of the failure list, and a passing `should_panic` test
//! prints nothing. The tests run this binary again as a child with one of the ignored tests
//! below, and read what libtest printed.

use std::process::Command;

#[gort::test]
#[ignore = "run as a child by a_failing_tests_panic_report_is_in_its_own_section"]
fn child_fails() {
    println!("CHILD-OUTPUT");
    panic!("child failed on purpose");
}

#[gort::test(timeout = 30)]
#[ignore = "run as a child by a_failing_tests_panic_report_is_in_its_own_section"]
fn child_fails_with_a_timeout_set() {
    panic!("child failed on purpose");
}

#[gort::test]
#[should_panic(expected = "expected by the test")]
#[ignore = "run as a child by a_passing_should_panic_test_prints_nothing"]
fn child_should_panic() {
    panic!("expected by the test");
}

/// Runs this binary with only the ignored test `name`; returns (success, stdout, stderr).
fn child(name: &str) -> (bool, String, String) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let name = name.to_string();
    let out = gort_test_support::bounded(60, move || {
        Command::new(exe)
            .args(["--ignored", "--exact", &name, "--test-threads=1"])
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("the test binary runs")
    });
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_failing_tests_panic_report_is_in_its_own_section() {
    for name in ["child_fails", "child_fails_with_a_timeout_set"] {
        let (ok, stdout, stderr) = child(name);
        assert!(!ok, "{name} passed\n{stdout}\n{stderr}");
        let section = stdout
            .split(&format!("---- {name} stdout ----"))
            .nth(1)
            .unwrap_or_else(|| panic!("no section for {name}:\n{stdout}\n{stderr}"));
        assert!(
            section.contains("goroutine ")
                && section.contains(" panicked at gort/tests/gort_test_capture.rs:")
                && section.contains("child failed on purpose"),
            "{name}: the report is not in the section:\n{stdout}\n--- stderr ---\n{stderr}"
        );
        assert!(
            !stderr.contains("panicked"),
            "{name}: the report went around the capture:\n{stderr}"
        );
    }
}

#[test]
fn a_passing_should_panic_test_prints_nothing() {
    let (ok, stdout, stderr) = child("child_should_panic");
    assert!(ok, "{stdout}\n{stderr}");
    assert!(
        !stdout.contains("panicked") && !stderr.contains("panicked"),
        "{stdout}\n--- stderr ---\n{stderr}"
    );
}
