//! The workload registry. Adding a workload: write `wNN_name.rs` with one
//! `pub const WORKLOAD: Workload` (or one per the Go version name, as `w4_chan_tput` has two), declare
//! the module here and list it in [`ALL`].

use crate::report::Outcome;

mod w10_tcp_echo;
mod w11_yield;
mod w12_ffi_call;
mod w13_ffi_callback;
mod w14_gls;
mod w15_exec;
mod w16_stack_floor;
mod w1_spawn;
mod w2_idle;
mod w3_pingpong;
mod w4_chan_tput;
mod w5_skynet;
mod w6_ring;
mod w7_select;
mod w8_timers;
mod w9_mutex;

/// One benchmark workload (its module doc gives its shape).
pub struct Workload {
    /// The name used on the command line and in the JSON (same as the Go version's `-w`).
    pub name: &'static str,
    /// One line for `--help` and the table.
    pub summary: &'static str,
    /// N for a single run (`gort-bench WORKLOAD --procs P`): the same default as the Go version, so that
    /// comparisons compare like with like. What N means is the workload's own (the Go version's `-n`).
    pub default_n: u64,
    /// The Ns a suite run measures, each in its own process (empty: just `default_n`).
    pub sweep: &'static [u64],
    /// Runs the workload once with the given N. The runtime is started and `gort::set_procs`
    /// already called. Must not print to stdout.
    pub run: fn(n: u64) -> Outcome,
}

/// Every implemented workload, in suite order (W1, W2, ...).
pub const ALL: &[Workload] = &[
    w1_spawn::WORKLOAD,
    w2_idle::WORKLOAD,
    w3_pingpong::WORKLOAD,
    w4_chan_tput::WORKLOAD_1P1C,
    w4_chan_tput::WORKLOAD_4P4C,
    w5_skynet::WORKLOAD,
    w6_ring::WORKLOAD,
    w7_select::WORKLOAD,
    w8_timers::WORKLOAD,
    w9_mutex::WORKLOAD,
    w10_tcp_echo::WORKLOAD,
    w11_yield::WORKLOAD,
    w12_ffi_call::WORKLOAD,
    w13_ffi_callback::WORKLOAD,
    w14_gls::WORKLOAD,
    w15_exec::WORKLOAD,
    w16_stack_floor::WORKLOAD,
];

pub fn find(name: &str) -> Option<&'static Workload> {
    ALL.iter().find(|w| w.name == name)
}
