//! `#[gort::main]` returning `ExitCode`: the process exits with that code.

use std::process::ExitCode;

#[gort::main]
fn main() -> ExitCode {
    println!("exiting with 3");
    ExitCode::from(3)
}
