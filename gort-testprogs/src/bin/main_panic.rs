//! The main goroutine of a `#[gort::main]` program panics: the panic reaches `main` and the
//! process exits with status 101, the message on stderr. First it dumps itself, to show where
//! the dump says it was spawned (this file's `main`, not the runtime's).

#[gort::main]
fn main() {
    gort::runtime::dump(&mut std::io::stdout()).unwrap();
    let x = std::hint::black_box(2);
    if x == 2 {
        panic!("main goroutine panicked on purpose");
    }
}
