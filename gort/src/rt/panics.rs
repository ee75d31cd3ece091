//! The panic hook that names the goroutine (Go prints `goroutine N [running]:` under a panic;
//! std prints the OS thread's name, which for a goroutine is whichever M ran it).
//!
//! Installed at runtime start, chained in front of the hook that was there: a panic on a
//! goroutine prints `goroutine 17 "worker" panicked at src/x.rs:3:5:` and the message (and,
//! under `RUST_BACKTRACE`, the backtrace), then calls the previous hook if the user had set
//! one; a panic on any other thread goes to the previous hook alone. std's default hook is not
//! chained for goroutines (it would print the M's thread name a second time).
//!
//! The report of a `#[gort::test]` body's panic is not printed here but handed to the test's
//! thread (`Deferred`), which prints it into libtest's capture of that test.
//!
//! std cannot say whether a hook is its default. `take_hook` twice does: the first call returns
//! the installed hook and puts the default back, the second returns the default, and the two
//! are the same hook exactly when nothing else had been installed. They are compared as trait
//! objects (data address and vtable); were the vtables ever duplicated, the default would be
//! chained and the report printed twice, never lost. A hook the user installs after the
//! runtime started replaces this one, as `set_hook` always does.

use std::io::Write;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex};

use super::g::G;

type Hook = Box<dyn Fn(&PanicHookInfo<'_>) + Sync + Send + 'static>;

/// Installs the hook (once, at runtime start).
pub(crate) fn install() {
    let installed = std::panic::take_hook();
    let default = std::panic::take_hook();
    #[allow(ambiguous_wide_pointer_comparisons)]
    let user_set = !std::ptr::eq(&*installed, &*default);
    let chained: Hook = if user_set { installed } else { default };
    std::panic::set_hook(Box::new(move |info| {
        let gp = running_goroutine();
        if gp.is_null() {
            return chained(info);
        }
        let mut text = report(gp, info);
        if DEFERRING.load(Relaxed) > 0 {
            match defer(gp, text) {
                None => return,
                Some(t) => text = t,
            }
        }
        // Not eprint!: a failed write (a closed pipe) must not panic inside the panic hook.
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
        if user_set {
            chained(info);
        }
    }));
}

/// Where a goroutine's panic report goes instead of stderr (`Deferred`).
type Slot = Arc<Mutex<Option<String>>>;

/// Goroutines whose panic report is handed to the thread that waits for them, with where it
/// goes; `DEFERRING` is its length, so that other panics pay one load.
static DEFERRED: Mutex<Vec<(u64, Slot)>> = Mutex::new(Vec::new());
static DEFERRING: AtomicUsize = AtomicUsize::new(0);

/// Keeps the report of `gp`'s panic if its reports are deferred and none is kept yet; else
/// returns what to print now. A second panic is printed at once, after the first's report: it
/// may be one that cannot unwind (a panic in a destructor during unwinding), which ends the
/// process before the waiting thread could print anything.
fn defer(gp: *mut G, text: String) -> Option<String> {
    // SAFETY: `gp` is the running goroutine, alive.
    let id = unsafe { (*gp).id() };
    let list = DEFERRED.lock().unwrap_or_else(|e| e.into_inner());
    let Some((_, slot)) = list.iter().find(|(g, _)| *g == id) else {
        return Some(text);
    };
    let mut kept = slot.lock().unwrap_or_else(|e| e.into_inner());
    match kept.take() {
        None => {
            *kept = Some(text);
            None
        }
        Some(first) => Some(first + &text),
    }
}

/// While alive, the panic report of the goroutine that made it is kept for the thread waiting
/// for that goroutine, instead of going to stderr: a `#[gort::test]` body's, which the test's
/// own thread then prints where libtest captures that test's output (a goroutine's thread is an
/// M, whose output libtest attributes to whichever test started the M). The hook chained behind
/// this one is not called for them either: under libtest it is libtest's, which would print the
/// report again into that M's capture.
pub(crate) struct Deferred {
    id: u64,
    slot: Slot,
}

impl Deferred {
    /// Defers the reports of the calling goroutine's panics to `slot`.
    pub(crate) fn new(slot: Slot) -> Deferred {
        let gp = running_goroutine();
        assert!(!gp.is_null(), "Deferred::new runs on a goroutine");
        // SAFETY: the running goroutine, alive.
        let id = unsafe { (*gp).id() };
        DEFERRED
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((id, slot.clone()));
        DEFERRING.fetch_add(1, Relaxed);
        Deferred { id, slot }
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        let mut list = DEFERRED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = list
            .iter()
            .position(|(g, s)| *g == self.id && Arc::ptr_eq(s, &self.slot))
        {
            list.swap_remove(i);
            DEFERRING.fetch_sub(1, Relaxed);
        }
    }
}

/// The goroutine running on this thread, or null (a plain thread, or the scheduler's stack).
fn running_goroutine() -> *mut G {
    let Some(m) = super::m::current_m() else {
        return std::ptr::null_mut();
    };
    m.curg.load(std::sync::atomic::Ordering::Relaxed)
}

/// std's panic report with the goroutine in place of the thread.
fn report(gp: *mut G, info: &PanicHookInfo<'_>) -> String {
    // SAFETY: `gp` is the running goroutine: alive, and its name cannot be freed under it.
    let (id, name) = unsafe { ((*gp).id(), (*gp).name_cloned()) };
    let payload = info.payload();
    let msg = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("Box<dyn Any>");
    let mut out = format!("\ngoroutine {id}");
    if let Some(name) = name {
        out.push_str(&format!(" {name:?}"));
    }
    match info.location() {
        Some(l) => out.push_str(&format!(" panicked at {l}:\n{msg}\n")),
        None => out.push_str(&format!(" panicked:\n{msg}\n")),
    }
    match std::env::var_os("RUST_BACKTRACE") {
        _ if super::traceback::level() == super::traceback::NONE => {}
        Some(v) if v == "full" => {
            let bt = std::backtrace::Backtrace::force_capture();
            out.push_str(&format!("stack backtrace:\n{bt}\n"));
        }
        Some(v) if v != "0" => {
            // std's short form: the panic machinery and the goroutine's entry are left out.
            let bt = std::backtrace::Backtrace::force_capture().to_string();
            out.push_str(&format!(
                "stack backtrace:\n{}note: Some details are omitted, run with \
                 `RUST_BACKTRACE=full` for a verbose backtrace.\n",
                super::traceback::trim_panic(&bt)
            ));
        }
        _ => out.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ),
    }
    out
}
