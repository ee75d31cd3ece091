//! `#[gort::main]` returning `Err`: std's `Termination` prints `Error: "bad"` and exits with 1.

#[gort::main]
fn main() -> Result<(), String> {
    Err("bad".into())
}
