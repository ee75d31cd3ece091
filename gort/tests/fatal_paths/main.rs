//! Fatal and edge paths, each run in a child process (as Go's `runtime/crash_test.go` runs
//! `testdata/testprog`): stack overflow reports, deep stacks that fit, the mapping budget of the
//! mprotect guard mechanism, panics in goroutines and in `#[gort::main]`, and bad environment
//! variables (those two in `env`). Each test asserts the child's exit status (or signal) and its
//! output.
//!
//! The children are the binaries of the `gort-testprogs` crate. `CARGO_BIN_EXE_*` only names bins
//! of this package, so the first test to need them runs `cargo build -p gort-testprogs` once per
//! test process (`gort_test_support::build_package`), in the same profile and target directory as
//! this test binary (a no-op when they are up to date; running it every time keeps them from
//! going stale after a change to gort), and finds them next to `deps/`, where this test binary
//! lives. Children run without core dumps and with the runtime's environment variables cleared
//! (`gort_test_support::run_child`); every child is killed and the test fails if it runs longer
//! than `TIMEOUT`.

use std::process::Command;
use std::time::Duration;

use gort_test_support::{Artifacts, Output, build_package, run_child, run_limited};

mod env;

/// Why the deadlock-dump tests skip themselves under qemu-user: the emulator adds threads of its
/// own to /proc/self/status, and the deadlock detector declares a deadlock only when every OS
/// thread of the process is one of the runtime's.
const QEMU_THREADS: &str = "qemu-user's own threads keep the deadlock detector from firing";

/// The longest any child may run.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The scenario binary; the `#[gort::main]` programs are separate binaries of the same crate.
const TESTPROGS: &str = "gort-testprogs";

/// The command `bin arg` with `env` set, `bin` being a gort-testprogs binary (built first).
fn command(bin: &str, arg: Option<&str>, env: &[(&str, &str)]) -> Command {
    let dir = build_package(TESTPROGS, Artifacts::Bins, &[TESTPROGS]);
    let mut cmd = Command::new(dir.join(bin));
    cmd.args(arg).envs(env.iter().copied());
    cmd
}

/// Runs `bin arg` with the runtime variables cleared and then `env` set; waits at most `TIMEOUT`.
fn run(bin: &str, arg: Option<&str>, env: &[(&str, &str)]) -> Output {
    run_child(command(bin, arg, env), TIMEOUT)
}

fn scenario(name: &str, env: &[(&str, &str)]) -> Output {
    run(TESTPROGS, Some(name), env)
}

/// A parsed `fatal error: goroutine <id> stack overflow (limit <n> bytes), spawned at <loc>`.
struct OverflowReport {
    id: u64,
    limit: usize,
    spawned_at: String,
}

fn parse_overflow(out: &Output) -> OverflowReport {
    let bad = || -> ! { panic!("want a goroutine stack overflow report: {out}") };
    let lines = out.stderr_lines("fatal error: goroutine ");
    let [line] = lines[..] else { bad() };
    let rest = &line["fatal error: goroutine ".len()..];
    let (id, rest) = rest
        .split_once(" stack overflow (limit ")
        .unwrap_or_else(|| bad());
    let (limit, rest) = rest
        .split_once(" bytes), spawned at ")
        .unwrap_or_else(|| bad());
    OverflowReport {
        id: id.parse().unwrap_or_else(|_| bad()),
        limit: limit.parse().unwrap_or_else(|_| bad()),
        spawned_at: rest.to_string(),
    }
}

/// The guard mechanisms an overflow test runs under: the probed default and forced mprotect.
const MECHANISMS: &[Option<&str>] = &[None, Some("mprotect")];

/// Runs an overflowing scenario under each guard mechanism and checks the report: SIGABRT, one
/// report line naming a goroutine with an id of at least `min_id`, a limit of at least `limit`
/// bytes (and less than 16 KiB more: page rounding only), spawned in overflow.rs.
fn check_overflow(name: &str, min_id: u64, limit: usize, extra_env: &[(&str, &str)]) {
    for mechanism in MECHANISMS {
        let mut env = extra_env.to_vec();
        if let Some(m) = mechanism {
            env.push(("GORT_STACK_GUARD", m));
        }
        let out = scenario(name, &env);
        out.assert_signal(libc::SIGABRT);
        if let Some(m) = mechanism {
            assert_eq!(out.stdout_value("stack_mechanism"), *m, "{out}");
        }
        let r = parse_overflow(&out);
        assert!(r.id >= min_id, "want a goroutine id >= {min_id}: {out}");
        assert!(
            (limit..limit + (16 << 10)).contains(&r.limit),
            "want a limit of about {limit} bytes: {out}"
        );
        let (file, line) = r.spawned_at.rsplit_once(':').unwrap_or(("", ""));
        assert!(
            file.ends_with("overflow.rs") && line.parse::<u32>().is_ok(),
            "want `spawned at <...>overflow.rs:<line>`: {out}"
        );
        out.assert_stderr_lacks("panicked");
    }
}

const DEFAULT_STACK: usize = 256 << 10;

#[test]
fn overflow_recursion_is_reported() {
    check_overflow("overflow_recursion", 2, DEFAULT_STACK, &[]);
}

#[test]
fn overflow_big_array_is_reported() {
    check_overflow("overflow_big_array", 2, DEFAULT_STACK, &[]);
}

#[test]
fn overflow_custom_limit_reports_that_limit() {
    check_overflow("overflow_custom_limit", 2, 64 << 10, &[]);
}

/// At the largest limit, the report does not tell the user to raise it.
#[test]
fn overflow_at_the_largest_limit_says_so() {
    let out = scenario("overflow_recursion", &[("GORT_STACK_SIZE", "1g")]);
    out.assert_signal(libc::SIGABRT);
    assert_eq!(parse_overflow(&out).limit, 1 << 30, "{out}");
    assert!(
        out.stderr
            .contains("note: the limit is the largest a goroutine stack can have"),
        "{out}"
    );
    out.assert_stderr_lacks("help: raise the limit");
}

/// Two goroutines overflowing at once on two processors give one whole report: the second
/// waits for the first to end the process. (Before, 1 run in 10 printed the two interleaved.)
#[test]
fn two_overflows_at_once_give_one_whole_report() {
    for _ in 0..30 {
        let out = scenario("overflow_two_at_once", &[]);
        out.assert_signal(libc::SIGABRT);
        let r = parse_overflow(&out);
        assert!(r.id >= 2 && r.limit >= DEFAULT_STACK, "{out}");
        assert_eq!(out.stderr.matches("stack overflow").count(), 1, "{out}");
        assert_eq!(
            out.stderr.matches("help: raise the limit").count(),
            1,
            "{out}"
        );
    }
}

#[test]
fn overflow_after_reuse_is_reported() {
    check_overflow("overflow_after_reuse", 2, DEFAULT_STACK, &[]);
}

#[test]
fn overflow_limit_follows_gort_stack_size() {
    check_overflow(
        "overflow_recursion",
        2,
        96 << 10,
        &[("GORT_STACK_SIZE", "96k")],
    );
}

#[test]
fn overflow_in_main_goroutine_is_reported() {
    check_overflow("overflow_main_goroutine", 1, DEFAULT_STACK, &[]);
}

/// A wild read in a goroutine is not taken for an overflow: the process dies of SIGSEGV, after
/// a line that says which goroutine faulted where, as Go's "unexpected signal" report does.
#[test]
fn segv_in_goroutine_is_not_an_overflow() {
    for mechanism in MECHANISMS {
        let env: Vec<_> = mechanism
            .map(|m| ("GORT_STACK_GUARD", m))
            .into_iter()
            .collect();
        let out = scenario("segv_in_goroutine", &env);
        out.assert_signal(libc::SIGSEGV)
            .assert_stderr_lacks("stack overflow")
            .assert_stderr_has("fatal error: unexpected signal SIGSEGV (fault address 0x")
            .assert_stderr_has(") in goroutine 2, spawned at gort-testprogs/src/overflow.rs:105");
    }
}

/// A SIGSEGV sent to a goroutine (no faulting access to re-execute) is reported and kills the
/// process, as the default action would (before, the process went on after the report).
#[test]
fn a_raised_segv_is_reported_and_fatal() {
    let out = scenario("segv_raised", &[]);
    out.assert_signal(libc::SIGSEGV)
        .assert_stderr_has("fatal error: unexpected signal SIGSEGV")
        .assert_stdout_lacks("survived");
}

#[test]
fn main_thread_overflow_reaches_std_handler() {
    let out = scenario("main_thread_overflow", &[]);
    out.assert_signal(libc::SIGABRT)
        .assert_stderr_has("thread 'main'")
        .assert_stderr_has("has overflowed its stack")
        .assert_stderr_lacks("fatal error: goroutine");
}

#[test]
fn deep_ok_default() {
    let out = scenario("deep_ok_default", &[]);
    out.assert_exit(0);
    assert_eq!(out.stdout, "ok\n", "{out}");
}

#[test]
fn deep_ok_16m() {
    let out = scenario("deep_ok_16m", &[]);
    out.assert_exit(0);
    assert_eq!(out.stdout, "ok\n", "{out}");
}

/// `vm.max_map_count`, if it is small enough that exhausting the mprotect budget is cheap (each
/// parked goroutine costs a few KiB of RAM). `None`: skip the budget tests.
fn small_max_map_count() -> Option<usize> {
    let n: usize = std::fs::read_to_string("/proc/sys/vm/max_map_count")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    if n > 262_144 {
        eprintln!("skipped: vm.max_map_count = {n} makes the mprotect budget too large to exhaust");
        return None;
    }
    Some(n)
}

fn assert_budget_message(out: &Output, text: &str) {
    for needle in ["mprotect", "vm.max_map_count", "sysctl"] {
        assert!(text.contains(needle), "want {needle:?} in the error: {out}");
    }
}

#[test]
fn stack_budget_spawn_fails_with_clear_error() {
    let Some(max) = small_max_map_count() else {
        return;
    };
    let out = scenario("stack_budget", &[("GORT_STACK_GUARD", "mprotect")]);
    out.assert_exit(0).assert_stdout_has("released\n");
    assert_eq!(out.stdout_value("stack_mechanism"), "mprotect", "{out}");
    let err = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("error: "))
        .unwrap_or_else(|| panic!("want an `error:` line: {out}"));
    assert_budget_message(&out, err);
    let count: usize = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("count: "))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("want a `count:` line: {out}"));
    // Two mappings per stack, minus room for everything else.
    assert!(
        count >= max / 4 && count <= max / 2,
        "want between {} and {} goroutines for vm.max_map_count = {max}: {out}",
        max / 4,
        max / 2
    );
}

#[test]
fn stack_budget_go_panics_with_clear_error() {
    if small_max_map_count().is_none() {
        return;
    }
    let out = scenario("stack_budget_go", &[("GORT_STACK_GUARD", "mprotect")]);
    out.assert_exit(101).assert_stderr_has("panicked");
    assert_budget_message(&out, &out.stderr);
}

/// With every stack taken, an `after_func` whose timer fires (on a scheduler's stack) and a
/// context's `after_func` started by `cancel` wait for a stack instead of ending the program;
/// they run once goroutines exit, and the cancel reaches the context's child meanwhile.
#[test]
fn after_funcs_wait_for_a_stack_and_run_when_one_is_free() {
    if small_max_map_count().is_none() {
        return;
    }
    let out = scenario("after_func_retries", &[("GORT_STACK_GUARD", "mprotect")]);
    out.assert_exit(0)
        .assert_stdout_has("child cancelled: true\n")
        .assert_stdout_has("ran without a stack: false\n")
        .assert_stdout_has("after_func ran: true\n")
        .assert_stdout_has("context after_func ran: true\n")
        .assert_stderr_has("retrying every 10 ms");
}

/// A spawn that fails drops the closure in the caller, outside the runtime's processor
/// section: a drop that parks is fine, and one that panics reaches the caller and leaves the
/// runtime able to take the processor from a goroutine that spins afterwards.
#[test]
fn a_failed_spawn_drops_its_closure_in_the_caller() {
    if small_max_map_count().is_none() {
        return;
    }
    let env = [("GORT_STACK_GUARD", "mprotect"), ("GOMAXPROCS", "1")];
    let out = scenario("failed_spawn_drops_in_caller", &env);
    out.assert_exit(0)
        .assert_stdout_has("spawn failed: true; parking drop ran: true\n")
        .assert_stdout_has("drop's panic reached the caller: true\n");
    let ticks: u64 = out
        .stdout_value("ticks_while_spinning")
        .parse()
        .expect("ticks");
    // 300 ms of spinning: sysmon hands the processor off after a 10 ms slice, and the ticker
    // then sleeps 1 ms at a time. Without the hand-off it never runs.
    assert!(ticks >= 20, "the ticker ran {ticks} times: {out}");
}

/// An address-space limit (`ulimit -v`) far above what the program uses.
const ADDRESS_SPACE_LIMIT: u64 = 4 << 30;

/// Runs `name` under `ADDRESS_SPACE_LIMIT`; it must print `ok` and exit 0.
fn check_address_space_limit(name: &str, env: &[(&str, &str)]) {
    let out = run_limited(
        command(TESTPROGS, Some(name), env),
        TIMEOUT,
        Some(ADDRESS_SPACE_LIMIT),
    );
    out.assert_exit(0);
    assert_eq!(out.stdout, "ok\n", "{out}");
}

#[test]
fn spawn_under_address_space_limit_mprotect() {
    check_address_space_limit("deep_ok_16m", &[("GORT_STACK_GUARD", "mprotect")]);
}

/// Regression test for a gort bug: guard-marker slabs are reserved at a fixed 16 GiB per stack
/// size class, so under a 4 GiB `ulimit -v` the first spawn fails (with an error that suggests
/// raising vm.max_map_count, which does not help). Go runs fine under such a limit.
#[test]
fn spawn_under_address_space_limit_default() {
    check_address_space_limit("deep_ok_16m", &[]);
}

/// Under an address-space limit the stack slabs stay small: a few goroutines leave most of a
/// 4 GiB limit to the program (before, the first slab took the largest power-of-two share that
/// fit, about half, and a 2.5 GiB allocation after it aborted).
#[test]
fn a_few_goroutines_leave_the_address_space_to_the_program() {
    check_address_space_limit("heap_after_spawn", &[]);
    check_address_space_limit("heap_after_spawn", &[("GORT_STACK_GUARD", "mprotect")]);
}

/// A child forked after the runtime started has none of its threads: using the runtime there
/// fails with a panic saying so, instead of waiting for ever.
#[test]
fn using_the_runtime_after_fork_fails_clearly() {
    let out = scenario("fork_after_start", &[]);
    out.assert_exit(0)
        .assert_stdout_has("main-thread child: exit 101")
        .assert_stderr_has("cannot be used in a process forked after it started");
}

#[test]
fn go_panic_continues() {
    let out = scenario("go_panic_continues", &[]);
    out.assert_exit(0)
        .assert_stdout_has("still running\n")
        .assert_stderr_has("boom");
}

/// A panic payload whose Drop panics cannot leave its goroutine: the program aborts, as a std
/// thread's does, and the report says which goroutine and why.
#[test]
fn a_panicking_payload_drop_is_fatal_and_named() {
    let out = scenario("payload_drop_panics", &[]);
    out.assert_signal(libc::SIGABRT)
        .assert_stderr_has("fatal error: goroutine 2 panicked dropping its panic payload");
}

/// The deadlock dump captures backtraces on sysmon's thread, on each parked goroutine's stack:
/// a goroutine parked near its limit overflows there, and the handler on sysmon's alternate
/// signal stack reports it as the borrowed goroutine's overflow (a bare SIGSEGV before).
///
/// How much stack the park itself needs depends on the build (a debug build's frames are
/// larger) and shifts with any change to the receive or park path, so no one amount of room
/// left below the parking frame hits the window between "the park overflows" and "the capture
/// fits". The test steps the room left up from `LEFT_STEP` until the program reports a
/// deadlock: every step must end in exactly one report, of the goroutine's own overflow (too
/// little room to park), of an overflow during the dump, or of the deadlock, and at least one
/// step must be the overflow during the dump.
#[test]
fn overflow_while_a_dump_captures_is_reported() {
    /// Far more room than any build's capture needs: the scan must have ended before it.
    const MAX_LEFT: usize = 16 << 10;
    /// Narrower than the window in any build seen (release 512-2048 bytes, debug 1984-2944).
    const LEFT_STEP: usize = 128;
    if gort_test_support::skip_if_emulated(QEMU_THREADS) {
        return;
    }
    for mechanism in MECHANISMS {
        let mut during_dump = Vec::new();
        let mut left = LEFT_STEP;
        loop {
            assert!(
                left <= MAX_LEFT,
                "no deadlock report with {MAX_LEFT} bytes left"
            );
            let left_var = left.to_string();
            let mut env: Vec<_> = mechanism.iter().map(|m| ("GORT_STACK_GUARD", *m)).collect();
            env.push(("LEFT", &left_var));
            let out = scenario("overflow_during_dump", &env);
            let lines = out.stderr_lines("fatal error: ");
            let [line] = lines[..] else {
                panic!("want one fatal error report: {out}")
            };
            if line.contains("all goroutines are asleep - deadlock!") {
                assert_eq!(out.status.code(), Some(2), "{out}");
                break;
            }
            out.assert_signal(libc::SIGABRT);
            assert!(
                line.starts_with("fatal error: goroutine ")
                    && line.contains(" stack overflow (limit 6")
                    && line.trim_end().contains(", spawned at ")
                    && line.trim_end().contains("overflow.rs:"),
                "{out}"
            );
            if line.contains(" bytes) while a dump captured its backtrace, spawned at ") {
                during_dump.push(left);
            }
            left += LEFT_STEP;
        }
        assert!(
            !during_dump.is_empty(),
            "no overflow during the dump below {left} bytes left ({mechanism:?})"
        );
    }
}

/// Runs `scenario` with `env` unless under emulation (see `QEMU_THREADS`), and checks that it
/// died of a reported deadlock; returns its output for the caller's own checks.
fn deadlock_report(scenario_name: &str, env: &[(&str, &str)]) -> Option<Output> {
    if gort_test_support::skip_if_emulated(QEMU_THREADS) {
        return None;
    }
    let out = scenario(scenario_name, env);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("fatal error: all goroutines are asleep - deadlock!"),
        "{out}"
    );
    Some(out)
}

#[test]
fn global_deadlock_is_reported_with_a_dump() {
    let Some(out) = deadlock_report("deadlock", &[]) else {
        return;
    };
    assert!(out.stderr.contains("[chan receive"), "{out}");
    assert!(out.stderr.contains("[sync.WaitGroup.Wait"), "{out}");
    assert!(out.stderr.contains("[select (no cases)"), "{out}");
    assert!(out.stderr.contains("spawned at "), "{out}");
}

/// Channel timers nobody waits on (Go 1.23 keeps them out of every timer heap) do not hide a
/// deadlock, and goroutines waiting on timer channels are not taken for deadlocked.
#[test]
fn idle_channel_timers_do_not_hide_a_deadlock() {
    let Some(out) = deadlock_report("deadlock_beside_idle_timers", &[]) else {
        return;
    };
    assert!(out.stdout.contains("woken by timers: 6"), "{out}");
}

/// A goroutine locked to its thread parks by blocking the thread: the dump says why it shows no
/// stack, instead of calling it not parked.
#[test]
fn a_locked_goroutines_deadlock_says_why_it_has_no_stack() {
    let Some(out) = deadlock_report("deadlock_locked", &[]) else {
        return;
    };
    assert!(out.stderr.contains("[chan receive"), "{out}");
    assert!(
        out.stderr
            .contains("(no stack: the goroutine waits on its own OS thread"),
        "{out}"
    );
    assert!(!out.stderr.contains("not parked"), "{out}");
}

/// A plain thread's blocking call starts the runtime (nothing else did here), so its deadlock
/// is reported as a goroutine's is, and the report names the thread and what it waits for.
#[test]
fn a_plain_threads_deadlock_is_reported() {
    if let Some(out) = deadlock_report("plain_thread_deadlock", &[]) {
        assert!(
            out.stderr.contains("thread \"main\" [chan receive, "),
            "{out}"
        );
    }
}

/// The trace writer's thread is the runtime's own: a traced program's deadlock is reported too,
/// and the trace is written after the report, whole.
#[test]
fn global_deadlock_is_reported_while_tracing() {
    let path = std::env::temp_dir().join(format!("gort-deadlock-{}.json", std::process::id()));
    if deadlock_report("deadlock", &[("GORT_TRACE", path.to_str().unwrap())]).is_some() {
        let text = std::fs::read_to_string(&path).unwrap();
        let json: serde_json::Value = serde_json::from_str(&text).expect("the trace is whole");
        assert!(json.to_string().contains("chan receive"), "{text}");
    }
    let _ = std::fs::remove_file(&path);
}

/// A `runtime::dump` whose writer blocks for ever (a channel nobody reads) does not hold up the
/// deadlock report, which dumps too (it hung waiting for the first dump before).
#[test]
fn a_dump_into_a_blocked_writer_does_not_hold_up_the_deadlock_report() {
    if let Some(out) = deadlock_report("dump_writer_blocks", &[]) {
        assert!(out.stderr.contains("[chan send"), "{out}");
    }
}

/// Bad input: relocking a held Mutex does not deadlock silently.
#[test]
fn relocking_a_held_mutex_is_reported_as_a_deadlock() {
    let out = scenario("mutex_relock", &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr
            .contains("fatal error: all goroutines are asleep - deadlock!"),
        "{out}"
    );
    assert!(out.stderr.contains("[sync.Mutex.Lock"), "{out}");
}

/// Hogs keep their threads after their processors are handed off; past the thread limit the
/// program stops with a fatal error naming the limit and what needed the thread (Go's "thread
/// exhaustion").
#[test]
fn thread_limit_is_enforced_with_a_fatal_error() {
    let out = scenario("thread_limit", &[]);
    // Go's exit status for a fatal error the program caused; an abort is for broken invariants.
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("fatal error: thread exhaustion")
            && out.stderr.contains("4-thread limit")
            && out
                .stderr
                .contains("ran a whole time slice without calling the runtime"),
        "{out}"
    );
    assert!(!out.stdout.contains("not reached"), "{out}");
}

/// A goroutine's panic report names the goroutine (id and name), not the M's thread; with
/// RUST_BACKTRACE it carries a backtrace.
#[test]
fn panics_name_the_goroutine() {
    let out = scenario("panic_names_goroutine", &[("RUST_BACKTRACE", "1")]);
    assert!(out.status.success(), "{out}");
    let named = out.stderr_lines("goroutine ");
    assert!(
        named
            .iter()
            .any(|l| l.contains("\"worker\" panicked at") && l.contains("panics.rs")),
        "{out}"
    );
    assert!(out.stderr.contains("boom in a goroutine"), "{out}");
    // The unnamed one: `goroutine N panicked at ...`.
    assert!(
        named
            .iter()
            .any(|l| !l.contains('"') && l.contains(" panicked at ")),
        "{out}"
    );
    assert!(out.stderr.contains("stack backtrace:"), "{out}");
    assert!(!out.stderr.contains("thread 'gort-m"), "{out}");
    // std's short form: from the panic down to the goroutine's body, no runtime frames.
    assert!(out.stderr.contains("goroutine_named::{{closure}}"), "{out}");
    assert!(out.stderr.contains("RUST_BACKTRACE=full"), "{out}");
    assert!(!out.stderr.contains("gort::rt::"), "{out}");
    let out = scenario("panic_names_goroutine", &[("RUST_BACKTRACE", "full")]);
    assert!(out.stderr.contains("gort::rt::panics::report"), "{out}");
}

/// A panic hook the user set before the runtime started keeps running, after gort's report;
/// plain threads still get it alone.
#[test]
fn a_user_panic_hook_is_chained() {
    let out = scenario("panic_user_hook", &[]);
    assert!(out.status.success(), "{out}");
    assert!(out.stderr.contains("panicked at"), "{out}");
    assert!(out.stderr.contains("user hook saw: chained boom"), "{out}");
    assert!(
        out.stderr.contains("user hook saw: plain thread boom"),
        "{out}"
    );
    assert!(!out.stderr.contains("thread 'gort-m"), "{out}");
}

/// A misuse panic inside the API (a channel too large to allocate) is reported at the caller's
/// line, as std's own panics are (before: at gort's `chan/raw/mod.rs`).
#[test]
fn a_misuse_panic_names_the_callers_line() {
    let out = scenario("chan_too_large", &[]);
    assert_eq!(out.status.code(), Some(101), "{out}");
    out.assert_stderr_has("panicked at gort-testprogs/src/panics.rs:")
        .assert_stderr_has("capacity");
}

#[test]
fn sigquit_dumps_goroutines_and_exits_2() {
    let out = scenario("sigquit", &[]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("SIGQUIT: quit"), "{out}");
    assert!(out.stderr.contains("[chan receive"), "{out}");
    assert!(out.stderr.contains("[sleep"), "{out}");
    assert!(!out.stdout.contains("not reached"), "{out}");
}

#[test]
fn schedtrace_prints_scheduler_lines() {
    let out = scenario("schedtrace", &[("GORT_DEBUG", "schedtrace=50")]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    let lines = out.stderr_lines("SCHED ");
    assert!(lines.len() >= 2, "{out}");
    assert!(lines[0].contains("gomaxprocs="), "{out}");
}

/// GORT_DEBUG=scheddetail=1 (Go's): each schedtrace line becomes a block with a line per P, per
/// M and per goroutine; fatal reports and `runtime::dump` start with that block.
#[test]
fn scheddetail_shows_every_p_m_and_goroutine() {
    let out = scenario(
        "schedtrace",
        &[("GORT_DEBUG", "schedtrace=50,scheddetail=1")],
    );
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stderr_lines("SCHED ").len() >= 2, "{out}");
    assert!(out.stderr.contains("  P0: status="), "{out}");
    assert!(out.stderr.contains(" timerslen="), "{out}");
    assert!(out.stderr.contains(": p="), "{out}");
    assert!(out.stderr.contains("  G1: status="), "{out}");

    let out = scenario("deadlock", &[("GORT_DEBUG", "scheddetail=1")]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    let detail = out
        .stderr
        .find("  P0: status=idle")
        .expect("the scheduler's state");
    let dump = out
        .stderr
        .find("[chan receive")
        .expect("the goroutine dump");
    assert!(detail < dump, "{out}");

    let out = scenario("runtime_goroutines", &[("GORT_DEBUG", "scheddetail=1")]);
    let running_p = |l: &str| l.starts_with("  P") && l.contains(" status=running ");
    assert!(out.stdout.lines().any(running_p), "{out}");
    assert!(out.stdout.contains("goroutine 1 [running]"), "{out}");
    let out = scenario("runtime_goroutines", &[]);
    assert!(!out.stdout.contains("SCHED "), "{out}");

    let out = scenario("schedtrace", &[("GORT_DEBUG", "scheddetail=yes")]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(
        out.stderr.contains("scheddetail=\"yes\" is not 0 or 1"),
        "{out}"
    );
    assert!(!out.stderr.contains("SCHED "), "{out}");
}

#[test]
fn a_thread_unknown_to_the_runtime_prevents_a_false_deadlock() {
    let out = scenario("no_false_deadlock", &[]);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stdout.contains("received Some(7)"), "{out}");
}

/// A plain thread woken from a gort call is not counted as parked while it waits for a CPU:
/// the child's main thread runs at the lowest priority while this process keeps every CPU busy,
/// so a woken main thread can wait far longer than the detector's two looks, 50 ms apart.
#[test]
fn a_woken_thread_that_has_not_run_yet_prevents_a_false_deadlock() {
    let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
    let burners = gort_test_support::burn_cpus(cpus + 1);
    let out = scenario("woken_thread_is_not_parked", &[]);
    drop(burners);
    assert_eq!(out.status.code(), Some(0), "{out}");
    assert!(out.stdout.contains(" runs"), "{out}");
}

/// The runtime's own goroutines (here the signal dispatcher) are left out of dumps and of the
/// count by state, as Go leaves out system goroutines; GORT_TRACEBACK=system lists them.
#[test]
fn dumps_leave_out_the_runtimes_goroutines_unless_asked() {
    let out = scenario("runtime_goroutines", &[]);
    assert!(out.stdout.contains("goroutine 1 [running]"), "{out}");
    assert!(!out.stdout.contains("src/signal.rs"), "{out}");
    assert!(out.stdout.contains("by state: 1\n"), "{out}");
    let out = scenario("runtime_goroutines", &[("GORT_TRACEBACK", "system")]);
    assert!(
        out.stdout.contains("spawned at gort/src/signal.rs"),
        "{out}"
    );
    assert!(out.stdout.contains("by state: 1\n"), "{out}");
}

/// GORT_TRACEBACK=none: SIGQUIT prints its line and no goroutines.
#[test]
fn gort_traceback_none_prints_no_goroutines() {
    let out = scenario("sigquit", &[("GORT_TRACEBACK", "none")]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(out.stderr.contains("SIGQUIT: quit"), "{out}");
    assert!(!out.stderr.contains("goroutine "), "{out}");
}

/// A limit below the threads already running fails at once, as Go's `SetMaxThreads` does, not
/// at some later thread start that would blame whatever needed it.
#[test]
fn a_thread_limit_below_the_running_threads_fails_at_once() {
    let out = scenario("thread_limit_below_count", &[("GOMAXPROCS", "2")]);
    assert_eq!(out.status.code(), Some(2), "{out}");
    assert!(
        out.stderr.contains("fatal error: thread exhaustion")
            && out.stderr.contains("1-thread limit")
            && out.stderr.contains("set_max_threads"),
        "{out}"
    );
    assert!(out.stdout.contains("threads running"), "{out}");
    assert!(!out.stdout.contains("not reached"), "{out}");
}

/// GORT_TRACEBACK=crash: the deadlock report dumps every goroutine, then aborts (SIGABRT).
#[test]
fn gort_traceback_crash_aborts_after_the_dump() {
    if gort_test_support::skip_if_emulated(QEMU_THREADS) {
        return;
    }
    let out = scenario("deadlock", &[("GORT_TRACEBACK", "crash")]);
    out.assert_signal(libc::SIGABRT);
    assert!(out.stderr.contains("deadlock!"), "{out}");
    assert!(out.stderr.contains("[chan receive"), "{out}");
    // So does a fatal error the program caused, which otherwise exits with status 2.
    let out = scenario("thread_limit", &[("GORT_TRACEBACK", "crash")]);
    out.assert_signal(libc::SIGABRT);
    assert!(out.stderr.contains("thread exhaustion"), "{out}");
}

/// GORT_TRACEBACK=all: a fatal error is followed by the dump; the default prints the message
/// alone. A bad value is a warning, and the default applies.
#[test]
fn gort_traceback_all_dumps_on_fatal_errors() {
    let out = scenario("thread_limit", &[("GORT_TRACEBACK", "all")]);
    assert!(
        out.stderr.contains("fatal error: thread exhaustion"),
        "{out}"
    );
    assert!(out.stderr.contains("goroutine 1 "), "{out}");
    let out = scenario("thread_limit", &[("GORT_TRACEBACK", "sometimes")]);
    assert!(
        out.stderr.contains(
            "GORT_TRACEBACK=\"sometimes\" is not one of none, single, all, system, crash"
        ),
        "{out}"
    );
    assert!(
        out.stderr.contains("fatal error: thread exhaustion"),
        "{out}"
    );
    assert!(!out.stderr.contains("goroutine 1 "), "{out}");
}
