//! Child-process scenarios for gort's fatal and edge paths (Go's `runtime/testdata/testprog`).
//!
//! `gort-testprogs <scenario>` runs one scenario. Each is a small function that either exits
//! normally (printing what the test checks) or dies the way the runtime promises (a fatal message
//! and SIGABRT, a panic and exit status 101, ...). The tests that drive them live in
//! `gort/tests/fatal_paths/`; they assert the exit status and the output.
//!
//! Programs that need `#[gort::main]` (which only applies to `fn main`) are separate binaries in
//! `src/bin/`.

mod env;
mod observe;
mod overflow;
mod panics;
mod signals;
mod stacks;

/// Every scenario: its name and the function that runs it.
const SCENARIOS: &[(&str, fn())] = &[
    ("overflow_recursion", overflow::recursion),
    ("overflow_big_array", overflow::big_array),
    ("overflow_custom_limit", overflow::custom_limit),
    ("overflow_after_reuse", overflow::after_reuse),
    ("overflow_two_at_once", overflow::two_at_once),
    ("overflow_main_goroutine", overflow::main_goroutine),
    ("main_thread_overflow", overflow::main_thread),
    ("segv_in_goroutine", overflow::segv_in_goroutine),
    ("segv_raised", overflow::segv_raised),
    ("overflow_during_dump", overflow::during_dump),
    ("deep_ok_default", stacks::deep_ok_default),
    ("deep_ok_16m", stacks::deep_ok_16m),
    ("heap_after_spawn", stacks::heap_after_spawn),
    ("stack_budget", stacks::budget),
    ("stack_budget_go", stacks::budget_go),
    ("after_func_retries", stacks::after_func_retries),
    (
        "failed_spawn_drops_in_caller",
        stacks::failed_spawn_drops_in_caller,
    ),
    ("go_panic_continues", panics::go_panic_continues),
    ("panic_names_goroutine", panics::goroutine_named),
    ("panic_user_hook", panics::user_hook_chained),
    ("chan_too_large", panics::chan_too_large),
    ("payload_drop_panics", panics::payload_drop_panics),
    ("bad_env", env::bad_env),
    ("fork_after_start", env::fork_after_start),
    ("deadlock", observe::deadlock),
    ("plain_thread_deadlock", observe::plain_thread_deadlock),
    ("deadlock_locked", observe::deadlock_locked),
    (
        "deadlock_beside_idle_timers",
        observe::deadlock_beside_idle_timers,
    ),
    ("mutex_relock", observe::mutex_relock),
    ("sigquit", observe::sigquit),
    ("schedtrace", observe::schedtrace),
    ("no_false_deadlock", observe::no_false_deadlock),
    (
        "woken_thread_is_not_parked",
        observe::woken_thread_is_not_parked,
    ),
    ("runtime_goroutines", observe::runtime_goroutines),
    ("thread_limit", observe::thread_limit),
    (
        "thread_limit_below_count",
        observe::thread_limit_below_count,
    ),
    ("dump_writer_blocks", observe::dump_writer_blocks),
    ("signal_notify_stop", signals::notify_stop),
    ("signal_notify_all", signals::notify_all),
    ("signal_two_receivers", signals::two_receivers),
    ("signal_storm", signals::storm),
    ("signal_chained", signals::chained),
    ("signal_sigint_default", signals::sigint_default),
    ("signal_sigquit_notified", signals::sigquit_notified),
    ("signal_dropped_receiver", signals::dropped_receiver),
    ("signal_sigpipe_default", signals::sigpipe_default),
    ("signal_bad", signals::bad_signal),
    ("signal_reset", signals::reset),
    ("signal_ignore", signals::ignore),
    ("signal_ignore_before_start", signals::ignore_before_start),
    ("signal_notify_context", signals::notify_context),
];

fn main() {
    let name = std::env::args().nth(1).unwrap_or_default();
    match SCENARIOS.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => f(),
        None => {
            eprintln!("usage: gort-testprogs <scenario>\nscenarios:");
            for (n, _) in SCENARIOS {
                eprintln!("  {n}");
            }
            std::process::exit(2);
        }
    }
}
