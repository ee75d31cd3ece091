//! Stack overflow reports (ARCHITECTURE.md, decision "Overflow is always caught and reported"; Go's
//! `sigpanic` → "stack overflow" throw).
//!
//! A SIGSEGV/SIGBUS handler runs on a per-thread alternate signal stack (the faulting stack is
//! exhausted). If the fault address lies in the guard region below the current goroutine's
//! stack, and the interrupted stack pointer (read from the signal context, `arch::signal_sp`) is
//! on that goroutine's stack, it prints
//! `fatal error: goroutine <id> stack overflow (limit <n> bytes), spawned at <file>:<line>`
//! and aborts. Any other fault is chained to the handler that was installed before ours (std's
//! own main-thread overflow report keeps working), or to the default action.
//!
//! The handler is async-signal-safe: it reads the current M through a const-initialised
//! thread-local (no lazy initialisation, no allocation), formats integers by hand and writes with
//! write(2).

use std::cell::{Cell, UnsafeCell};
use std::mem::MaybeUninit;
use std::sync::Once;
use std::sync::atomic::Ordering::Relaxed;

use super::GUARD;
use crate::rt::m::current_m;
use crate::util::fatal::{claim_report, fmt_hex, fmt_u64, write_stderr};

/// Alternate signal stack size per M.
const ALTSTACK: usize = 64 << 10;

/// The actions installed before ours: written once by `install` before our handler exists,
/// read only by the handler afterwards.
struct OldActions(UnsafeCell<[MaybeUninit<libc::sigaction>; 2]>);
// SAFETY: written once before any reader can exist (see above), then read-only.
unsafe impl Sync for OldActions {}

static INSTALL: Once = Once::new();
static OLD: OldActions = OldActions(UnsafeCell::new([MaybeUninit::uninit(); 2]));

/// Installs the handler once per process.
pub(crate) fn install() {
    INSTALL.call_once(|| {
        // SAFETY: sigaction with a zeroed struct plus our handler; OLD is written only here,
        // once, before the handler can run (it is installed by these very calls).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            let old = &mut *OLD.0.get();
            libc::sigaction(libc::SIGSEGV, &sa, old[0].as_mut_ptr());
            libc::sigaction(libc::SIGBUS, &sa, old[1].as_mut_ptr());
        }
    });
}

thread_local! {
    /// Whether this thread was checked, and the alternate stack we installed on it, if any.
    static ALT: Cell<(bool, *mut u8)> = const { Cell::new((false, std::ptr::null_mut())) };
}

/// Gives the calling thread an alternate signal stack if it has none (once per thread; M
/// threads call it at start, so it is never on a hot path).
pub(crate) fn on_thread_start() {
    if ALT.with(|a| a.get().0) {
        return;
    }
    ALT.with(|a| a.set((true, std::ptr::null_mut())));
    // SAFETY: querying and setting the calling thread's sigaltstack; the new stack is a fresh
    // mapping that lives until `on_thread_exit` (never, for Ms: they are never destroyed).
    unsafe {
        let mut old: libc::stack_t = std::mem::zeroed();
        libc::sigaltstack(std::ptr::null(), &mut old);
        if old.ss_flags & libc::SS_DISABLE == 0 && old.ss_size >= usable_altstack() {
            return;
        }
        let Ok(p) = crate::sys::mem::reserve(ALTSTACK) else {
            return;
        };
        let st = libc::stack_t {
            ss_sp: p.cast(),
            ss_flags: 0,
            ss_size: ALTSTACK,
        };
        if libc::sigaltstack(&st, std::ptr::null_mut()) == 0 {
            ALT.with(|a| a.set((true, p)));
        } else {
            crate::sys::mem::release(p, ALTSTACK);
        }
    }
}

/// The smallest alternate signal stack this thread's own may be and still be kept: room for
/// the kernel's signal frame, which depends on the CPU's register state (3 KiB and more with
/// AVX-512: `getauxval(AT_MINSIGSTKSZ)`; the `MINSIGSTKSZ` constant is the old 2 KiB), plus
/// our handler's frames. A smaller one (a C thread's) is replaced: on it the kernel cannot
/// deliver the fault and kills the process without a report.
fn usable_altstack() -> usize {
    /// Our handler's frames, and what it chains to (std's handler).
    const HANDLER: usize = 2 << 10;
    // SAFETY: getauxval has no preconditions; 0 means the kernel does not say.
    let kernel = unsafe { libc::getauxval(libc::AT_MINSIGSTKSZ) } as usize;
    kernel.max(libc::MINSIGSTKSZ) + HANDLER
}

/// Removes and unmaps the alternate signal stack `on_thread_start` installed on this thread, if
/// any (a foreign thread that is exiting: without this, every such thread leaks a mapping).
pub(crate) fn on_thread_exit() {
    let Ok((_, p)) = ALT.try_with(|a| a.replace((false, std::ptr::null_mut()))) else {
        return;
    };
    if p.is_null() {
        return;
    }
    // SAFETY: `p` is the alternate stack we installed on this thread; no signal handler runs on
    // it now (we are in ordinary code on the thread), so it can be disabled and unmapped.
    unsafe {
        let off = libc::stack_t {
            ss_sp: std::ptr::null_mut(),
            ss_flags: libc::SS_DISABLE,
            ss_size: 0,
        };
        libc::sigaltstack(&off, std::ptr::null_mut());
        crate::sys::mem::release(p, ALTSTACK);
    }
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for SA_SIGINFO handlers.
    let addr = unsafe { (*info).si_addr() } as usize;
    // SAFETY: `ctx` is this SA_SIGINFO handler's third argument.
    let sp = unsafe { crate::arch::signal_sp(ctx) };
    // An overflow: the fault is in the goroutine's guard, and the code that faulted ran on that
    // goroutine's stack (its stack pointer between the guard and the G at the slot's top). A
    // stray access to the guard from another stack (a C call on the system stack, another
    // goroutine) is an ordinary fault.
    let hits = |gp: *mut crate::rt::g::G| {
        // SAFETY: Gs are never unmapped.
        let lo = unsafe { gp.as_ref() }.map_or(0, |g| g.stack_lo.load(Relaxed));
        lo != 0
            && addr < lo
            && addr >= lo - GUARD
            && sp.is_none_or(|sp| sp >= lo - GUARD && sp < gp as usize)
    };
    if let Some(m) = current_m() {
        let gp = m.curg.load(Relaxed);
        if hits(gp) {
            // SAFETY: `hits` checked it is a G.
            report(unsafe { &*gp }, b"");
        }
    }
    // A dump capturing a parked goroutine's backtrace on that goroutine's stack (rt::dump).
    let gp = crate::rt::dump::BORROWED.load(std::sync::atomic::Ordering::Acquire);
    if hits(gp) {
        // SAFETY: as above.
        report(unsafe { &*gp }, b" while a dump captured its backtrace");
    }
    chain(sig, info, ctx);
}

fn report(g: &crate::rt::g::G, when: &[u8]) -> ! {
    claim_report();
    let mut buf = [0u8; 20];
    write_stderr(b"fatal error: goroutine ");
    write_stderr(fmt_u64(g.id(), &mut buf));
    write_stderr(b" stack overflow (limit ");
    write_stderr(fmt_u64(g.limit.load(Relaxed) as u64, &mut buf));
    write_stderr(b" bytes)");
    write_stderr(when);
    write_spawn_site(g);
    if g.limit.load(Relaxed) >= super::MAX_STACK {
        write_stderr(
            b"\nnote: the limit is the largest a goroutine stack can have (1 GiB, as Go's)\n",
        );
    } else {
        write_stderr(
            b"\nhelp: raise the limit with gort::Builder::stack_size or GORT_STACK_SIZE\n",
        );
    }
    // SAFETY: abort is async-signal-safe.
    unsafe { libc::abort() }
}

/// A fault that no earlier handler takes, so that it ends the process: says where, as Go's
/// "unexpected signal" report does (the goroutine that ran, and where it was spawned; in an
/// `ffi::call`, the goroutine that called it), before the default action kills the process.
fn report_fault(sig: libc::c_int, info: *mut libc::siginfo_t) {
    claim_report();
    let mut buf = [0u8; 20];
    write_stderr(b"fatal error: unexpected signal ");
    write_stderr(if sig == libc::SIGBUS {
        b"SIGBUS"
    } else {
        b"SIGSEGV"
    });
    write_stderr(b" (fault address 0x");
    // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
    write_stderr(fmt_hex(unsafe { (*info).si_addr() } as u64, &mut buf));
    write_stderr(b")");
    let gp = current_m().map_or(std::ptr::null_mut(), |m| m.curg.load(Relaxed));
    // SAFETY: Gs are never unmapped; `curg` is the G this M runs, or null.
    if let Some(g) = unsafe { gp.as_ref() } {
        write_stderr(b" in goroutine ");
        write_stderr(fmt_u64(g.id(), &mut buf));
        write_spawn_site(g);
    }
    write_stderr(b"\n");
}

/// ", spawned at file:line" for `g`, if it has a spawn site (async-signal-safe).
fn write_spawn_site(g: &crate::rt::g::G) {
    if let Some(loc) = g.spawn_location() {
        let mut buf = [0u8; 20];
        write_stderr(b", spawned at ");
        write_stderr(loc.file().as_bytes());
        write_stderr(b":");
        write_stderr(fmt_u64(loc.line() as u64, &mut buf));
    }
}

/// Passes a fault that is not ours to the previous handler, or restores the default action so
/// that returning re-raises it.
fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: OLD was fully written by `install` before this handler was installed.
    let old = unsafe { (*OLD.0.get())[usize::from(sig == libc::SIGBUS)].assume_init_ref() };
    let h = old.sa_sigaction;
    if h == libc::SIG_DFL || h == libc::SIG_IGN {
        report_fault(sig, info);
        // SAFETY: resetting to the default action and raising the signal again: it stays
        // pending while this handler runs and kills the process as the handler returns (the
        // faulting access alone would do for a real fault, but not for a signal sent with
        // `kill`, after whose report the process would otherwise go on).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = libc::SIG_DFL;
            libc::sigaction(sig, &sa, std::ptr::null_mut());
            libc::raise(sig);
        }
        return;
    }
    if old.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(h) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(h) };
        f(sig);
    }
    // A handler that let the fault kill the process (std's, for a fault that is not a guard
    // page's) restored the default action; then say where, as above.
    // SAFETY: querying the disposition only; `cur` is written by the call.
    let dies = unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut cur) == 0 && cur.sa_sigaction == libc::SIG_DFL
    };
    if dies {
        report_fault(sig, info);
        // SAFETY: as above: the default action, pending until the handler returns.
        unsafe { libc::raise(sig) };
    }
}
