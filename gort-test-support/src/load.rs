//! Load from outside the runtime: OS threads that keep CPUs busy, for tests of what the runtime
//! does when its own threads wait for a CPU.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;

/// `n` plain threads spinning until this is dropped (they are stopped and joined then).
pub struct Burners {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// Starts `n` spinning threads (see [`Burners`]).
pub fn burn_cpus(n: usize) -> Burners {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..n)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                while !stop.load(Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    Burners { stop, threads }
}

impl Drop for Burners {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}
