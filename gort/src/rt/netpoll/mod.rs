//! The network poller (Go's netpoll.go + netpoll_epoll.go).
//!
//! Edge-triggered epoll, one registration per fd for both directions. Each registered fd has a
//! `PollDesc` with a read and a write waiter slot (Go's `rg`/`wg`): 0, `READY` (an edge arrived
//! and nobody consumed it), `WAIT` (a goroutine is about to park), or the parked G. I/O that
//! would block parks the goroutine in `wait`; the poller readies it when epoll reports the edge.
//! There is no poller thread: schedulers poll without blocking while looking for work, the one M
//! that sleeps for timers sleeps in the poller instead (woken early through an eventfd), and
//! sysmon polls what nobody has for 10 ms.
//!
//! Where this deviates from Go: the poller is sharded. Go has one epoll instance, and whichever P
//! polls it readies every goroutine whose fd is ready, so a connection's goroutine runs on a
//! different CPU from one event to the next, and the socket's kernel state (buffers, locks, the skb
//! slabs it frees into) moves with it. Here there is one instance per P the runtime had when the
//! poller was created (at most `MAX_SHARDS`); P `i` polls the shards `j` with `j % procs == i` (so
//! every shard has an owner whatever `set_procs` does later), and the goroutines it readies go to
//! its own queue. A connected socket's shard is a hash of its two addresses (`conn_key`), ordered
//! so that both ends agree, as a NIC's symmetric receive-side hash does: connections spread over
//! the Ps, and the two ends of a loopback connection inside one process run on one P, where the
//! kernel processes the packets of both. A TCP socket registered before it connected moves to its
//! shard once connected (`rehome`); anything else (a listener, a connected UDP socket, a pipe) goes
//! by `fd % shards`. No shard depends on its owner alone: a P with empty queues also polls the
//! shards nobody has polled for `STALE_NS`, and after finding nothing to steal those not polled in
//! the last `FRESH_NS`; the M that sleeps in the poller waits on all of them (poll(2) on the epoll
//! descriptors); sysmon polls each shard nobody has polled for 10 ms. Measured on the TCP echo
//! benchmark at two Ps: 44% of a goroutine's runs were on another P than its previous one with a
//! single instance, 2% with the shards; with the two ends of each connection hashed together, a
//! round trip went from 3,587 to 2,415 ns.
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
//! call. A descriptor has at most one waiter per direction. An fd is registered with exactly
//! one shard, the one its `PollDesc::shard` names, except inside `rehome`, where it is briefly
//! in two (an edge reported twice is one spurious READY).

mod conn_key;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicUsize, Ordering::*};
use std::sync::{Mutex, OnceLock};

use conn_key::conn_key;

use super::g::{G, WaitReason};
use super::park::{park, ready, ready_quietly};
use super::timers::Timer;
use crate::sys::nanotime;

const READY: usize = 1;
const WAIT: usize = 2;
/// epoll `data` of the break eventfd.
const BREAK_TOKEN: u64 = 0;
/// The most shards a poller has (the M that sleeps in the poller waits on all of them).
const MAX_SHARDS: usize = 64;
/// A P polls another P's shard before stealing once nobody has polled it for this long: its
/// owner is busy, and its goroutines should not wait for sysmon.
const STALE_NS: i64 = 1_000_000;
/// After finding nothing to steal, a P polls the other shards except those polled this
/// recently (their owners are polling them).
const FRESH_NS: i64 = 20_000;

struct Poller {
    /// One epoll instance per P the runtime had when the poller was created (at least one, at
    /// most `MAX_SHARDS`); a descriptor is in the one `shard_index` picks. P `i` polls the
    /// shards `j` with `j % procs == i` first, so a connection's goroutine is usually readied
    /// on the same P.
    shards: Box<[Shard]>,
    breakfd: i32,
    /// A write to `breakfd` is pending: set by `wake`, cleared by the blocking poll that drains
    /// it (Go's netpollWakeSig).
    wake_pending: AtomicBool,
}

struct Shard {
    epfd: i32,
    /// nanotime of this shard's last poll (`poll_shards` and sysmon poll stale shards).
    last: AtomicI64,
}

static POLLER: OnceLock<Poller> = OnceLock::new();
/// Goroutines parked in `wait` now.
static WAITERS: AtomicUsize = AtomicUsize::new(0);
/// Set while an M blocks in the poller (sysmon leaves polling to it).
static BLOCKED: AtomicBool = AtomicBool::new(false);

fn poller() -> io::Result<&'static Poller> {
    if let Some(p) = POLLER.get() {
        return Ok(p);
    }
    let p = Poller::new(
        super::global::SCHED
            .procs
            .load(Relaxed)
            .clamp(1, MAX_SHARDS),
    )?;
    if let Err(p) = POLLER.set(p) {
        // Another thread won the race; close ours.
        p.close();
    }
    Ok(POLLER.get().expect("poller initialised"))
}

impl Poller {
    /// A poller with `n` shards; the break eventfd is registered with the first.
    fn new(n: usize) -> io::Result<Poller> {
        // SAFETY: a plain syscall creating a new descriptor.
        let breakfd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if breakfd < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut p = Poller {
            shards: Box::default(),
            breakfd,
            wake_pending: AtomicBool::new(false),
        };
        let mut shards = Vec::with_capacity(n);
        for _ in 0..n {
            // SAFETY: a plain syscall creating a new descriptor.
            let epfd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
            if epfd < 0 {
                let e = io::Error::last_os_error();
                p.shards = shards.into_boxed_slice();
                p.close();
                return Err(e);
            }
            shards.push(Shard {
                epfd,
                last: AtomicI64::new(0),
            });
        }
        p.shards = shards.into_boxed_slice();
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: BREAK_TOKEN,
        };
        // SAFETY: registering our own eventfd with our own epoll instance.
        if unsafe { libc::epoll_ctl(p.shards[0].epfd, libc::EPOLL_CTL_ADD, breakfd, &mut ev) } != 0
        {
            let e = io::Error::last_os_error();
            p.close();
            return Err(e);
        }
        Ok(p)
    }

    /// Registers `pd`'s fd with its shard.
    fn add(&self, pd: &PollDesc) -> io::Result<()> {
        let fd = pd.fd.load(Relaxed);
        let shard = self.shard_index(fd);
        pd.shard.store(shard, Relaxed);
        register(self.shards[shard].epfd, fd, pd)
    }

    /// Moves `pd`'s fd to its shard if that changed (a socket that has connected since it was
    /// registered). Best effort: if the move fails the fd stays where it is, which works.
    fn rehome(&self, pd: &PollDesc) {
        let fd = pd.fd.load(Relaxed);
        let (old, new) = (pd.shard.load(Relaxed), self.shard_index(fd));
        // Added to the new instance before leaving the old: no edge is lost in between (an
        // edge reported by both is a spurious READY, which the waiters tolerate).
        if old != new && register(self.shards[new].epfd, fd, pd).is_ok() {
            pd.shard.store(new, Relaxed);
            // SAFETY: unregistering the caller's open fd from the instance it leaves.
            unsafe {
                libc::epoll_ctl(
                    self.shards[old].epfd,
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                )
            };
        }
    }

    /// Go's netpollBreak. It writes whether or not an M blocks yet: the M about to block has
    /// published itself as the timer waiter before it computed its timeout, so a wake that
    /// found nobody blocked would otherwise be lost (a timer added in that window slept through
    /// until sysmon). A write pending from an earlier wake makes this one a no-op.
    fn wake(&self) {
        if self
            .wake_pending
            .compare_exchange(false, true, SeqCst, Relaxed)
            .is_ok()
        {
            let one = 1u64;
            // SAFETY: writing 8 bytes to our own eventfd.
            unsafe { libc::write(self.breakfd, (&one as *const u64).cast(), 8) };
        }
    }

    fn close(&self) {
        // SAFETY: closing descriptors this poller created and nobody else has seen.
        unsafe {
            libc::close(self.breakfd);
            for s in &self.shards[..] {
                libc::close(s.epfd);
            }
        }
    }

    /// The shard for `fd`. A connected socket's is a hash of its two addresses, the same from
    /// either end, so both ends of a connection within this process are polled by one P;
    /// anything else's (a socket not yet connected, a pipe) is `fd % len`.
    fn shard_index(&self, fd: i32) -> usize {
        let n = self.shards.len();
        if n == 1 {
            return 0;
        }
        match conn_key(fd) {
            Some(k) => (k % n as u64) as usize,
            None => fd as usize % n,
        }
    }
}

/// Registers `fd`, edge-triggered in both directions, with the epoll instance `epfd`.
fn register(epfd: i32, fd: i32, pd: &PollDesc) -> io::Result<()> {
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
        u64: pd as *const PollDesc as u64,
    };
    // SAFETY: registering the caller's fd; `pd` lives forever.
    if unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
        let e = io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EPERM) {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "fd {fd} cannot be polled (epoll: {e}); regular files and directories are \
                     always ready: use them through gort::fs or gort::blocking"
                ),
            ));
        }
        return Err(e);
    }
    Ok(())
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
    /// The index of the shard the fd is registered with.
    shard: AtomicUsize,
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
    /// The poller saw a hang-up of the read side (`EPOLLHUP` or `EPOLLRDHUP`); it stays set.
    rhup: AtomicBool,
}

struct PdPtr(&'static PollDesc);
static FREE: Mutex<Vec<PdPtr>> = Mutex::new(Vec::new());

impl PollDesc {
    fn new() -> PollDesc {
        PollDesc {
            rtimer: Timer::new(),
            wtimer: Timer::new(),
            fd: AtomicI32::new(-1),
            shard: AtomicUsize::new(0),
            rg: AtomicUsize::new(0),
            wg: AtomicUsize::new(0),
            closing: AtomicBool::new(false),
            rexpired: AtomicBool::new(false),
            wexpired: AtomicBool::new(false),
            rfired: AtomicBool::new(false),
            wfired: AtomicBool::new(false),
            rkicked: AtomicBool::new(false),
            wkicked: AtomicBool::new(false),
            rhup: AtomicBool::new(false),
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
        pd.rhup.store(false, Relaxed);
        if let Err(e) = p.add(pd) {
            FREE.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(PdPtr(pd));
            return Err(e);
        }
        Ok(pd)
    }

    /// Whether the poller has seen the read side hang up (the peer closed, or the socket was
    /// shut down for reading): set before the read waiter it wakes is readied. A hint only: an
    /// event harvested for the fd a recycled descriptor served before can set it.
    pub(crate) fn read_hung_up(&self) -> bool {
        self.rhup.load(Acquire)
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
            let epfd = p.shards[self.shard.load(Relaxed)].epfd;
            // SAFETY: unregistering the caller's still-open fd.
            unsafe { libc::epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
        }
        // A waiter may still be on its way out of `wait`; it only touches the descriptor's
        // atomics, which stay valid, and a reused descriptor tolerates spurious states.
        FREE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(PdPtr(self));
    }

    /// Moves a socket that has just connected (registered before it had a peer) to its
    /// connection's shard. The caller is its only user, so no goroutine waits on it.
    pub(crate) fn rehome(&self) {
        if let Some(p) = POLLER.get() {
            p.rehome(self);
        }
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
    let g = pd.unblock(true, false);
    // Before the wake-up (as the select's deadline, `wait::select::fire`): a woken plain
    // thread waits for this flag, and may be running on this CPU ahead of us.
    pd.rfired.store(true, Release);
    if let Some(g) = g {
        // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
        unsafe { ready(g) };
    }
}

unsafe fn wdeadline(t: *const Timer, _: u64) {
    let off = std::mem::offset_of!(PollDesc, wtimer);
    // SAFETY: `t` is the `wtimer` field of a PollDesc, which is never freed.
    let pd = unsafe { &*((t as usize - off) as *const PollDesc) };
    pd.wexpired.store(true, SeqCst);
    let g = pd.unblock(false, false);
    // Before the wake-up, as in `rdeadline`.
    pd.wfired.store(true, Release);
    if let Some(g) = g {
        // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
        unsafe { ready(g) };
    }
}

/// Polls every shard for I/O readiness, blocking up to `timeout_ns` (0: don't block; negative:
/// until an event or `wake`), and readies the goroutines whose I/O is ready. Returns how many.
/// A blocking poll (made by an M without a P) wakes no M for them: its caller takes a P for
/// them or wakes one.
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
    if timeout_ms == 0 {
        return p.shards.iter().map(|s| harvest(p, s, 0, false)).sum();
    }
    BLOCKED.store(true, SeqCst);
    if let [only] = &p.shards[..] {
        return harvest(p, only, timeout_ms, true);
    }
    let mut fds = [libc::pollfd {
        fd: -1,
        events: libc::POLLIN,
        revents: 0,
    }; MAX_SHARDS];
    let fds = &mut fds[..p.shards.len()];
    for (f, s) in fds.iter_mut().zip(&p.shards[..]) {
        f.fd = s.epfd;
    }
    // An epoll descriptor is readable while it has events.
    // SAFETY: `fds` is a writable array of the length we pass.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout_ms) };
    BLOCKED.store(false, SeqCst);
    fds.iter()
        .zip(&p.shards[..])
        .filter(|(f, _)| f.revents != 0)
        .map(|(_, s)| harvest(p, s, 0, true))
        .sum()
}

/// Polls, without blocking, the shards that P `id` owns, and the others nobody has polled for
/// `STALE_NS` (before stealing, `after_steal` false), or for `FRESH_NS` (after finding nothing
/// to steal). Returns how many goroutines it readied.
pub(crate) fn poll_shards(id: usize, after_steal: bool) -> usize {
    let Some(p) = POLLER.get() else {
        return 0;
    };
    let procs = super::global::SCHED.procs.load(Relaxed).max(1);
    let mut woken = 0;
    let mut now = 0;
    if !after_steal {
        for s in p.shards.iter().skip(id).step_by(procs) {
            woken += harvest(p, s, 0, false);
            now = s.last.load(Relaxed);
        }
    }
    let age = if after_steal { FRESH_NS } else { STALE_NS };
    for (j, s) in p.shards.iter().enumerate() {
        if j % procs == id {
            continue;
        }
        if now == 0 {
            now = nanotime();
        }
        if now - s.last.load(Relaxed) >= age {
            woken += harvest(p, s, 0, false);
        }
    }
    woken
}

/// One `epoll_wait` on `shard`; readies the goroutines whose I/O is ready. Only the M that
/// sleeps in the poller (`blocking`) drains the break eventfd, as Go's netpoll does only when
/// it blocks: a non-blocking poll that drained it could swallow a `wake` meant for that M.
fn harvest(p: &Poller, shard: &Shard, timeout_ms: i32, blocking: bool) -> usize {
    let mut events = [libc::epoll_event { events: 0, u64: 0 }; 128];
    // SAFETY: `events` is a writable array of the length we pass.
    let n = unsafe {
        libc::epoll_wait(
            shard.epfd,
            events.as_mut_ptr(),
            events.len() as i32,
            timeout_ms,
        )
    };
    if timeout_ms != 0 {
        BLOCKED.store(false, SeqCst);
    }
    shard.last.store(nanotime(), Relaxed);
    let mut woken = 0;
    for ev in events.iter().take(n.max(0) as usize) {
        let (bits, token) = (ev.events, ev.u64);
        if token == BREAK_TOKEN {
            if !blocking {
                continue;
            }
            let mut buf = 0u64;
            // SAFETY: draining our own non-blocking eventfd into an 8-byte buffer.
            unsafe { libc::read(p.breakfd, (&mut buf as *mut u64).cast(), 8) };
            p.wake_pending.store(false, SeqCst);
            continue;
        }
        // SAFETY: tokens other than BREAK_TOKEN are descriptors, which are never freed.
        let pd = unsafe { &*(token as *const PollDesc) };
        let err = bits & (libc::EPOLLERR | libc::EPOLLHUP) as u32 != 0;
        if bits & (libc::EPOLLHUP | libc::EPOLLRDHUP) as u32 != 0 {
            // Before the waiter is readied, which then sees it.
            pd.rhup.store(true, Release);
        }
        let r = err || bits & (libc::EPOLLIN | libc::EPOLLRDHUP) as u32 != 0;
        let w = err || bits & libc::EPOLLOUT as u32 != 0;
        for (on, read) in [(r, true), (w, false)] {
            if on && let Some(g) = pd.unblock(read, true) {
                // SAFETY: `unblock` took the parked waiter out of its slot: we are its waker.
                unsafe {
                    if blocking {
                        ready_quietly(g);
                    } else {
                        ready(g);
                    }
                }
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
    if let Some(p) = POLLER.get() {
        p.wake();
    }
}

/// Whether someone will see I/O readiness without sysmon: no goroutine waits for I/O, or an M
/// blocks in the poller.
pub(crate) fn watched() -> bool {
    !has_waiters() || BLOCKED.load(SeqCst)
}

/// sysmon: poll each shard nobody has polled for 10 ms.
pub(crate) fn sysmon_poll(now: i64) {
    let Some(p) = POLLER.get() else {
        return;
    };
    if has_waiters() {
        for s in &p.shards[..] {
            if now - s.last.load(Relaxed) > 10_000_000 {
                harvest(p, s, 0, false);
            }
        }
    }
}

#[cfg(test)]
mod tests;
