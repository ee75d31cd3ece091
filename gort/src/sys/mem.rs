//! mmap/madvise/mprotect wrappers for goroutine stacks.

use std::io;

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

/// Reads an integer from a /proc or /sys file (e.g. `/proc/sys/vm/max_map_count`).
pub(crate) fn read_proc_usize(path: &str) -> Option<usize> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// The number of mappings the process has now (lines of /proc/self/maps).
pub(crate) fn count_mappings() -> Option<usize> {
    let s = std::fs::read_to_string("/proc/self/maps").ok()?;
    Some(s.lines().count())
}
