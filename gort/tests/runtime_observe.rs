//! runtime::stats and runtime::dump from inside a program.

use std::time::Duration;

use gort_test_support::bounded;

/// The runtime's dump once it contains `want` (polled, bounded: the goroutine may not have
/// parked yet on a loaded machine).
fn dump_once_it_shows(want: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut out = Vec::new();
        gort::runtime::dump(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        if text.contains(want) || std::time::Instant::now() > deadline {
            return text;
        }
        gort::sleep(Duration::from_millis(5));
    }
}

#[test]
fn dump_lists_parked_goroutines_with_reason_location_and_stack() {
    bounded(30, || {
        gort::run(|| {
            let (tx, rx) = gort::chan::<u8>(0);
            let h = gort::spawn(move || rx.recv());
            let id = h.id();
            let header = format!("goroutine {id} [chan receive, ");
            let text = dump_once_it_shows(&header);
            let at = text.find(&header).unwrap_or_else(|| panic!("{text}"));
            let section = &text[at..];
            assert!(section.contains("spawned at "), "{section}");
            assert!(section.contains("runtime_observe.rs"), "{section}");
            assert!(section.contains("Receiver"), "{section}");
            // The dumping goroutine itself is running.
            let me = gort::current_id().unwrap();
            assert!(
                text.contains(&format!("goroutine {me} [running]")),
                "{text}"
            );
            // A named goroutine shows its name.
            let (ntx, nrx) = gort::chan::<u8>(0);
            let named = gort::Builder::new()
                .name("the-worker".into())
                .spawn(move || nrx.recv())
                .unwrap();
            let want = format!("goroutine {} \"the-worker\" [chan receive", named.id());
            let text2 = dump_once_it_shows(&want);
            assert!(text2.contains(&want), "{text2}");
            ntx.send(1).unwrap();
            assert_eq!(named.join().unwrap(), Some(1));
            // The parked goroutine still works after being borrowed for the dump.
            tx.send(9).unwrap();
            assert_eq!(h.join().unwrap(), Some(9));
        });
    });
}

#[test]
fn stats_report_the_runtime() {
    bounded(30, || {
        let s = gort::runtime::stats();
        assert!(s.procs >= 1);
        assert!(s.stack_mechanism == "guard-markers" || s.stack_mechanism == "mprotect");
        let before = s.spawned_total;
        gort::spawn(|| ()).join().unwrap();
        assert!(gort::runtime::stats().spawned_total > before);
        assert!(format!("{s:?}").contains("idle_procs"));
    });
}

/// Goroutines parked at the same place are listed once, under a count, with the runtime's own
/// frames trimmed from their stack.
#[test]
fn dump_groups_identical_goroutines_and_trims_runtime_frames() {
    bounded(30, || {
        gort::run(|| {
            let (tx, rx) = gort::chan::<u8>(0);
            let hs: Vec<_> = (0..50)
                .map(|_| {
                    let rx = rx.clone();
                    gort::spawn(move || rx.recv())
                })
                .collect();
            let text = dump_once_it_shows("50 goroutines [chan receive");
            let at = text
                .find("50 goroutines [chan receive")
                .unwrap_or_else(|| panic!("{text}"));
            let section = &text[at..];
            let section = &section[..section.find("\n\n").unwrap_or(section.len())];
            // Ten listed by id, the other forty as ranges; one stack for all.
            assert_eq!(section.matches("  goroutine ").count(), 10, "{section}");
            assert!(section.contains("... and 40 more: "), "{section}");
            assert_eq!(section.matches("spawned at ").count(), 1, "{section}");
            assert!(section.contains("Receiver"), "{section}");
            assert!(section.contains("runtime_observe.rs"), "{section}");
            assert!(
                !text.contains("gort::rt::"),
                "runtime frames left in\n{text}"
            );
            assert!(
                !text.contains("catch_unwind"),
                "entry frames left in\n{text}"
            );
            drop(tx);
            for h in hs {
                assert_eq!(h.join().unwrap(), None);
            }
        });
    });
}

/// The goroutine `time::after_func` starts is spawned where `after_func` was called, not inside
/// the runtime.
#[test]
fn an_after_func_goroutine_is_spawned_where_after_func_was_called() {
    bounded(30, || {
        gort::run(|| {
            let (tx, rx) = gort::chan::<String>(1);
            let _t = gort::time::after_func(Duration::from_millis(1), move || {
                let me = gort::current_id().unwrap();
                let mut out = Vec::new();
                gort::runtime::dump(&mut out).unwrap();
                let text = String::from_utf8(out).unwrap();
                let header = format!("goroutine {me} [running]");
                let at = text.find(&header).unwrap_or_else(|| panic!("{text}"));
                let section = text[at..].lines().take(2).collect::<Vec<_>>().join("\n");
                tx.send(section).unwrap();
            });
            let section = rx.recv().unwrap();
            assert!(section.contains("spawned at "), "{section}");
            assert!(section.contains("runtime_observe.rs"), "{section}");
        });
    });
}
