//! W16_stack_floor: the kernel's share of W2_idle's spawn time, with no goroutines. Carves N
//! stack slots of the default layout the way the runtime's stack pool does in a burst (64 KiB
//! guard + 256 KiB stack + the G's page, in 16 GiB `MAP_NORESERVE` slabs, 32 slots a batch: one
//! `process_madvise` installs the batch's guard markers, one commits its top pages);
//! per_op_ns = wall / N, to set beside W2_idle's per_op_ns at the same N (the rest is the
//! runtime's own work). The note gives the memory committed per slot: resident bytes and page
//! tables (VmRSS and VmPTE), and how the time splits between installing the guards and
//! committing the top pages. gort only.
//!
//! Why it is a floor: every goroutine needs its own virtually contiguous stack (stacks never
//! move), so one page at least, and slots 324 KiB apart give every six or so a page-table page
//! of their own; Go's 2 KiB stacks share pages and page tables.

use std::io;
use std::ptr::null_mut;
use std::time::{Duration, Instant};

use super::Workload;
use crate::report::{Outcome, proc_status_bytes};

pub const WORKLOAD: Workload = Workload {
    name: "W16_stack_floor",
    summary: "the kernel work alone of N default stack slots (guard + top page), no goroutines",
    default_n: 1_000_000,
    sweep: &[],
    run,
};

const PAGE: usize = 4096;
const GUARD: usize = 64 << 10;
/// The default slot: guard, 256 KiB of stack, and the page the G shares with the stack's top.
const SLOT: usize = GUARD + (256 << 10) + PAGE;
const SLAB: usize = 16 << 30;
const BATCH: usize = 32;
const MADV_GUARD_INSTALL: i32 = 102;
/// `PIDFD_SELF_THREAD`: `process_madvise` on our own memory.
const PIDFD_SELF: i32 = -10000;

fn run(n: u64) -> Outcome {
    let count = n as usize;
    let sizes = || proc_status_bytes("VmRSS").zip(proc_status_bytes("VmPTE"));
    let before = sizes();
    let start = Instant::now();
    let carved = carve_slots(count);
    let wall = start.elapsed();
    let (ok, note) = match (carved, before, sizes()) {
        (Ok(split), Some((rss0, pte0)), Some((rss1, pte1))) => (
            true,
            format!(
                "no goroutines: {count} slots of {SLOT} bytes, guards and top pages in batches \
                 of {BATCH}; committed per slot: {:.0} B resident + {:.0} B of page tables; \
                 per slot: {:.0} ns installing guards, {:.0} ns committing the top page",
                (rss1 - rss0) as f64 / n as f64,
                (pte1 - pte0) as f64 / n as f64,
                split.guards.as_nanos() as f64 / n as f64,
                split.commit.as_nanos() as f64 / n as f64,
            ),
        ),
        (Ok(_), ..) => (false, "could not read /proc/self/status".to_string()),
        (Err(e), ..) => (false, format!("failed: {e}")),
    };
    Outcome {
        ops: n,
        wall,
        per_op_ns: None,
        ok,
        note,
        bytes_per_g: None,
        value: None,
    }
}

/// Where `carve_slots` spent its time (mapping the slabs is in neither).
#[derive(Default)]
struct Split {
    guards: Duration,
    commit: Duration,
}

/// Carves `n` slots as the runtime's pool does in a burst, leaving their memory mapped until
/// the process exits (as the pool never unmaps a slot).
fn carve_slots(n: usize) -> io::Result<Split> {
    let mut split = Split::default();
    let per_slab = SLAB / SLOT;
    let (mut slab, mut used) = (0usize, per_slab);
    let mut done = 0;
    while done < n {
        if used == per_slab {
            slab = map(per_slab * SLOT)?;
            used = 0;
        }
        let k = BATCH.min(n - done).min(per_slab - used);
        let base = slab + used * SLOT;
        let guards: Vec<_> = (0..k).map(|i| iov(base + i * SLOT, GUARD)).collect();
        let tops: Vec<_> = (1..=k).map(|i| iov(base + i * SLOT - PAGE, PAGE)).collect();
        let t0 = Instant::now();
        advise(&guards, MADV_GUARD_INSTALL)?;
        let t1 = Instant::now();
        advise(&tops, libc::MADV_POPULATE_WRITE)?;
        split.guards += t1 - t0;
        split.commit += t1.elapsed();
        used += k;
        done += k;
    }
    Ok(split)
}

/// A fresh private anonymous `MAP_NORESERVE` mapping without transparent huge pages (as the
/// runtime's slabs).
fn map(len: usize) -> io::Result<usize> {
    // SAFETY: a new anonymous mapping at an address of the kernel's choosing.
    let p = unsafe {
        libc::mmap(
            null_mut(),
            len,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: advice on the mapping just made.
    unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
    Ok(p as usize)
}

fn iov(addr: usize, len: usize) -> libc::iovec {
    libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: len,
    }
}

/// One `process_madvise` for every range (Linux 6.13+).
fn advise(ranges: &[libc::iovec], advice: i32) -> io::Result<()> {
    // SAFETY: the ranges lie in our own mappings; guard markers and populating change no data.
    let r = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            ranges.as_ptr(),
            ranges.len(),
            advice,
            0,
        )
    };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
