//! Goroutine-aware synchronisation (Go's `sync` package). Blocking here parks the goroutine,
//! never its OS thread; on a plain thread it blocks the thread.

mod waitgroup;

pub use waitgroup::WaitGroup;
