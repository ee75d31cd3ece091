//! Goroutine stacks: reservation, guard regions, pooling, scavenging, overflow reports.
//!
//! Decision (ARCHITECTURE.md, decision "Stacks never move"): Rust has no stack maps, so stacks
//! cannot be copied and grown as Go's are. Each goroutine gets a fixed virtual reservation (its
//! limit, default 256 KiB) that the kernel commits page by page as it is touched, with a 64 KiB
//! inaccessible guard region below it. Overflow faults in the guard and is reported (see
//! `overflow`).
//!
//! Slot layout, lowest address first:
//! ```text
//! base            base+GUARD                            gp = base+slot-G_AREA   base+slot
//! │ guard (64 KiB) │ stack, grows down from gp ◀──────── │ G descriptor          │
//! ```
//! The G lives in the slot's top page, next to the goroutine's first frames, so a parked
//! goroutine that used little stack costs one page of RAM (plus page tables).
//!
//! Two guard mechanisms, chosen once by probing (never by kernel version):
//! 1. **Guard markers** (`MADV_GUARD_INSTALL`, Linux 6.13+): slots are carved from large
//!    `MAP_NORESERVE` slabs and each slot's guard is a page-table marker, so a million stacks stay
//!    one mapping each slab.
//! 2. **mprotect**: one mapping per slot plus a PROT_NONE guard = two mappings (VMAs) per stack,
//!    under a budget derived from `vm.max_map_count`. Past it, spawning fails with an error that
//!    says what to do. `GORT_STACK_GUARD=mprotect` forces this mechanism (for tests).
//!
//! A stack is never handed out without its guard, and unmapped holes are never used as guards.
//!
//! Invariants: a slot is either in use by exactly one G, or in exactly one free list (a P's cache
//! or a class pool in `pool`). Slots are never unmapped.

pub(crate) mod overflow;
pub(crate) mod pool;

use std::io;
use std::sync::OnceLock;

use crate::rt::g::G;
use crate::sys::{mem, page_size};
use crate::util::round_up;

/// Guard region below each stack.
pub(crate) const GUARD: usize = 64 << 10;
/// Smallest usable stack; smaller requests are rounded up.
pub(crate) const MIN_STACK: usize = 32 << 10;
/// Default usable stack (ARCHITECTURE.md "Stacks": page tables cost ~0.5 KiB per 256 KiB slot).
pub(crate) const DEFAULT_STACK: usize = 256 << 10;
/// Largest stack a goroutine may ask for.
pub(crate) const MAX_STACK: usize = 1 << 30;
/// Space for the G at the top of each slot.
pub(crate) const G_AREA: usize = round_up(std::mem::size_of::<G>(), 64);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mechanism {
    GuardMarkers,
    Mprotect,
}

impl Mechanism {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Mechanism::GuardMarkers => "guard markers (MADV_GUARD_INSTALL) in shared slabs",
            Mechanism::Mprotect => "mprotect guard pages (2 mappings per stack)",
        }
    }
}

pub(crate) struct Config {
    pub(crate) mechanism: Mechanism,
    pub(crate) max_map_count: usize,
    /// For the mprotect mechanism: how many stacks may be mapped.
    pub(crate) budget: usize,
}

static CONFIG: OnceLock<Config> = OnceLock::new();

/// Probes the guard mechanism once.
pub(crate) fn config() -> &'static Config {
    CONFIG.get_or_init(|| {
        let max_map_count = mem::read_proc_usize("/proc/sys/vm/max_map_count").unwrap_or(65530);
        let forced = std::env::var("GORT_STACK_GUARD")
            .ok()
            .filter(|v| !v.trim().is_empty());
        let mechanism = match forced.as_deref() {
            Some("mprotect") => Mechanism::Mprotect,
            Some("markers") | None => {
                if probe_guard_markers() {
                    Mechanism::GuardMarkers
                } else {
                    Mechanism::Mprotect
                }
            }
            Some(other) => {
                crate::util::write_stderr(
                    format!(
                        "gort: warning: GORT_STACK_GUARD={other:?} is not \"markers\" or \"mprotect\"; probing\n"
                    )
                    .as_bytes(),
                );
                if probe_guard_markers() {
                    Mechanism::GuardMarkers
                } else {
                    Mechanism::Mprotect
                }
            }
        };
        // Leave room for malloc, thread stacks, shared libraries and the like.
        let in_use = mem::count_mappings().unwrap_or(1000);
        let budget = max_map_count.saturating_sub(in_use + 2048) / 2;
        Config {
            mechanism,
            max_map_count,
            budget,
        }
    })
}

fn probe_guard_markers() -> bool {
    let page = page_size();
    let Ok(p) = mem::reserve(2 * page) else {
        return false;
    };
    // SAFETY: `p` is a fresh two-page mapping that nothing else uses.
    let ok = unsafe { mem::guard_install(p, page) }.is_ok() && guard_faults(p);
    // SAFETY: as above; released right after the probe.
    unsafe { mem::release(p, 2 * page) };
    ok
}

/// Whether reading the page at `p` faults, as a guarded page must. Asked of the kernel (a pipe
/// write from it fails with EFAULT), so nothing faults here. An emulator may accept the guard
/// advice and ignore it (qemu-user does): then the probe fails and the mprotect mechanism,
/// which every emulator honours, is used.
fn guard_faults(p: *mut u8) -> bool {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return false;
    }
    // SAFETY: a write from a possibly inaccessible buffer: the kernel checks it and fails with
    // EFAULT rather than faulting; the descriptors are ours and closed right after.
    let (n, err) = unsafe {
        let n = libc::write(fds[1], p as *const libc::c_void, 1);
        let err = std::io::Error::last_os_error().raw_os_error();
        libc::close(fds[0]);
        libc::close(fds[1]);
        (n, err)
    };
    n < 0 && err == Some(libc::EFAULT)
}

/// Total bytes of a slot whose usable stack is at least `usable`.
pub(crate) fn slot_size(usable: usize) -> usize {
    GUARD + round_up(usable + G_AREA, page_size())
}

/// Rounds a requested stack size to what the runtime provides: whole pages, at least
/// `MIN_STACK`, at most `MAX_STACK`.
pub(crate) fn normalize(requested: usize) -> usize {
    round_up(requested.clamp(MIN_STACK, MAX_STACK), page_size())
}

/// The error for "no guarded stack can be had", naming the mechanism and what to do. The
/// mapping limit is advice only where it is the limit: under the mprotect mechanism, whose
/// stacks take two mappings each (guard markers take none, so there the cause is in `detail`).
pub(crate) fn exhausted(detail: &str) -> io::Error {
    let c = config();
    let advice = match c.mechanism {
        Mechanism::Mprotect => format!(
            "; vm.max_map_count = {}). Raise the limit with `sudo sysctl -w \
             vm.max_map_count=1048576`, or run on Linux 6.13+ where guard markers need no \
             mapping per stack",
            c.max_map_count
        ),
        Mechanism::GuardMarkers => ")".to_string(),
    };
    io::Error::new(
        io::ErrorKind::OutOfMemory,
        format!(
            "gort: cannot allocate a guarded goroutine stack: {detail} (stack mechanism: {}{advice}",
            c.mechanism.describe(),
        ),
    )
}
