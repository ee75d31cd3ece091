//! The synchronisation types of the structures that are model-checked with loom (the run
//! queue, the timer heaps, the P hand-off between sysmon and a hog, the wait queues' select
//! claim, the semaphore table): std's normally, loom's when built with `--cfg loom`. Loom then
//! explores every interleaving of a small model of each (the tests named `loom_*`; see
//! `scripts/loom.sh`), with capacities shrunk as tokio does. Loom's types cannot live in plain
//! statics: the semaphore table becomes a `loom::lazy_static` under the model.

#[cfg(not(loom))]
pub(crate) use std::sync::Mutex;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, fence,
};

#[cfg(loom)]
pub(crate) use loom::sync::Mutex;
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{
    AtomicBool, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, fence,
};

/// A busy-wait hint; under loom, a yield, so that the model checker lets the awaited thread run.
#[inline]
pub(crate) fn spin_loop() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}

/// Locks a mutex, ignoring poisoning (no runtime code panics while holding one).
pub(crate) fn lock<T>(m: &Mutex<T>) -> impl std::ops::DerefMut<Target = T> + '_ {
    #[cfg(not(loom))]
    return m.lock().unwrap_or_else(|e| e.into_inner());
    #[cfg(loom)]
    return m.lock().unwrap();
}
