//! Goroutine-local storage: `goroutine_local!` statics, one value per goroutine (and per plain
//! thread), created on first use and dropped when the goroutine exits. This is what to use where
//! a `thread_local!` would be held across a park: a goroutine may resume on another thread, so
//! a thread-local read before a channel operation and one after it may be different values.
//! Go deliberately has no goroutine-local storage; the API is std's `thread_local!`.
//!
//! Each static takes a key (a small index, assigned on first use from a process-wide counter);
//! a goroutine's values sit in a table in its G, indexed by key, so a lookup is the current-G
//! read, one bounds check and a type check. Values are boxed once, so a `&T` handed to `with`
//! stays valid while the table grows.
//!
//! Invariant: no user code (an initialiser, a drop, `with`'s closure) runs while the table is
//! borrowed. Any of them may use a goroutine-local never used before and so grow the table,
//! which would leave the borrow dangling.

use std::sync::atomic::{AtomicUsize, Ordering::*};

use crate::rt;

/// Keys handed out so far.
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0);

/// A goroutine-local value, declared with `goroutine_local!`: each
/// goroutine (and each plain thread) sees its own `T`, created by the initialiser on its first
/// [`with`](GoroutineLocal::with). It follows its goroutine from thread to thread, hence
/// `T: Send`, and is dropped when the goroutine exits (a plain thread's, when the thread exits).
pub struct GoroutineLocal<T: Send + 'static> {
    init: fn() -> T,
    /// The key plus one; 0 until the first use.
    key: AtomicUsize,
}

impl<T: Send + 'static> GoroutineLocal<T> {
    /// Used by `goroutine_local!`.
    #[doc(hidden)]
    pub const fn new(init: fn() -> T) -> GoroutineLocal<T> {
        GoroutineLocal {
            init,
            key: AtomicUsize::new(0),
        }
    }

    fn key(&self) -> usize {
        let k = self.key.load(Relaxed);
        if k != 0 {
            return k - 1;
        }
        let mine = NEXT_KEY.fetch_add(1, Relaxed) + 1;
        match self.key.compare_exchange(0, mine, Relaxed, Relaxed) {
            Ok(_) => mine - 1,
            // Another thread assigned it first; our number is simply unused.
            Err(theirs) => theirs - 1,
        }
    }

    /// Runs `f` with the current goroutine's value, creating it first if this goroutine has
    /// none yet. `f` may park, migrate, or use other goroutine-local values.
    ///
    /// ```
    /// use std::cell::Cell;
    /// gort::goroutine_local! { static DEPTH: Cell<u32> = Cell::new(0); }
    /// gort::run(|| {
    ///     DEPTH.with(|d| d.set(3));
    ///     gort::yield_now(); // may resume on another thread: the value comes along
    ///     assert_eq!(DEPTH.with(|d| d.get()), 3);
    ///     assert_eq!(gort::spawn(|| DEPTH.with(|d| d.get())).join().unwrap(), 0);
    /// });
    /// ```
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        let k = self.key();
        let p = match self.get(k) {
            Some(p) => p,
            None => {
                // The initialiser runs with no borrow of the table: it may use other locals.
                let v = (self.init)();
                let (p, nested) = {
                    // SAFETY: a short borrow, ended before any user code runs (the drop of
                    // `nested` below, then `f`).
                    let locals = unsafe { rt::goroutine_locals() };
                    if locals.len() <= k {
                        locals.resize_with(k + 1, || None);
                    }
                    // An initialiser that used its own key (a nested `with`) set a value
                    // already: this one replaces it, as std's thread_local! does.
                    let nested = locals[k].replace(Box::new(v));
                    let b = locals[k].as_ref().expect("just set");
                    let p = b
                        .downcast_ref::<T>()
                        .expect("a goroutine-local key holds its own type")
                        as *const T;
                    (p, nested)
                };
                // Its drop may use goroutine-locals, and so grow the table, which must not be
                // borrowed then.
                drop(nested);
                p
            }
        };
        // SAFETY: the value is boxed in the current goroutine's table and leaves it only when
        // the goroutine (or plain thread) ends, which cannot happen while `f` runs on it.
        f(unsafe { &*p })
    }

    fn get(&self, k: usize) -> Option<*const T> {
        // SAFETY: a short borrow, ended before the caller runs anything else.
        let locals = unsafe { rt::goroutine_locals() };
        let v = locals.get(k)?.as_ref()?;
        Some(
            v.downcast_ref::<T>()
                .expect("a goroutine-local key holds its own type") as *const T,
        )
    }
}

impl<T: Send + 'static> std::fmt::Debug for GoroutineLocal<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoroutineLocal").finish_non_exhaustive()
    }
}

/// Declares goroutine-local statics ([`GoroutineLocal`]): the goroutine counterpart of
/// `thread_local!`, with the same syntax.
///
/// ```
/// gort::goroutine_local! {
///     /// Requests handled by this goroutine.
///     static HANDLED: std::cell::Cell<u64> = std::cell::Cell::new(0);
///     pub static NAME: String = String::from("worker");
/// }
/// gort::run(|| {
///     HANDLED.with(|h| h.set(h.get() + 1));
///     assert_eq!(HANDLED.with(|h| h.get()), 1);
///     NAME.with(|n| assert_eq!(n, "worker"));
/// });
/// ```
#[macro_export]
macro_rules! goroutine_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr; $($rest:tt)*) => {
        $(#[$attr])* $vis static $name: $crate::GoroutineLocal<$t> =
            $crate::GoroutineLocal::new(|| $init);
        $crate::goroutine_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty = $init:expr) => {
        $(#[$attr])* $vis static $name: $crate::GoroutineLocal<$t> =
            $crate::GoroutineLocal::new(|| $init);
    };
}
