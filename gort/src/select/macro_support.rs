//! What the `select!` macro expands to: the channels' typed slots (`chan::slot`), which own each
//! case's value so that the expanded code needs no `unsafe`, and `run`, which hands their cases
//! to the select algorithm (`wait::select`, after Go's select.go selectgo).

use super::{Case, CaseResult, Mode, select};
use crate::chan::raw::RawChan;

/// Runs the select of a `select!`; returns the index of the case that fired, or `None` when
/// nothing was ready and the `default` arm runs.
///
/// # Panics
/// If a slot is used again after its case fired (its value moved out already).
pub fn run(cases: &[Case<'_, RawChan>], has_default: bool) -> Option<usize> {
    for c in cases {
        // SAFETY: `result` points to the outcome of a live slot (`Case`'s contract).
        if !c.result.is_null() && unsafe { *c.result } != CaseResult::Pending {
            panic!("gort::select!: a case slot was used again after its case fired");
        }
    }
    let mode = if has_default {
        Mode::NonBlock
    } else {
        Mode::Block
    };
    select(cases, mode).map(|(i, _)| i)
}
