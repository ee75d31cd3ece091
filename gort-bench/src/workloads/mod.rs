//! The workload registry. Adding a workload: write `wNN_name.rs` with one
//! `pub const WORKLOAD: Workload`, declare the module here and list it in [`ALL`].

use crate::report::Outcome;

mod w11_yield;
mod w1_spawn;
mod w2_idle;

/// One BENCHMARKS.md workload.
pub struct Workload {
    /// The name used on the command line and in the JSON (same as main.go's `-w`).
    pub name: &'static str,
    /// One line for `--help` and the table.
    pub summary: &'static str,
    /// N for a single run (`gort-bench WORKLOAD --procs P`): the same default as main.go, so that
    /// compare.sh compares like with like. What N means is the workload's own (main.go's `-n`).
    pub default_n: u64,
    /// The Ns a suite run measures, each in its own process (empty: just `default_n`).
    pub sweep: &'static [u64],
    /// Runs the workload once with the given N. The runtime is started and `gort::set_procs`
    /// already called. Must not print to stdout.
    pub run: fn(n: u64) -> Outcome,
}

/// Every implemented workload, in BENCHMARKS.md order.
pub const ALL: &[Workload] = &[w1_spawn::WORKLOAD, w2_idle::WORKLOAD, w11_yield::WORKLOAD];

pub fn find(name: &str) -> Option<&'static Workload> {
    ALL.iter().find(|w| w.name == name)
}
