//! `fatal!`: an internal invariant is broken (Go's `throw`). Prints `fatal error: ...` with
//! write(2) and aborts. User mistakes never come here: they panic or return errors.
//!
//! Also holds the async-signal-safe output helpers the signal handlers use: no allocation, no
//! locks, no formatting machinery.

/// Writes `bytes` to fd 2, retrying on partial writes. Async-signal-safe.
pub(crate) fn write_stderr(bytes: &[u8]) {
    let mut rest = bytes;
    while !rest.is_empty() {
        // SAFETY: `rest` is a valid readable slice for its whole length.
        let n = unsafe { libc::write(2, rest.as_ptr().cast(), rest.len()) };
        if n <= 0 {
            return;
        }
        rest = &rest[n as usize..];
    }
}

/// Formats `v` in decimal into `buf` and returns the digits. Async-signal-safe.
pub(crate) fn fmt_u64(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            return &buf[i..];
        }
    }
}

/// Prints `fatal error: <msg>` and aborts the process. Never unwinds.
#[cold]
pub(crate) fn fatal_str(msg: &str) -> ! {
    write_stderr(b"fatal error: ");
    write_stderr(msg.as_bytes());
    write_stderr(b"\n");
    std::process::abort()
}

/// Go's `throw`: an internal invariant is broken; print and abort.
macro_rules! fatal {
    ($($arg:tt)*) => {
        $crate::util::fatal::fatal_str(&format!($($arg)*))
    };
}
pub(crate) use fatal;
