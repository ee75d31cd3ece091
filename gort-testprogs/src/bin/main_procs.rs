//! `#[gort::main(procs = 3)]` sets GOMAXPROCS for the program.

#[gort::main(procs = 3)]
fn main() {
    assert_eq!(gort::procs(), 3);
    println!("procs=3");
}
