//! The network poller (Go's netpoll.go + netpoll_epoll.go).
//!
//! One epoll instance, created on first use, edge-triggered, one registration per fd for both
//! directions. Each registered fd has a `PollDesc` with a read and a write waiter slot (Go's
//! `rg`/`wg`): 0, `READY` (an edge arrived and nobody consumed it), `WAIT` (a goroutine is about
//! to park), or the parked G. I/O that would block parks the goroutine in `wait`; the poller
//! readies it when epoll reports the edge. There is no poller thread: schedulers poll without
//! blocking while looking for work, the one M that sleeps for timers sleeps in `epoll_wait`
//! instead (woken early through an eventfd), and sysmon polls if nobody has for 10 ms.
//!
//! Deadlines are per-wait timers on the descriptor: when one fires it marks the wait expired and
//! wakes the goroutine, whose operation then fails with `TimedOut`. A deadline that changes while
//! a goroutine waits (Go's `SetReadDeadline` from another goroutine) kicks the waiter
//! (`PollDesc::kick`): it wakes as if the fd were ready, and its caller, finding the operation
//! still blocked, waits again with the new deadline (or fails at once if it has passed). Go resets
//! the descriptor's timers in place instead; the kick keeps one timer per wait and costs only a
//! spurious wake when deadlines change, which is rare.
//!
//! Invariants: descriptors are never freed (closed ones are reused), so a stale epoll event can
//! at worst mark a reused descriptor ready, which costs one spurious retry of a non-blocking
//! call. A descriptor has at most one waiter per direction.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

use super::g::{G, WaitReason};
use super::park::{park, ready};
use super::timers::Timer;
use crate::sys::nanotime;

const READY: usize = 1;
const WAIT: usize = 2;
/// epoll `data` of the break eventfd.
const BREAK_TOKEN: u64 = 0;

struct Poller {
    epfd: i32,
    breakfd: i32,
}

static POLLER: OnceLock<Poller> = OnceLock::new();
/// Goroutines parked in `wait` now.
static WAITERS: AtomicUsize = AtomicUsize::new(0);
/// nanotime of the last poll (for sysmon).
static LAST_POLL: AtomicI64 = AtomicI64::new(0);
/// Set while an M blocks in epoll_wait and has not yet been woken through the eventfd.
static BLOCKED: AtomicBool = AtomicBool::new(false);

fn poller() -> io::Result<&'static Poller> {
    if let Some(p) = POLLER.get() {
        return Ok(p);
    }
    // SAFETY: plain syscalls creating new descriptors.
    let (epfd, breakfd) = unsafe {
        (
            libc::epoll_create1(libc::EPOLL_CLOEXEC),
            libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK),
        )
    };
    if epfd < 0 || breakfd < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut ev = libc::epoll_event {
        events: libc::EPOLLIN as u32,
        u64: BREAK_TOKEN,
    };
    // SAFETY: registering our own eventfd with our own epoll instance.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, breakfd, &mut ev) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let p = Poller { epfd, breakfd };
    if POLLER.set(p).is_err() {
        // Another thread won the race; close ours.
        // SAFETY: closing the descriptors we just created.
        unsafe {
            libc::close(epfd);
            libc::close(breakfd);
        }
    }
    Ok(POLLER.get().expect("poller initialised"))
}

/// Whether the poller exists and a goroutine waits on it.
pub(crate) fn has_waiters() -> bool {
    WAITERS.load(SeqCst) > 0 && POLLER.get().is_some()
}

/// Per-fd poll state (Go's pollDesc).
#[repr(C)]
pub(crate) struct PollDesc {
    rtimer: Timer,
    wtimer: Timer,
    fd: AtomicI32,
    rg: AtomicUsize,
    wg: AtomicUsize,
    closing: AtomicBool,
    rexpired: AtomicBool,
    wexpired: AtomicBool,
    /// Set by a deadline callback as its last access (the waiter spins on it if it could not
    /// stop the timer).
    rfired: AtomicBool,
    wfired: AtomicBool,
    /// Set by `kick`: the waiter's deadline changed; it returns to recompute it.
    rkicked: AtomicBool,
    wkicked: AtomicBool,
}

struct PdPtr(&'static PollDesc);
static FREE: Mutex<Vec<PdPtr>> = Mutex::new(Vec::new());

impl PollDesc {
    fn new() -> PollDesc {
        PollDesc {
            rtimer: Timer::new(),
            wtimer: Timer::new(),
            fd: AtomicI32::new(-1),
            rg: AtomicUsize::new(0),
            wg: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            rexpired: AtomicBool::new(false),
            wexpired: AtomicBool::new(false),
            rfired: AtomicBool::new(false),
            wfired: AtomicBool::new(false),
            rkicked: AtomicBool::new(false),
            wkicked: AtomicBool::new(false),
        }
    }

    /// Registers `fd` (already non-blocking) with the poller.
    pub(crate) fn open(fd: i32) -> io::Result<&'static PollDesc> {
        super::ensure_started();
        let p = poller()?;
        let pd = FREE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .map_or_else(|| &*Box::leak(Box::new(PollDesc::new())), |d| d.0);
        pd.fd.store(fd, Relaxed);
        pd.rg.store(0, Relaxed);
        pd.wg.store(0, Relaxed);
        pd.closing.store(false, Relaxed);
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: pd as *const PollDesc as u64,
        };
        // SAFETY: registering the caller's fd; `pd` lives forever.
        if unsafe { libc::epoll_ctl(p.epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            let e = io::Error::last_os_error();
            FREE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(PdPtr(pd));
            return Err(e);
        }
        Ok(pd)
    }

    /// Unregisters the fd (before the caller closes it) and wakes any waiter with an error.
    pub(crate) fn close(&'static self) {
        self.closing.store(true, SeqCst);
        for read in [true, false] {
            if let Some(g) = self.unblock(read, false) {
                // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
                unsafe { ready(g) };
            }
        }
        if let Some(p) = POLLER.get() {
            let fd = self.fd.swap(-1, Relaxed);
            // SAFETY: unregistering the caller's still-open fd.
            unsafe { libc::epoll_ctl(p.epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        }
        // A waiter may still be on its way out of `wait`; it only touches the descriptor's
        // atomics, which stay valid, and a reused descriptor tolerates spurious states.
        FREE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(PdPtr(self));
    }

    fn slot(&self, read: bool) -> &AtomicUsize {
        if read { &self.rg } else { &self.wg }
    }

    /// Go's netpollunblock: takes the waiter out of a slot. With `ioready`, leaves READY behind.
    fn unblock(&self, read: bool, ioready: bool) -> Option<*mut G> {
        let slot = self.slot(read);
        loop {
            let old = slot.load(Acquire);
            if old == READY || (old == 0 && !ioready) {
                return None;
            }
            let new = if ioready { READY } else { 0 };
            if slot.compare_exchange(old, new, AcqRel, Acquire).is_ok() {
                return (old > WAIT).then_some(old as *mut G);
            }
        }
    }

    /// Wakes the goroutine waiting in `wait` in this direction, if any, to recompute its
    /// deadline; one that is about to wait does so too.
    pub(crate) fn kick(&self, read: bool) {
        let kicked = if read { &self.rkicked } else { &self.wkicked };
        kicked.store(true, SeqCst);
        if let Some(g) = self.unblock(read, false) {
            // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
            unsafe { ready(g) };
        }
    }

    /// Parks until the fd is ready for reading (`read`) or writing (`Ok`), or the deadline (a
    /// nanotime, from `deadline`) passes (`TimedOut`), or the descriptor is closed, or a `kick`
    /// says the deadline changed (`Ok`: the caller retries its operation and waits again).
    pub(crate) fn wait(
        &'static self,
        read: bool,
        deadline: &dyn Fn() -> Option<i64>,
    ) -> io::Result<()> {
        let slot = self.slot(read);
        let (timer, expired, fired, kicked) = if read {
            (&self.rtimer, &self.rexpired, &self.rfired, &self.rkicked)
        } else {
            (&self.wtimer, &self.wexpired, &self.wfired, &self.wkicked)
        };
        // Cleared before the deadline is read, so that a kick after the read is seen.
        kicked.store(false, SeqCst);
        expired.store(false, SeqCst);
        fired.store(false, Relaxed);
        let armed = match deadline() {
            Some(t) if t <= nanotime() => return Err(timed_out()),
            Some(t) => {
                let f: super::timers::TimerFn = if read { rdeadline } else { wdeadline };
                // SAFETY: descriptors are never freed; the timer is stopped (or its callback
                // waited for) before this wait returns.
                unsafe { super::add_timer(timer, t, f) };
                true
            }
            None => false,
        };
        let r = self.block(slot, expired, kicked);
        if armed && !timer.stop() {
            while !fired.load(Acquire) {
                std::hint::spin_loop();
            }
        }
        r
    }

    fn block(
        &self,
        slot: &AtomicUsize,
        expired: &AtomicBool,
        kicked: &AtomicBool,
    ) -> io::Result<()> {
        loop {
            if slot.compare_exchange(READY, 0, AcqRel, Acquire).is_ok() {
                return Ok(());
            }
            if self.closing.load(SeqCst) {
                return Err(io::Error::other(
                    "gort: the socket was closed while waiting",
                ));
            }
            if expired.load(SeqCst) {
                return Err(timed_out());
            }
            if kicked.load(SeqCst) {
                return Ok(());
            }
            match slot.compare_exchange(0, WAIT, AcqRel, Acquire) {
                Ok(_) => {}
                Err(READY) => continue,
                Err(_) => crate::util::fatal!("netpoll: two goroutines wait on one fd direction"),
            }
            // Re-check after announcing WAIT: close, deadlines and kicks unblock with "not ready".
            if !self.closing.load(SeqCst) && !expired.load(SeqCst) && !kicked.load(SeqCst) {
                WAITERS.fetch_add(1, SeqCst);
                park(WaitReason::IoWait, &mut |gp| {
                    slot.compare_exchange(WAIT, gp as usize, AcqRel, Acquire)
                        .is_ok()
                });
                WAITERS.fetch_sub(1, SeqCst);
            }
            if slot.swap(0, AcqRel) == READY {
                return Ok(());
            }
        }
    }
}

/// The error of an operation whose deadline passed.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "gort: I/O deadline passed")
}

unsafe fn rdeadline(t: *const Timer, _: u64) {
    // SAFETY: `rtimer` is the first field of the repr(C) PollDesc, which is never freed.
    let pd = unsafe { &*(t as *const PollDesc) };
    pd.rexpired.store(true, SeqCst);
    if let Some(g) = pd.unblock(true, false) {
        // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
        unsafe { ready(g) };
    }
    pd.rfired.store(true, Release);
}

unsafe fn wdeadline(t: *const Timer, _: u64) {
    let off = std::mem::offset_of!(PollDesc, wtimer);
    // SAFETY: `t` is the `wtimer` field of a PollDesc, which is never freed.
    let pd = unsafe { &*((t as usize - off) as *const PollDesc) };
    pd.wexpired.store(true, SeqCst);
    if let Some(g) = pd.unblock(false, false) {
        // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
        unsafe { ready(g) };
    }
    pd.wfired.store(true, Release);
}

/// Polls for I/O readiness, blocking up to `timeout_ns` (0: don't block; negative: until an
/// event or `wake`), and readies the goroutines whose I/O is ready. Returns how many.
pub(crate) fn poll(timeout_ns: i64) -> usize {
    let Some(p) = POLLER.get() else {
        return 0;
    };
    let timeout_ms = if timeout_ns < 0 {
        -1
    } else if timeout_ns == 0 {
        0
    } else {
        // Round up so that a sub-millisecond timer does not turn into a busy loop.
        ((timeout_ns.min(1 << 40) + 999_999) / 1_000_000) as i32
    };
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 128];
    if timeout_ms != 0 {
        BLOCKED.store(true, SeqCst);
    }
    // SAFETY: `events` is a writable array of the length we pass.
    let n =
        unsafe { libc::epoll_wait(p.epfd, events.as_mut_ptr(), events.len() as i32, timeout_ms) };
    BLOCKED.store(false, SeqCst);
    LAST_POLL.store(nanotime(), Relaxed);
    let mut woken = 0;
    for ev in events.iter().take(n.max(0) as usize) {
        let (bits, token) = (ev.events, ev.u64);
        if token == BREAK_TOKEN {
            let mut buf = 0u64;
            // SAFETY: draining our own non-blocking eventfd into an 8-byte buffer.
            unsafe { libc::read(p.breakfd, (&mut buf as *mut u64).cast(), 8) };
            continue;
        }
        // SAFETY: tokens other than BREAK_TOKEN are descriptors, which are never freed.
        let pd = unsafe { &*(token as *const PollDesc) };
        let err = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        let r = err || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0;
        let w = err || bits & libc::EPOLLOUT as u32 != 0;
        for (on, read) in [(r, true), (w, false)] {
            if on && let Some(g) = pd.unblock(read, true) {
                // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
                unsafe { ready(g) };
                woken += 1;
            }
        }
    }
    if woken > 0 && super::trace::ON.load(Relaxed) {
        super::trace::netpoll(woken);
    }
    woken
}

/// Interrupts an M blocked in `poll` (Go's netpollBreak).
pub(crate) fn wake() {
    if let Some(p) = POLLER.get()
        && BLOCKED.swap(false, SeqCst)
    {
        let one = 1u64;
        // SAFETY: writing 8 bytes to our own eventfd.
        unsafe { libc::write(p.breakfd, (&one as *const u64).cast(), 8) };
    }
}

/// Whether someone will see I/O readiness without sysmon: no goroutine waits for I/O, or an M
/// blocks in the poller.
pub(crate) fn watched() -> bool {
    !has_waiters() || BLOCKED.load(SeqCst)
}

/// sysmon: poll if nobody has for 10 ms.
pub(crate) fn sysmon_poll(now: i64) {
    if has_waiters() && now - LAST_POLL.load(Relaxed) > 10_000_000 {
        poll(0);
    }
}
