//! gort::process: std::process's shapes with waits that park the goroutine (pidfd on the
//! poller) and pipes on the poller. Output capture (large stdout and stderr at once), exit
//! codes, piped stdin, a child killed by a signal, a waiting goroutine shown as "IO wait", and
//! 1,000 concurrent short children at procs 1 without a thread each.

use std::io::{Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Instant;

use gort::process::Command;
use gort_test_support::{wait_for_state, with_procs};

#[test]
fn output_status_and_pipes() {
    at_procs_1_and_2(|| {
        let out = Command::new("sh")
            .args(["-c", "echo out; echo err >&2; exit 3"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");

        assert!(Command::new("true").status().unwrap().success());
        assert_eq!(Command::new("false").status().unwrap().code(), Some(1));
        let e = Command::new("/nonexistent/gort-binary")
            .status()
            .unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);

        // A megabyte on each of stdout and stderr: both are drained at once, no deadlock.
        let out = Command::new("sh")
            .args([
                "-c",
                "head -c 1048576 /dev/zero; head -c 1048576 /dev/zero >&2",
            ])
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!((out.stdout.len(), out.stderr.len()), (1 << 20, 1 << 20));

        // stdin piped through cat.
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = gort::spawn(move || {
            for _ in 0..1000 {
                stdin.write_all(&[b'x'; 1000]).unwrap();
            }
        });
        let mut got = Vec::new();
        child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
        writer.join().unwrap();
        assert_eq!(got.len(), 1_000_000);
        assert!(child.wait().unwrap().success());
    });
}

#[test]
fn a_child_killed_by_a_signal() {
    at_procs_1_and_2(|| {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        assert!(child.try_wait().unwrap().is_none());
        let waiter = gort::spawn(move || child.wait().unwrap());
        wait_for_state("IO wait", 1);
        // SAFETY: kill(2) on our own child's pid.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGTERM) }, 0);
        let status = waiter.join().unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM));
        assert!(!status.success());

        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    });
}

/// 1,000 children at once, each started and waited by its own goroutine, at procs 1: all
/// succeed, and waiting costs no thread per child.
#[test]
fn a_thousand_children_at_procs1() {
    with_procs(1, 120, || {
        let t = Instant::now();
        let hs: Vec<_> = (0..1000)
            .map(|_| gort::spawn(|| Command::new("true").status().unwrap()))
            .collect();
        for h in hs {
            assert!(h.join().unwrap().success());
        }
        let threads = gort::runtime::stats().threads;
        assert!(threads < 100, "{threads} threads for 1,000 children");
        eprintln!("1,000 children in {:?}, {threads} threads", t.elapsed());
    });
}

/// One child's output piped into another's input, as with std (`Stdio: From<ChildStdout>`):
/// the pipe goes back to blocking mode for the second child, which would otherwise read
/// `EAGAIN` while the first has not written yet.
#[test]
fn a_childs_output_is_another_childs_input() {
    at_procs_1_and_2(|| {
        let mut producer = Command::new("sh")
            .args(["-c", "sleep 0.2; seq 5"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out = Command::new("wc")
            .arg("-l")
            .stdin(producer.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(producer.wait().unwrap().success());
        assert!(out.status.success(), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "5", "{out:?}");
    });
}

/// Streams set on the std command (made from one, or through `as_std_mut`) are kept by
/// `output`, as std's `output` keeps them, and the next `status` still uses them.
#[test]
fn output_keeps_streams_set_on_the_std_command() {
    at_procs_1_and_2(|| {
        let mut std_cmd = std::process::Command::new("sh");
        std_cmd
            .args(["-c", "echo out; echo err >&2"])
            .stderr(Stdio::null());
        let mut cmd = Command::from(std_cmd);
        let out = cmd.output().unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..]),
            (&b"out\n"[..], &b""[..])
        );
        let out = cmd.output().unwrap();
        assert_eq!(out.stderr, b"", "the second output");

        let mut cmd = Command::new("echo");
        cmd.arg("hidden");
        cmd.as_std_mut().stdout(Stdio::null());
        let out = cmd.output().unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, b"");
    });
}

/// `as_std_mut` after an `output` (to set a `CommandExt` option): the next `output` still
/// captures both streams and gives the child a null stdin, as std's does every time.
#[test]
fn output_after_as_std_mut_still_captures() {
    use std::os::unix::process::CommandExt;
    at_procs_1_and_2(|| {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; cat"]);
        for round in 0..3 {
            let out = cmd.output().unwrap();
            assert_eq!(
                (&out.stdout[..], &out.stderr[..]),
                (&b"out\n"[..], &b"err\n"[..]),
                "output {round}"
            );
            cmd.as_std_mut().process_group(0);
        }
    });
}

/// What users of std's `Command` reach for too: its getters, a `gort::fs::File` as a child's
/// stream, and writing to a child's stdin through a shared reference.
#[test]
fn std_shapes_getters_file_streams_and_shared_stdin() {
    at_procs_1_and_2(|| {
        let dir = std::env::temp_dir().join(format!("gort-proc-{}", std::process::id()));
        gort::fs::create_dir_all(&dir).unwrap();
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "cat; echo done"])
            .env("GORT_PROBE", "1")
            .current_dir(&dir);
        assert_eq!(cmd.get_program(), "sh");
        assert_eq!(cmd.get_args().collect::<Vec<_>>(), ["-c", "cat; echo done"]);
        let envs: Vec<_> = cmd.get_envs().collect();
        assert_eq!(
            envs,
            [(
                std::ffi::OsStr::new("GORT_PROBE"),
                Some(std::ffi::OsStr::new("1"))
            )]
        );
        assert_eq!(cmd.get_current_dir(), Some(dir.as_path()));

        let path = dir.join(format!("out-{}", gort::current_id().unwrap()));
        let file = gort::fs::File::create(&path).unwrap();
        let mut child = cmd.stdin(Stdio::piped()).stdout(file).spawn().unwrap();
        let stdin = child.stdin.take().unwrap();
        use std::io::Write;
        (&stdin).write_all(b"through a shared reference\n").unwrap();
        drop(stdin);
        assert!(child.wait().unwrap().success());
        assert_eq!(
            gort::fs::read_to_string(&path).unwrap(),
            "through a shared reference\ndone\n"
        );
        gort::fs::remove_file(&path).unwrap();
    });
}

/// Runs `body` as a goroutine at procs 1, then at procs 2.
fn at_procs_1_and_2(body: fn()) {
    for procs in [1, 2] {
        with_procs(procs, 60, body);
    }
}
