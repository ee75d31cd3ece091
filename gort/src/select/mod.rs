//! The public faces of `select` over gort's channels: the `select!` macro's typed slots
//! (`macro_support`) and the dynamic `Select` builder (`dynamic`). Both hand their cases to the
//! select algorithm, which sits below the channels (`wait::select`, after Go's selectgo) and
//! works over any `wait::Selectable`.

mod dynamic;
pub(crate) mod macro_support;

pub use dynamic::{Select, SelectedOperation};

use crate::wait::select::{Case, CaseResult, Mode, select};
