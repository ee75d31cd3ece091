#[gort::test(timeout = 0)]
fn zero() {}

#[gort::test(timeout = "5")]
fn text() {}

#[gort::main(timeout = 5)]
fn main() {}
