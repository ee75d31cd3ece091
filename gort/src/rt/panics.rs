//! The panic hook that names the goroutine (Go prints `goroutine N [running]:` under a panic;
//! std prints the OS thread's name, which for a goroutine is whichever M ran it).
//!
//! Installed at runtime start, chained in front of the hook that was there: a panic on a
//! goroutine prints `goroutine 17 "worker" panicked at src/x.rs:3:5:` and the message (and,
//! under `RUST_BACKTRACE`, the backtrace), then calls the previous hook if the user had set
//! one; a panic on any other thread goes to the previous hook alone. std's default hook is not
//! chained for goroutines (it would print the M's thread name a second time).
//!
//! std cannot say whether a hook is its default. `take_hook` twice does: the first call returns
//! the installed hook and puts the default back, the second returns the default, and the two
//! are the same hook exactly when nothing else had been installed. They are compared as trait
//! objects (data address and vtable); were the vtables ever duplicated, the default would be
//! chained and the report printed twice, never lost. A hook the user installs after the
//! runtime started replaces this one, as `set_hook` always does.

use std::io::Write;
use std::panic::PanicHookInfo;

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
        report(gp, info);
        if user_set {
            chained(info);
        }
    }));
}

/// The goroutine running on this thread, or null (a plain thread, or the scheduler's stack).
fn running_goroutine() -> *mut G {
    let Some(m) = super::m::current_m() else {
        return std::ptr::null_mut();
    };
    m.curg.load(std::sync::atomic::Ordering::Relaxed)
}

/// Prints std's panic report with the goroutine in place of the thread.
fn report(gp: *mut G, info: &PanicHookInfo<'_>) {
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
        Some(v) if v != "0" => {
            let bt = std::backtrace::Backtrace::force_capture();
            out.push_str(&format!("stack backtrace:\n{bt}\n"));
        }
        _ => out.push_str(
            "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\n",
        ),
    }
    // Not eprint!: a failed write (a closed pipe) must not panic inside the panic hook.
    let _ = std::io::stderr().lock().write_all(out.as_bytes());
}
