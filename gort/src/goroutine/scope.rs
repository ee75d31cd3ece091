//! `scope`: goroutines that borrow from the enclosing stack (std::thread::scope's shape). The
//! scope counts its goroutines in a `WaitGroup` and does not return before the count is zero,
//! which is what lets a scoped goroutine's closure borrow for `'scope`; a panic nobody joined
//! makes `scope` panic once all are done, as std's does.

use std::fmt;
use std::marker::PhantomData;
use std::panic::{AssertUnwindSafe, Location, catch_unwind, resume_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::*};

use super::{GoroutineId, Packet, run_to_end};
use crate::rt;

pub(super) struct ScopeData {
    /// Goroutines of the scope still running.
    pub(super) running: crate::sync::WaitGroup,
    /// Scoped goroutines that panicked, less those whose panic a `join` returned. Counted
    /// when the goroutine ends, not when its handle drops, so a leaked handle cannot hide a
    /// panic.
    pub(super) unjoined_panics: AtomicUsize,
}

/// A scope for goroutines that borrow from the enclosing stack (like `std::thread::Scope`).
pub struct Scope<'scope, 'env: 'scope> {
    data: Arc<ScopeData>,
    scope: PhantomData<&'scope mut &'scope ()>,
    env: PhantomData<&'env mut &'env ()>,
}

/// A handle to join a scoped goroutine.
pub struct ScopedJoinHandle<'scope, T> {
    packet: Arc<Packet<T>>,
    id: GoroutineId,
    scope: PhantomData<&'scope ()>,
}

impl<T> ScopedJoinHandle<'_, T> {
    /// Waits for the goroutine to finish; `Err(payload)` if it panicked (and then the scope
    /// does not panic for it).
    pub fn join(self) -> std::thread::Result<T> {
        let r = self.packet.join();
        if r.is_err()
            && let Some(scope) = &self.packet.scope
        {
            // Counted before the goroutine published its result, which `join` observed.
            scope.unjoined_panics.fetch_sub(1, Relaxed);
        }
        r
    }

    /// Whether the goroutine has finished (returned or panicked), so that `join` will not wait.
    pub fn is_finished(&self) -> bool {
        self.packet.is_finished()
    }

    /// The goroutine's id.
    pub fn id(&self) -> GoroutineId {
        self.id
    }
}

/// Creates a scope: every goroutine started in it is joined before `scope` returns. If one of
/// them panicked and was not joined, `scope` panics after joining all (as std's does).
///
/// ```
/// let words = vec!["go", "gort", "goroutine"];
/// let mut total = 0;
/// gort::scope(|s| {
///     let h = s.spawn(|| words.iter().map(|w| w.len()).sum::<usize>());
///     total = h.join().unwrap();
/// });
/// assert_eq!(total, 15);
/// ```
#[track_caller]
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    let scope = Scope {
        data: Arc::new(ScopeData {
            running: crate::sync::WaitGroup::new(),
            unjoined_panics: AtomicUsize::new(0),
        }),
        scope: PhantomData,
        env: PhantomData,
    };
    let result = catch_unwind(AssertUnwindSafe(|| f(&scope)));
    let data = &scope.data;
    data.running.wait_as(rt::WaitReason::Scope);
    match result {
        Err(e) => resume_unwind(e),
        // `running.wait()` ordered every goroutine's count before this read.
        Ok(_) if data.unjoined_panics.load(Relaxed) > 0 => panic!("a scoped goroutine panicked"),
        Ok(r) => r,
    }
}

impl fmt::Debug for Scope<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("running", &self.data.running)
            .field("unjoined_panics", &self.data.unjoined_panics.load(Relaxed))
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for ScopedJoinHandle<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedJoinHandle")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl<'scope> Scope<'scope, '_> {
    /// The same as [`Scope::go`], under std's name (`std::thread::Scope::spawn`).
    #[track_caller]
    pub fn spawn<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        self.go(f)
    }

    /// Starts a goroutine that may borrow from outside the scope.
    #[track_caller]
    pub fn go<F, T>(&'scope self, f: F) -> ScopedJoinHandle<'scope, T>
    where
        F: FnOnce() -> T + Send + 'scope,
        T: Send + 'scope,
    {
        let packet: Arc<Packet<T>> = Packet::new(Some(self.data.clone()));
        let theirs = packet.clone();
        let data = self.data.clone();
        data.running.add(1);
        let body = move || {
            let r = run_to_end(f);
            if r.is_err() {
                data.unjoined_panics.fetch_add(1, Relaxed);
            }
            theirs.complete(r);
            drop(theirs);
            data.running.done();
        };
        let entry: Box<dyn FnOnce() + Send + 'scope> = Box::new(body);
        // SAFETY: `scope` does not return before `running` is back to zero, i.e. before this
        // closure has finished, so nothing it borrows for 'scope can end while it runs.
        let entry: Box<dyn FnOnce() + Send + 'static> = unsafe { std::mem::transmute(entry) };
        match rt::spawn(entry, 0, None, Location::caller()) {
            Ok(id) => ScopedJoinHandle {
                packet,
                id: GoroutineId::from_raw(id),
                scope: PhantomData,
            },
            Err(e) => {
                self.data.running.done();
                panic!("{e}")
            }
        }
    }
}
