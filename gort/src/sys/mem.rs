//! mmap/madvise/mprotect wrappers for goroutine stacks (the part of Go's mem_linux.go that
//! stacks need: reserve, discard, and here guards, which Go's moving stacks do without), and
//! `process_madvise` to give many ranges the same advice in one call.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

/// Reserves `len` bytes of private anonymous read-write memory that is committed lazily
/// (`MAP_NORESERVE`), with transparent huge pages off for the range.
pub(crate) fn reserve(len: usize) -> io::Result<*mut u8> {
    // SAFETY: an anonymous mapping at a kernel-chosen address touches no existing memory.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
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
    // SAFETY: [p, p+len) is the mapping just created. Failure only leaves THP on: harmless.
    unsafe { libc::madvise(p, len, libc::MADV_NOHUGEPAGE) };
    Ok(p.cast())
}

/// Unmaps a range returned by `reserve`.
///
/// # Safety
/// `[p, p+len)` must be a mapping owned by the caller that nothing references any more.
pub(crate) unsafe fn release(p: *mut u8, len: usize) {
    // SAFETY: the caller owns the range.
    unsafe { libc::munmap(p.cast(), len) };
}

/// `MADV_GUARD_INSTALL` (Linux 6.13): turns the range into guard markers (fault on access) without
/// splitting the mapping.
const MADV_GUARD_INSTALL: libc::c_int = 102;

/// Installs guard markers over `[p, p+len)`.
///
/// # Safety
/// The range must be owned by the caller and hold nothing that is still in use.
pub(crate) unsafe fn guard_install(p: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range; guard markers only make it fault on access.
    if unsafe { libc::madvise(p.cast(), len, MADV_GUARD_INSTALL) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// `PIDFD_SELF_THREAD`: the pidfd sentinel for the calling thread, whose memory is the
/// process's, so `process_madvise` needs no descriptor of ours (and cannot name a parent after a
/// fork). Recent kernels only; older ones fail the call with EBADF and the callers fall back to
/// one `madvise` per range. Its value is the same in every kernel that has it (the thread-group
/// sentinel's changed once).
const PIDFD_SELF: libc::c_int = -10000;
/// Most ranges one `process_madvise` call takes (`UIO_MAXIOV`).
const MAX_RANGES: usize = 1024;
/// Ranges one vectored discard takes: fewer than a call could, because the call holds the
/// address-space lock throughout, and a thread growing its heap or starting waits for it.
const DISCARD_RANGES: usize = 128;
/// Whether `process_madvise` on ourselves has worked (cleared for good at its first refusal).
static VECTORED: AtomicBool = AtomicBool::new(true);

/// Applies `advice` to every range with one `process_madvise` call (Linux 6.13 lets a process
/// give itself any advice this way). False if the kernel refused the call or did not advise
/// every byte; after a refusal of the call itself it is not tried again.
///
/// # Safety
/// The ranges must be owned by the caller, and `advice` must be harmless to their contents.
unsafe fn advise_many(ranges: &[(usize, usize)], advice: libc::c_int) -> bool {
    assert!(
        ranges.len() <= MAX_RANGES,
        "too many ranges for one process_madvise"
    );
    if ranges.is_empty() || !VECTORED.load(Relaxed) {
        return ranges.is_empty();
    }
    let iov: Vec<libc::iovec> = ranges
        .iter()
        .map(|&(p, len)| libc::iovec {
            iov_base: p as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    // SAFETY: `iov` holds `iov.len()` valid entries; the caller owns the ranges and vouches
    // for the advice.
    let done = unsafe {
        libc::syscall(
            libc::SYS_process_madvise,
            PIDFD_SELF,
            iov.as_ptr(),
            iov.len(),
            advice,
            0,
        )
    };
    if done < 0 {
        let refused = matches!(
            io::Error::last_os_error().raw_os_error(),
            Some(libc::EBADF | libc::EINVAL | libc::ENOSYS | libc::EPERM)
        );
        if refused {
            VECTORED.store(false, Relaxed);
        }
        return false;
    }
    done as usize == ranges.iter().map(|r| r.1).sum::<usize>()
}

/// Whether vectored calls are still tried (tests).
#[cfg(test)]
pub(crate) fn vectored() -> bool {
    VECTORED.load(Relaxed)
}

/// Turns the vectored calls off or back on (tests of the one-range-per-call fallback).
#[cfg(test)]
pub(crate) fn set_vectored(on: bool) -> bool {
    VECTORED.swap(on, Relaxed)
}

/// Whether the page at `p` is resident (`mincore`).
#[cfg(test)]
pub(crate) fn resident(p: usize) -> bool {
    let mut v = 0u8;
    // SAFETY: one page-aligned page; `v` has room for its one status byte.
    let r = unsafe { libc::mincore(p as *mut libc::c_void, 1, &mut v) };
    r == 0 && v & 1 == 1
}

/// Installs guard markers over every range, with one system call when the kernel allows.
///
/// # Safety
/// As `guard_install`, for every range.
pub(crate) unsafe fn guard_install_many(ranges: &[(usize, usize)]) -> io::Result<()> {
    // SAFETY: the caller's contract; guard markers only make the ranges fault on access.
    if unsafe { advise_many(ranges, MADV_GUARD_INSTALL) } {
        return Ok(());
    }
    // Installing a marker twice is harmless, so a partial vectored call is simply redone.
    for &(p, len) in ranges {
        // SAFETY: the caller's contract.
        unsafe { guard_install(p as *mut u8, len) }?;
    }
    Ok(())
}

/// Commits the RAM behind every range now (`MADV_POPULATE_WRITE`), with one system call,
/// instead of a page fault per page later. Best effort: whatever is not committed is faulted in
/// on first touch as usual.
///
/// # Safety
/// The ranges must be owned by the caller and be ordinary read-write memory (no guards).
pub(crate) unsafe fn populate_many(ranges: &[(usize, usize)]) {
    // SAFETY: the caller's contract; populating writable memory does not change its contents.
    unsafe { advise_many(ranges, libc::MADV_POPULATE_WRITE) };
}

/// Makes `[p, p+len)` inaccessible with `mprotect` (splits the mapping).
///
/// # Safety
/// The range must be owned by the caller and hold nothing that is still in use.
pub(crate) unsafe fn protect_none(p: *mut u8, len: usize) -> io::Result<()> {
    // SAFETY: the caller owns the range.
    if unsafe { libc::mprotect(p.cast(), len, libc::PROT_NONE) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Returns the RAM behind `[p, p+len)` to the kernel; the range stays mapped and reads as zeros.
///
/// # Safety
/// The range must be owned by the caller and hold nothing that is still in use.
pub(crate) unsafe fn discard(p: *mut u8, len: usize) {
    // SAFETY: the caller owns the range and no longer needs its contents.
    unsafe { libc::madvise(p.cast(), len, libc::MADV_DONTNEED) };
}

/// `discard` for many ranges, `DISCARD_RANGES` to a system call where the kernel takes vectored
/// advice (it then also batches the TLB flushes), else one call per range.
///
/// # Safety
/// As `discard`, for every range.
pub(crate) unsafe fn discard_many(ranges: &[(usize, usize)]) {
    for chunk in ranges.chunks(DISCARD_RANGES) {
        // SAFETY: the caller's contract; discarding twice is harmless, so a partial vectored
        // call is simply redone range by range.
        if unsafe { advise_many(chunk, libc::MADV_DONTNEED) } {
            continue;
        }
        for &(p, len) in chunk {
            // SAFETY: the caller's contract.
            unsafe { discard(p as *mut u8, len) };
        }
    }
}

/// Whether the process has an address-space limit (`RLIMIT_AS`, `ulimit -v`).
pub(crate) fn address_space_limited() -> bool {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the limit into `r`.
    unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut r) == 0 && r.rlim_cur != libc::RLIM_INFINITY }
}

/// Reads an integer from a /proc or /sys file (e.g. `/proc/sys/vm/max_map_count`).
pub(crate) fn read_proc_usize(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The number of mappings the process has now (lines of /proc/self/maps).
pub(crate) fn count_mappings() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(s.lines().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `discard_many` returns every range's pages (they read as zeros afterwards) and leaves the
    /// pages between the ranges alone, vectored or, where the kernel refuses, one call a range.
    #[test]
    fn discard_many_returns_every_range_and_nothing_else() {
        let page = crate::sys::page_size();
        for vectored in [true, false] {
            let n = 300; // more than one vectored call's worth
            let len = 2 * page * n;
            // SAFETY: a fresh private anonymous mapping, unmapped below.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            assert_ne!(base, libc::MAP_FAILED);
            let base = base as usize;
            // SAFETY: every page written is inside the mapping.
            (0..2 * n).for_each(|i| unsafe { *((base + i * page) as *mut u8) = 7 });
            let ranges: Vec<_> = (0..n).map(|i| (base + 2 * i * page, page)).collect();
            let before = set_vectored(vectored);
            // SAFETY: the ranges are ours and hold nothing in use.
            unsafe { discard_many(&ranges) };
            set_vectored(before);
            for i in 0..n {
                let (p, kept) = (base + 2 * i * page, base + (2 * i + 1) * page);
                assert!(
                    !resident(p),
                    "range {i} kept its page (vectored: {vectored})"
                );
                // SAFETY: inside the mapping.
                unsafe {
                    assert_eq!(*(p as *const u8), 0);
                    assert_eq!(*(kept as *const u8), 7, "the page after range {i} was lost");
                }
            }
            // SAFETY: the mapping made above.
            unsafe { libc::munmap(base as *mut libc::c_void, len) };
        }
    }
}
