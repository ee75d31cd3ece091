//! The main goroutine of a `#[gort::main]` program panics: the panic reaches `main` and the
//! process exits with status 101, the message on stderr.

#[gort::main]
fn main() {
    let x = std::hint::black_box(2);
    if x == 2 {
        panic!("main goroutine panicked on purpose");
    }
}
