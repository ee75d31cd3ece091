//! gort::signal, each scenario in a child process (gort-testprogs' `signal_*` scenarios): notify
//! and stop (the default action comes back), an empty list (every signal), two receivers, a storm
//! of 10,000 signals (coalesced, never lost entirely, no crash), chaining to a handler installed
//! before gort, SIGINT's default action when nobody is notified, SIGQUIT received instead of dumped
//! while notified, and a clear panic for a signal that cannot be caught.

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use gort_test_support::{Artifacts, Output, build_package, run_child};

fn scenario(name: &str) -> Output {
    let dir = build_package("gort-testprogs", Artifacts::Bins, &["gort-testprogs"]);
    let mut cmd = Command::new(dir.join("gort-testprogs"));
    cmd.arg(name);
    run_child(cmd, Duration::from_secs(60))
}

#[test]
fn notify_then_stop_restores_the_default_action() {
    let out = scenario("signal_notify_stop");
    assert!(
        out.stdout.contains("delivered") && out.stdout.contains("stopped"),
        "{out}"
    );
    assert_eq!(out.status.signal(), Some(libc::SIGUSR1), "{out}");
}

#[test]
fn reset_ends_delivery_everywhere_and_restores_the_default_action() {
    let out = scenario("signal_reset");
    assert!(out.stdout.contains("reset"), "{out}");
    assert_eq!(out.status.signal(), Some(libc::SIGUSR1), "{out}");
}

#[test]
fn an_ignored_signal_neither_arrives_nor_kills() {
    let out = scenario("signal_ignore");
    assert!(out.stdout.contains("ignored and alive"), "{out}");
    assert!(out.status.success(), "{out}");
    assert!(
        !out.stderr.contains("goroutine"),
        "an ignored SIGQUIT dumped: {out}"
    );
}

#[test]
fn an_ignore_before_the_runtime_starts_holds_for_sigquit() {
    let out = scenario("signal_ignore_before_start");
    assert!(
        out.stdout.contains("ignored before start and alive"),
        "{out}"
    );
    assert!(out.status.success(), "{out}");
}

#[test]
fn notify_context_is_cancelled_by_a_signal_then_lets_it_go() {
    let out = scenario("signal_notify_context");
    assert!(out.stdout.contains("cancelled by the signal"), "{out}");
    assert_eq!(out.status.signal(), Some(libc::SIGUSR1), "{out}");
}

#[test]
fn an_empty_list_relays_every_signal() {
    let out = scenario("signal_notify_all");
    assert!(out.stdout.contains("all relayed"), "{out}");
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{out}");
}

#[test]
fn two_receivers() {
    let out = scenario("signal_two_receivers");
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("both received"), "{out}");
}

#[test]
fn a_storm_of_ten_thousand_signals() {
    let out = scenario("signal_storm");
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("storm: 10000 sent"), "{out}");
}

#[test]
fn a_handler_installed_before_gort_is_chained() {
    let out = scenario("signal_chained");
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("chained"), "{out}");
}

#[test]
fn sigint_keeps_its_default_action() {
    let out = scenario("signal_sigint_default");
    assert_eq!(out.status.signal(), Some(libc::SIGINT), "{out}");
    assert!(!out.stdout.contains("still alive"), "{out}");
}

#[test]
fn a_dropped_receiver_leaves_the_signal_its_default_action() {
    let out = scenario("signal_dropped_receiver");
    assert!(out.stdout.contains("dropped"), "{out}");
    assert_eq!(out.status.signal(), Some(libc::SIGTERM), "{out}");
    assert!(!out.stdout.contains("still alive"), "{out}");
}

#[test]
fn a_closed_tcp_peer_is_broken_pipe_never_sigpipe() {
    let out = scenario("signal_sigpipe_default");
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(
        out.stdout
            .contains("write: Err(BrokenPipe); write_vectored: Err(BrokenPipe)"),
        "{out}"
    );
}

#[test]
fn sigquit_is_received_while_notified_and_dumps_after_stop() {
    let out = scenario("signal_sigquit_notified");
    assert!(out.stdout.contains("received SIGQUIT"), "{out}");
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("SIGQUIT: quit"), "{out}");
    assert!(!out.stdout.contains("still alive"), "{out}");
}

#[test]
fn a_signal_that_cannot_be_caught_is_a_clear_error() {
    let out = scenario("signal_bad");
    assert!(out.stdout.contains("signal 9 cannot be caught"), "{out}");
}
