//! Hogs: goroutines that run a whole time slice without calling the runtime (a tight loop, a
//! `println!` loop, a `poll(2)` or `nanosleep` without `gort::blocking`). Follows Go's proc.go
//! (retake, handoffp, exitsyscall). There is no sound way to interrupt them (ARCHITECTURE.md
//! decision "No preemption in the middle of an instruction"), so they are treated as
//! if they were in a blocking call: sysmon takes their P, with its run queue and timers, and
//! hands it to another M (Go's retake/handoffp of a `_Psyscall` P). The OS then time-slices
//! the hog's thread against the others. Any number of hogs, one hand-off each.
//!
//! Ownership protocol. A P belongs to the M in `P::m` while its status is `P_RUNNING`. The
//! goroutine running on an M touches its P only inside a *P section* (`with_p`, and the switch
//! to the scheduler, after which the M's g0 owns the P until it runs a goroutine again). A
//! section starts by setting `M::in_rt` and then checking that the P is still ours; sysmon
//! takes a P by CAS `P_RUNNING → P_TAKING`, then checks `in_rt`, and gives the P back
//! (`P_RUNNING`) if it is set. `P_TAKING` is tentative: an owner already inside a section may
//! move its P on (a blocking call, the idle list) over it, so sysmon leaves `P_TAKING` only by
//! CAS and backs off when that fails. This is Dekker's handshake: either the M sees `P_TAKING` (and
//! waits for sysmon's verdict) or sysmon sees `in_rt` (and backs off). The store-load order it
//! needs is made by a full fence on sysmon's side only: `membarrier(PRIVATE_EXPEDITED)` runs a
//! barrier on every CPU that runs one of our threads, so the section entry — on every channel
//! operation, spawn and wake-up — costs two plain stores and a compiler fence. Where the kernel
//! lacks membarrier, section entries pay a real fence instead.
//!
//! An M whose P was taken finds out at its next section: it drops the P (`M::p` = null) and
//! carries on without one (a wake-up or spawn then uses the global queue); at its next switch
//! the scheduler gets it a P or parks the thread, as exitsyscall does.
//!
//! Invariants: `M::in_rt` is true whenever code on that M may touch P-local state (always on
//! g0; inside sections on a goroutine); it is false only while a goroutine runs user code or
//! runtime code that touches no P. Sysmon changes the owner of a running P only through `take`
//! (and of a P in a blocking call only through `blocking::retake`, the same handshake).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::*, compiler_fence};

use super::m::{M, current_m};
use super::p::{P, P_IDLE, P_RUNNING, P_TAKING, p_ref};
use crate::util::loom::{fence, spin_loop};

/// Whether `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)` is registered for this process.
static MEMBARRIER: AtomicBool = AtomicBool::new(false);

/// Ps taken from hogs since the process began (`runtime::Stats::handoffs`).
pub(crate) static HANDOFFS: AtomicU64 = AtomicU64::new(0);

const MEMBARRIER_CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
const MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Registers for expedited private membarriers (once, at start-up).
pub(crate) fn init() {
    // SAFETY: a plain syscall with integer arguments.
    let r = unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED,
            0,
            0,
        )
    };
    MEMBARRIER.store(r == 0, Relaxed);
}

/// The owner's half of the store-load order of the handshake (see the module doc): after its
/// flag store (`M::in_rt`, `M::reclaiming`), before it reads the P's status. A compiler fence
/// when sysmon's `taker_barrier` is a membarrier, a full fence otherwise.
#[inline]
pub(crate) fn owner_barrier() {
    if MEMBARRIER.load(Relaxed) {
        compiler_fence(SeqCst);
    } else {
        fence(SeqCst);
    }
}

/// Sysmon's half: after it marked a P `P_TAKING`, before it reads the owner's flag. Orders
/// every thread of the process, so that the owner's side needs no fence of its own.
pub(crate) fn taker_barrier() {
    if MEMBARRIER.load(Relaxed) {
        // SAFETY: a plain syscall with integer arguments.
        let r =
            unsafe { libc::syscall(libc::SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) };
        if r != 0 {
            crate::util::fatal!("membarrier failed after registration succeeded");
        }
    } else {
        fence(SeqCst);
    }
}

/// Starts a P section on `m` (the current M): marks it in the runtime and returns the P it
/// still owns (`None` if it has none, or lost it to sysmon) and the previous mark, for `exit`.
#[inline]
pub(crate) fn enter(m: &M) -> (Option<&'static P>, bool) {
    let prev = m.in_rt.load(Relaxed);
    m.in_rt.store(true, Relaxed);
    owner_barrier();
    let Some(p) = p_ref(m.p.load(Relaxed)) else {
        return (None, prev);
    };
    if prev {
        // The M was already in the runtime (g0, a nested section): sysmon cannot have taken
        // the P since that section started.
        return (Some(p), prev);
    }
    let mut st = p.status.load(Acquire);
    while st == P_TAKING {
        spin_loop();
        st = p.status.load(Acquire);
    }
    if st == P_RUNNING && std::ptr::eq(p.m.load(Acquire), m) {
        return (Some(p), prev);
    }
    lost(m);
    (None, prev)
}

/// The P was taken while the goroutine ran user code: forget it.
#[cold]
fn lost(m: &M) {
    m.p.store(std::ptr::null_mut(), Relaxed);
}

/// Ms running a goroutine without a P since sysmon took it (`M::taken`). While there are any,
/// sysmon keeps `preempt::PREEMPT_HINT` raised, so that such a goroutine stops at its next
/// preemption check (`preempt::check_preempt`, at every blocking runtime call) and the scheduler
/// gets its M a P or parks it, instead of the goroutine running on beside `procs()` others.
pub(crate) static PLESS: AtomicUsize = AtomicUsize::new(0);

/// Called when `m` gets a P (`global::acquirep`), or its scheduler looks for one (its goroutine
/// switched away): it no longer runs a goroutine without a P.
#[inline]
pub(crate) fn settled(m: &M) {
    if m.taken.load(Relaxed) && m.taken.swap(false, AcqRel) {
        PLESS.fetch_sub(1, Relaxed);
    }
}

/// Whether `m` still owns `p` (a racy read, for the preemption check; sections decide).
pub(crate) fn owned_by(p: &P, m: &M) -> bool {
    let st = p.status.load(Acquire);
    (st == P_RUNNING || st == P_TAKING) && std::ptr::eq(p.m.load(Acquire), m)
}

/// Ends a P section started by `enter` on the same M (no switch in between).
#[inline]
pub(crate) fn exit(m: &M, prev: bool) {
    m.in_rt.store(prev, Release);
}

/// Runs `f` with the P the current M owns (`None` on a plain thread, on a P-less M, or after
/// the P was taken from a hog). `f` must not switch goroutines, and must not run user code
/// (see ARCHITECTURE.md, "P section").
#[inline]
pub(crate) fn with_p<R>(f: impl FnOnce(Option<&'static P>) -> R) -> R {
    let Some(m) = current_m() else {
        return f(None);
    };
    let (pp, prev) = enter(m);
    // Ends the section even if `f` unwinds: left marked, the M would keep sysmon from ever
    // taking its P from a hog.
    struct Exit<'a>(&'a M, bool);
    impl Drop for Exit<'_> {
        fn drop(&mut self) {
            exit(self.0, self.1);
        }
    }
    let _exit = Exit(m, prev);
    f(pp)
}

/// Sysmon: takes `p` from the goroutine that has run on it since `switchtick` without calling
/// the runtime, and hands it off. Returns false if the goroutine is in the runtime now (or
/// switched meanwhile), in which case the P stays where it is.
pub(crate) fn take(p: &'static P, switchtick: u32) -> bool {
    if !try_take(p, switchtick) {
        return false;
    }
    HANDOFFS.fetch_add(1, Relaxed);
    if super::trace::ON.load(Relaxed) {
        super::trace::handoff(p, true);
    }
    super::preempt::PREEMPT_HINT.store(true, Relaxed);
    super::schedule::needing_thread_for(
        "the processor of a goroutine that ran a whole time slice without calling the \
         runtime, which keeps its thread",
        || super::global::handoffp(p),
    );
    true
}

/// The handshake half of `take`: on success `p` is idle, owned by the caller, and its former
/// M will find out at its next section.
fn try_take(p: &P, switchtick: u32) -> bool {
    if p.status
        .compare_exchange(P_RUNNING, P_TAKING, AcqRel, Relaxed)
        .is_err()
    {
        return false;
    }
    let owner = super::m::m_ref(p.m.load(Acquire));
    taker_barrier();
    // `P_TAKING` is only a tentative mark: the owner may have moved its P on meanwhile (into a
    // blocking call, to the idle list) from inside a section, and its transition wins. So both
    // outcomes are CASes from `P_TAKING`, and a failed one leaves the owner's state alone.
    let m = match owner {
        Some(m) if !m.in_rt.load(Acquire) && p.switchtick.load(Relaxed) == switchtick => m,
        _ => {
            let _ = p
                .status
                .compare_exchange(P_TAKING, P_RUNNING, AcqRel, Relaxed);
            return false;
        }
    };
    // Marked before the P is released, so that the M cannot reacquire a P (and clear the mark)
    // before it is set.
    m.taken.store(true, Relaxed);
    PLESS.fetch_add(1, Relaxed);
    if p.status
        .compare_exchange(P_TAKING, P_IDLE, AcqRel, Relaxed)
        .is_err()
    {
        m.taken.store(false, Relaxed);
        PLESS.fetch_sub(1, Relaxed);
        return false;
    }
    p.m.store(std::ptr::null_mut(), Relaxed);
    true
}

/// Model check (run with `--cfg loom`, see util::loom; the membarrier is modelled by its
/// fallback, a full fence on both sides).
#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;

    /// A goroutine entering a P section races sysmon taking its P: loom sees every use of the
    /// P's state by one ordered after the other's (no data race: sysmon may take the P only
    /// after the section ended), and the P is never lost by both.
    #[test]
    fn loom_section_and_take_never_share_the_p() {
        loom::model(|| {
            let p = Arc::new(P::new(0));
            let m = Arc::new(M::new());
            super::super::global::acquirep(&m, &p);
            m.in_rt.store(false, Relaxed);
            let state = Arc::new(UnsafeCell::new(0u32));
            let (p2, state2) = (p.clone(), state.clone());
            let sysmon = loom::thread::spawn(move || {
                let took = try_take(&p2, 0);
                if took {
                    // SAFETY: loom checks that this access is ordered with the other one.
                    state2.with_mut(|v| unsafe { *v += 1 });
                }
                took
            });
            let (pp, prev) = enter(&m);
            let kept = pp.is_some();
            if kept {
                // SAFETY: as above.
                state.with_mut(|v| unsafe { *v += 1 });
            }
            exit(&m, prev);
            let took = sysmon.join().unwrap();
            assert!(kept || took, "nobody kept the P");
            if took {
                // Its M finds out at its next section.
                assert!(enter(&m).0.is_none(), "the goroutine still owns a taken P");
            }
        });
    }

    /// The owner moves its P into a blocking call (as `blocking::enter` does) while sysmon tries
    /// to take it: the P ends up in exactly one consistent state, never running without an M.
    #[test]
    fn loom_owner_transition_beats_a_tentative_take() {
        use super::super::p::P_BLOCKING;
        loom::model(|| {
            let p = Arc::new(P::new(0));
            let m = Arc::new(M::new());
            super::super::global::acquirep(&m, &p);
            m.in_rt.store(false, Relaxed);
            let p2 = p.clone();
            let sysmon = loom::thread::spawn(move || try_take(&p2, 0));
            let (pp, prev) = enter(&m);
            let blocked = pp.is_some();
            if blocked {
                m.p.store(std::ptr::null_mut(), Relaxed);
                p.m.store(std::ptr::null_mut(), Relaxed);
                // `blocking::enter` stores; a swap here only works around loom's known bug of
                // letting a store land between the read and the write of another thread's
                // compare-exchange (tokio-rs/loom#254), which C11's RMW atomicity forbids.
                p.status.swap(P_BLOCKING, Release);
            }
            exit(&m, prev);
            let took = sysmon.join().unwrap();
            let st = p.status.load(Acquire);
            match (blocked, took) {
                (true, false) => assert_eq!(st, P_BLOCKING),
                (false, true) => assert_eq!(st, P_IDLE),
                other => panic!("blocked/took {other:?} with status {st}"),
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::time::{Duration, Instant};

    /// A goroutine locked to its thread runs a whole slice without a runtime call (sysmon takes
    /// its P) and then exits, ending its thread: the thread's M is settled on the way out, so
    /// the count of P-less Ms (which keeps the preemption hint raised) comes back down.
    #[test]
    fn a_locked_hog_that_exits_leaves_no_pless_m() {
        let handoffs = super::HANDOFFS.load(Relaxed);
        let (tx, rx) = std::sync::mpsc::channel();
        let body = move || {
            crate::rt::lock_os_thread();
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(60) {
                std::hint::spin_loop();
            }
            tx.send(()).unwrap();
        };
        crate::rt::spawn::spawn(body, 0, None, std::panic::Location::caller()).unwrap();
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        assert!(super::HANDOFFS.load(Relaxed) > handoffs, "sysmon took no P");
        let t = Instant::now();
        while super::PLESS.load(Relaxed) != 0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "a P-less M was never settled"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
