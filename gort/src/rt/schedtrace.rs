//! `GORT_DEBUG`: the scheduler summary line (`schedtrace=N`) and the detailed scheduler state
//! (`scheddetail=1`), after Go's `schedtrace` in proc.go and its GODEBUG settings of the same
//! names.
//!
//! `schedtrace=N` prints one summary line every N ms from sysmon. `scheddetail=1` makes each of
//! those lines a block with one line per P, per M and per goroutine, as in Go. As in Go, a
//! fatal report (a deadlock, SIGQUIT) starts with the detailed block when either setting is
//! on; and every `runtime::dump` does too when `scheddetail` is on (a deviation: Go has no
//! dump call, and a program that watches itself for stalls needs the scheduler's side of the
//! story at the moment it saw one).
//!
//! Everything here is read racily, as Go's `schedtrace` reads it: the numbers of one line may
//! come from slightly different moments. Timer heaps are counted under their own locks, which
//! nothing here holds with another lock (the scheduler lock is taken once, for the idle M list,
//! and released before). Ahead of a fatal report no lock is waited for (a stuck thread may hold
//! one, and the report is how the user finds it): what sits behind a held lock prints as `?`.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};

use super::g::{BLOCKING, DUMPING, IDLE, RUNNABLE, RUNNING, WAITING, WaitReason};
use super::global::{self, SCHED};
use super::m::{M, m_ref};
use super::p::{P, P_BLOCKING, P_DEAD, P_IDLE, P_RETAKING, P_RUNNING, P_TAKING};
use crate::sys::nanotime;

/// `schedtrace=N`: milliseconds between summary lines, or -1.
static EVERY_MS: AtomicI64 = AtomicI64::new(-1);
/// When the last summary line was printed (0: none yet).
static LAST: AtomicI64 = AtomicI64::new(0);
/// `scheddetail=1`.
static DETAIL: AtomicBool = AtomicBool::new(false);

/// Reads GORT_DEBUG (comma-separated `name=value` settings); unknown or malformed settings are
/// reported on stderr and ignored.
pub(crate) fn read_env() {
    let Ok(v) = std::env::var("GORT_DEBUG") else {
        return;
    };
    for kv in v.split(',').filter(|kv| !kv.trim().is_empty()) {
        match kv.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
            Some(("schedtrace", n)) => match n.parse::<i64>() {
                Ok(ms) if ms > 0 => EVERY_MS.store(ms, Relaxed),
                _ => super::start::warn(&format!(
                    "GORT_DEBUG: schedtrace={n:?} is not a positive number of milliseconds"
                )),
            },
            Some(("scheddetail", n)) => match n {
                "0" => DETAIL.store(false, Relaxed),
                "1" => DETAIL.store(true, Relaxed),
                _ => super::start::warn(&format!("GORT_DEBUG: scheddetail={n:?} is not 0 or 1")),
            },
            _ => super::start::warn(&format!(
                "GORT_DEBUG: unknown setting {kv:?} (known: schedtrace=N, scheddetail=1)"
            )),
        }
    }
}

/// Whether summary lines are due at all (sysmon then never sleeps deeply).
pub(crate) fn on() -> bool {
    EVERY_MS.load(Relaxed) > 0
}

/// Called by sysmon every round: prints the summary line (or block) when one is due.
pub(crate) fn tick(now: i64) {
    let every = EVERY_MS.load(Relaxed);
    if every <= 0 {
        return;
    }
    let last = LAST.load(Relaxed);
    if last == 0 {
        LAST.store(now, Relaxed);
        return;
    }
    if now - last < every * 1_000_000 {
        return;
    }
    LAST.store(now, Relaxed);
    let mut out = Vec::new();
    let _ = write(&mut out, now, DETAIL.load(Relaxed), false);
    crate::util::write_stderr(&out);
}

/// Writes the detailed block ahead of a fatal report, if either setting asks for it (Go's
/// startpanic_m).
pub(crate) fn before_fatal(w: &mut dyn Write) {
    if on() || DETAIL.load(Relaxed) {
        let _ = write(w, nanotime(), true, true);
        let _ = writeln!(w);
    }
}

/// Writes the detailed block ahead of a dump, if `scheddetail` is on.
pub(crate) fn before_dump(w: &mut dyn Write) -> io::Result<()> {
    if DETAIL.load(Relaxed) {
        write(w, nanotime(), true, false)?;
        writeln!(w)?;
    }
    Ok(())
}

/// The summary line, and with `detailed` the P, M and goroutine lines; with `fatal`, without
/// waiting for any lock.
fn write(w: &mut dyn Write, now: i64, detailed: bool, fatal: bool) -> io::Result<()> {
    let start = super::start::START_NANOS.load(Relaxed);
    let idle_ms = if fatal {
        SCHED.lock.try_lock().ok().map(|l| l.midle.clone())
    } else {
        Some(global::lock().midle.clone())
    };
    write!(
        w,
        "SCHED {}ms: gomaxprocs={} idleprocs={} threads={} spinningthreads={} idlethreads={} runqueue={} goroutines={}",
        (now - start) / 1_000_000,
        SCHED.procs.load(Relaxed),
        SCHED.npidle.load(Relaxed),
        SCHED.mcount.load(Relaxed) + 1,
        SCHED.nmspinning.load(Relaxed),
        unknown(idle_ms.as_ref().map(Vec::len)),
        SCHED.runq_size.load(Relaxed),
        super::num_goroutines(),
    )?;
    if !detailed {
        let queues: Vec<String> = global::allp()
            .filter(|p| p.status.load(Relaxed) != P_DEAD)
            .map(|p| p.runq.len().to_string())
            .collect();
        return writeln!(w, " [{}]", queues.join(" "));
    }
    let waiter = m_ref(SCHED.timer_waiter.load(Relaxed));
    let waited = global::global_head_waited();
    writeln!(
        w,
        " runqueuewait={} timerwaiter={} timerwaiteruntil={}",
        if waited < 0 {
            "-".to_string()
        } else {
            ms(waited)
        },
        waiter.map_or(-1, |m| m.id.load(Relaxed) as i64),
        match SCHED.timer_waiter_until.load(Relaxed) {
            i64::MAX => "-".to_string(),
            until => ms(until - now),
        },
    )?;
    for p in global::allp() {
        write_p(w, p, now, fatal)?;
    }
    let ms = if fatal {
        super::m::try_all_ms()
    } else {
        Some(super::m::all_ms())
    };
    match ms {
        Some(ms) => {
            for m in ms {
                let idle = idle_ms
                    .as_ref()
                    .map(|l| l.iter().any(|i| std::ptr::eq(*i, m)));
                write_m(w, m, idle)?;
            }
        }
        None => writeln!(w, "  M?: (the list of threads is locked)")?,
    }
    write_gs(w)
}

/// A number, or `?` when it sits behind a lock a fatal report does not wait for.
fn unknown(n: Option<usize>) -> String {
    n.map_or_else(|| "?".to_string(), |n| n.to_string())
}

fn write_p(w: &mut dyn Write, p: &P, now: i64, fatal: bool) -> io::Result<()> {
    let status = match p.status.load(Relaxed) {
        P_IDLE => "idle",
        P_RUNNING | P_TAKING => "running",
        P_BLOCKING | P_RETAKING => "syscall",
        P_DEAD => "dead",
        _ => "?",
    };
    let next_timer = p.timers.next_when();
    writeln!(
        w,
        "  P{}: status={status} schedtick={} switchtick={} syscalltick={} m={} runqsize={} timerslen={} nexttimer={} preempt={} retiring={}",
        p.id,
        p.schedtick.load(Relaxed),
        p.switchtick.load(Relaxed),
        p.blocktick.load(Relaxed),
        m_ref(p.m.load(Relaxed)).map_or(-1, |m| m.id.load(Relaxed) as i64),
        p.runq.len(),
        unknown(if fatal {
            p.timers.try_len()
        } else {
            Some(p.timers.len())
        }),
        if next_timer == i64::MAX {
            "-".to_string()
        } else {
            ms(next_timer - now)
        },
        p.preempt.load(Relaxed),
        p.status.load(Relaxed) != P_DEAD && p.should_retire(),
    )
}

fn write_m(w: &mut dyn Write, m: &M, idle: Option<bool>) -> io::Result<()> {
    let id = m.id.load(Relaxed);
    let p = super::p::p_ref(m.p.load(Relaxed)).map_or(-1, |p| p.id as i64);
    // SAFETY: Gs are never freed.
    let curg = unsafe { m.curg.load(Relaxed).as_ref() }.map_or(-1, |g| g.id() as i64);
    if id == 0 {
        write!(w, "  M(callback thread):")?;
    } else {
        write!(w, "  M{id}:")?;
    }
    writeln!(
        w,
        " p={p} curg={curg} spinning={} idle={} taken={}",
        m.spinning.load(Relaxed),
        idle.map_or_else(|| "?".to_string(), |i| i.to_string()),
        m.taken.load(Relaxed),
    )
}

fn write_gs(w: &mut dyn Write) -> io::Result<()> {
    for gp in crate::stack::pool::all_slots() {
        // SAFETY: slots are never unmapped; a free slot reads as IDLE.
        let g = unsafe { &*gp };
        let status = match g.status() {
            IDLE => continue,
            RUNNING => "running".to_string(),
            RUNNABLE => "runnable".to_string(),
            BLOCKING => "syscall".to_string(),
            WAITING | DUMPING => format!(
                "waiting({})",
                WaitReason::from_u8(g.wait_reason.load(Relaxed)).as_str()
            ),
            _ => continue,
        };
        let m = m_ref(g.m.load(Relaxed)).map_or(-1, |m| m.id.load(Relaxed) as i64);
        let locked = m_ref(g.locked_m.load(Relaxed)).map_or(-1, |m| m.id.load(Relaxed) as i64);
        writeln!(w, "  G{}: status={status} m={m} lockedm={locked}", g.id())?;
    }
    Ok(())
}

/// Nanoseconds as milliseconds with one decimal (negative: a deadline already past).
fn ms(ns: i64) -> String {
    format!("{:.1}ms", ns as f64 / 1e6)
}
