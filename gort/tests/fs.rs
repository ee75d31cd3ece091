//! gort::fs: std::fs's functions and `File` as hand-off calls. Round trips of every function at
//! procs 1 and 2 from many goroutines; `File` reads, writes, seeks, syncs and metadata; and a
//! call that blocks for as long as it likes (opening a FIFO with no writer yet) shows as
//! "syscall" while the processor runs the goroutine that unblocks it (so does a close that
//! blocks). A regular file given to `Pollable` is a clear error.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use gort::fs;
use gort_test_support::{wait_for_state, with_procs};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gort-fs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn round_trips(procs: usize) {
    let dir = scratch(&format!("rt{procs}"));
    let d = dir.clone();
    with_procs(procs, 60, move || {
        let hs: Vec<_> = (0..50)
            .map(|i| {
                let d = d.join(format!("g{i}"));
                gort::spawn(move || {
                    fs::create_dir_all(d.join("sub")).unwrap();
                    let p = d.join("sub/a.txt");
                    fs::write(&p, format!("file {i}")).unwrap();
                    assert_eq!(fs::read_to_string(&p).unwrap(), format!("file {i}"));
                    assert_eq!(fs::read(&p).unwrap(), format!("file {i}").into_bytes());
                    assert_eq!(
                        fs::metadata(&p).unwrap().len(),
                        format!("file {i}").len() as u64
                    );
                    let q = d.join("sub/b.txt");
                    assert_eq!(fs::copy(&p, &q).unwrap(), format!("file {i}").len() as u64);
                    fs::rename(&q, d.join("c.txt")).unwrap();
                    let mut names: Vec<_> = fs::read_dir(&d)
                        .unwrap()
                        .map(|e| e.unwrap().file_name().into_string().unwrap())
                        .collect();
                    names.sort();
                    assert_eq!(names, ["c.txt", "sub"]);
                    fs::remove_file(&p).unwrap();
                    assert_eq!(
                        fs::metadata(&p).unwrap_err().kind(),
                        std::io::ErrorKind::NotFound
                    );
                    fs::remove_dir_all(&d).unwrap();
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
    });
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn round_trips_procs1() {
    round_trips(1);
}

#[test]
fn round_trips_procs2() {
    round_trips(2);
}

#[test]
fn files_read_write_seek_and_sync() {
    let dir = scratch("file");
    let p = dir.join("f.bin");
    let p2 = p.clone();
    with_procs(2, 60, move || {
        let mut f = fs::File::create(&p2).unwrap();
        f.write_all(b"hello, world").unwrap();
        f.sync_all().unwrap();
        f.set_len(5).unwrap();
        assert_eq!(f.metadata().unwrap().len(), 5);
        drop(f);
        let mut f = fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(&p2)
            .unwrap();
        f.write_all(b"!").unwrap();
        f.seek(SeekFrom::Start(1)).unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "ello!");
        assert!(fs::File::create_new(&p2).is_err());
        let e = fs::File::open(p2.with_extension("missing")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    });
    std::fs::remove_dir_all(dir).unwrap();
}

/// At procs 1, a goroutine opens a FIFO for reading, which blocks until a writer opens it: the
/// call shows as "syscall" (a hand-off call), and the one processor runs the writer meanwhile.
#[test]
fn a_blocked_call_does_not_hold_the_processor() {
    let dir = scratch("fifo");
    let fifo = dir.join("fifo");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let f2 = fifo.clone();
    with_procs(1, 60, move || {
        let reader = {
            let f = f2.clone();
            gort::spawn(move || fs::read_to_string(&f).unwrap())
        };
        wait_for_state("syscall", 1);
        let writer = gort::spawn(move || fs::write(&f2, "through the fifo").unwrap());
        writer.join().unwrap();
        assert_eq!(reader.join().unwrap(), "through the fifo");
    });
    std::fs::remove_dir_all(dir).unwrap();
}

/// Closing is a hand-off call too: a `File` holding a TCP socket with `SO_LINGER` and unsent
/// data (its peer reads nothing) blocks in close(2) for the linger time, and meanwhile shows as
/// "syscall" while the one processor runs another goroutine.
#[test]
fn a_blocked_close_does_not_hold_the_processor() {
    use std::os::fd::{AsRawFd, OwnedFd};
    use std::time::{Duration, Instant};
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = std::net::TcpStream::connect(ln.local_addr().unwrap()).unwrap();
    let (_server, _) = ln.accept().unwrap();
    client.set_nonblocking(true).unwrap();
    let chunk = [7u8; 65536];
    while client.write(&chunk).is_ok() {}
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 1,
    };
    // SAFETY: setsockopt on an open socket with a pointer to a linger of the right size.
    let r = unsafe {
        libc::setsockopt(
            client.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0);
    let file = fs::File::from(OwnedFd::from(client));
    with_procs(1, 60, move || {
        let start = Instant::now();
        let closer = gort::spawn(move || drop(file));
        wait_for_state("syscall", 1);
        gort::spawn(|| 42).join().unwrap();
        let other_ran = start.elapsed();
        closer.join().unwrap();
        assert!(
            other_ran < Duration::from_millis(900),
            "another goroutine ran only after {other_ran:?}"
        );
    });
}

/// Links and existence, as std::fs's `exists`, `read_link`, `hard_link` and unix `symlink`.
#[test]
fn links_and_existence() {
    let dir = scratch("links");
    let d = dir.clone();
    with_procs(2, 60, move || {
        let target = d.join("target");
        assert!(!fs::exists(&target).unwrap());
        fs::write(&target, "linked").unwrap();
        assert!(fs::exists(&target).unwrap());
        fs::symlink(&target, d.join("soft")).unwrap();
        assert_eq!(fs::read_link(d.join("soft")).unwrap(), target);
        assert_eq!(fs::read_to_string(d.join("soft")).unwrap(), "linked");
        fs::hard_link(&target, d.join("hard")).unwrap();
        assert_eq!(fs::read_to_string(d.join("hard")).unwrap(), "linked");
        let e = fs::read_link(&target).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
        let e = fs::hard_link(d.join("missing"), d.join("h2")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
    });
    std::fs::remove_dir_all(dir).unwrap();
}

/// `OpenOptions::custom_flags` and `DirBuilder`, with std's inherent and extension-trait
/// shapes: O_NOFOLLOW refuses a symbolic link; a recursive builder creates the parents and
/// accepts an existing directory, a plain one does not; the mode is applied.
#[test]
fn open_flags_and_dir_builder() {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    let dir = scratch("flags");
    let d = dir.clone();
    with_procs(2, 60, move || {
        let target = d.join("target");
        fs::write(&target, "t").unwrap();
        fs::symlink(&target, d.join("link")).unwrap();
        let e = fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(d.join("link"))
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::ELOOP), "{e}");
        // Through std's trait, as code written for std::fs::OpenOptions calls it.
        let mut opts = fs::OpenOptions::new();
        OpenOptionsExt::custom_flags(opts.read(true), libc::O_NOFOLLOW);
        assert!(opts.open(&target).is_ok());

        let deep = d.join("a/b/c");
        let e = fs::DirBuilder::new().create(&deep).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound, "{e}");
        let mut b = fs::DirBuilder::new();
        DirBuilderExt::mode(b.recursive(true), 0o700);
        b.create(&deep).unwrap();
        b.create(&deep).unwrap();
        let mode = fs::metadata(&deep).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let e = fs::DirBuilder::new().create(&deep).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists, "{e}");
    });
    std::fs::remove_dir_all(dir).unwrap();
}

/// A regular file cannot go on the poller: `Pollable::new` says so and what to use instead,
/// rather than a bare "Operation not permitted".
#[test]
fn a_regular_file_is_not_pollable_and_the_error_says_why() {
    let dir = scratch("pollable");
    let path = dir.join("f");
    std::fs::write(&path, b"x").unwrap();
    let Err(e) = gort::io::Pollable::new(std::fs::File::open(&path).unwrap()) else {
        panic!("a regular file is not pollable");
    };
    assert_eq!(e.kind(), std::io::ErrorKind::PermissionDenied, "{e}");
    assert!(e.to_string().contains("cannot be polled"), "{e}");
    assert!(e.to_string().contains("gort::fs"), "{e}");
}
