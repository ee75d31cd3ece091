//! `gort-trace summary`: where the time went. Per goroutine, the time it ran, waited runnable
//! for a processor, and spent blocked; the scheduling latency (runnable → running)
//! percentiles; the blocking reasons that cost the most; processor use and hand-offs.
//!
//! A goroutine is blocked from the end of a slice that parked it (its reason is a wait
//! reason, such as "chan receive") until it became runnable again, or until the trace ends.
//! It waits runnable from then until its next slice starts.

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::Trace;

/// Slice end reasons after which the goroutine is still runnable, running, or gone: none of
/// them is a block.
const NOT_BLOCKED: [&str; 5] = [
    "yield",
    "preempted",
    "hog hand-off",
    "exit",
    "blocking call",
];

/// Per-goroutine totals (µs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub run: f64,
    pub runnable: f64,
    pub blocked: f64,
    pub slices: u64,
}

/// Everything the summary prints.
#[derive(Debug, Default)]
pub struct Summary {
    pub per_g: HashMap<u64, Totals>,
    /// Runnable → running waits (µs), sorted.
    pub latencies: Vec<f64>,
    /// Blocked time and count by reason, most time first.
    pub reasons: Vec<(String, f64, u64)>,
    /// Busy time per processor (µs).
    pub busy: Vec<(u32, f64)>,
}

pub fn compute(t: &Trace) -> Summary {
    let mut order: Vec<usize> = (0..t.slices.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (&t.slices[a], &t.slices[b]);
        (x.g, x.start).partial_cmp(&(y.g, y.start)).unwrap()
    });
    let mut s = Summary::default();
    let mut reasons: HashMap<&str, (f64, u64)> = HashMap::new();
    for (k, &i) in order.iter().enumerate() {
        let sl = &t.slices[i];
        let tot = s.per_g.entry(sl.g).or_default();
        tot.run += sl.dur;
        tot.slices += 1;
        if let Some(r) = sl.ready.filter(|&r| r <= sl.start) {
            tot.runnable += sl.start - r;
            s.latencies.push(sl.start - r);
        }
        let reason = t.reason(sl.end);
        if NOT_BLOCKED.contains(&reason) {
            continue;
        }
        let next = order
            .get(k + 1)
            .map(|&j| &t.slices[j])
            .filter(|n| n.g == sl.g);
        let until = match next {
            Some(n) => n.ready.unwrap_or(n.start).min(n.start),
            None => t.end,
        };
        let blocked = (until - sl.stop()).max(0.0);
        tot.blocked += blocked;
        let e = reasons.entry(reason).or_default();
        e.0 += blocked;
        e.1 += 1;
    }
    if !t.blocking.is_empty() {
        let e = reasons.entry("blocking call").or_default();
        for b in &t.blocking {
            e.0 += b.dur;
            e.1 += 1;
        }
    }
    s.latencies.sort_by(|a, b| a.partial_cmp(b).unwrap());
    s.reasons = reasons
        .into_iter()
        .map(|(r, (time, n))| (r.to_string(), time, n))
        .collect();
    s.reasons
        .sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    let mut busy: HashMap<u32, f64> = t.procs.iter().map(|&p| (p, 0.0)).collect();
    for sl in &t.slices {
        *busy.entry(sl.p).or_default() += sl.dur;
    }
    s.busy = busy.into_iter().collect();
    s.busy.sort_by_key(|b| b.0);
    s
}

/// A duration given in µs, in the unit that reads best.
pub fn human(us: f64) -> String {
    // No "-0.00": a sum of nothing is -0.0 (and `max` may keep it), or rounding below the
    // nanosecond.
    let us = if us > 0.0 { us } else { 0.0 };
    if us >= 1e6 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1e3 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{us:.2} µs")
    }
}

/// The `q` quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

/// The printed report; `top` goroutines are listed (all with `usize::MAX`).
pub fn render(t: &Trace, s: &Summary, top: usize) -> String {
    let mut o = String::new();
    let run: f64 = s.per_g.values().map(|x| x.run).sum();
    let _ = writeln!(
        o,
        "duration {}, {} processors, {} goroutines, {} time slices, {} events",
        human(t.end),
        t.gomaxprocs.map_or(t.procs.len(), |n| n as usize),
        s.per_g.len(),
        t.slices.len(),
        t.events
    );
    let _ = writeln!(o, "total run time {}", human(run));
    let _ = writeln!(o, "\nprocessors (busy = time running goroutines):");
    for &(p, busy) in &s.busy {
        let pct = if t.end > 0.0 {
            100.0 * busy / t.end
        } else {
            0.0
        };
        let _ = writeln!(o, "  P{p:<4} busy {:>12}  {pct:5.1}%", human(busy));
    }
    let hog = t.handoffs.iter().filter(|h| h.hog).count();
    let _ = writeln!(
        o,
        "\nhand-offs: {} ({} from blocking calls, {hog} from hogs)",
        t.handoffs.len(),
        t.handoffs.len() - hog
    );
    let _ = writeln!(
        o,
        "blocking calls: {}, {} in all",
        t.blocking.len(),
        human(t.blocking.iter().map(|b| b.dur).fold(0.0, |a, b| a + b))
    );
    let _ = writeln!(o, "goroutines readied by goroutines: {}", t.flows);
    let _ = writeln!(
        o,
        "\nscheduling latency (runnable -> running), {} wake-ups:",
        s.latencies.len()
    );
    if !s.latencies.is_empty() {
        let l = &s.latencies;
        let _ = writeln!(
            o,
            "  p50 {}  p90 {}  p99 {}  max {}",
            human(quantile(l, 0.5)),
            human(quantile(l, 0.9)),
            human(quantile(l, 0.99)),
            human(l[l.len() - 1])
        );
    }
    let _ = writeln!(o, "\ntop blocking reasons (time goroutines spent blocked):");
    for (r, time, n) in s.reasons.iter().take(10) {
        let _ = writeln!(o, "  {r:<22} {:>12}  ({n} times)", human(*time));
    }
    let mut gs: Vec<(&u64, &Totals)> = s.per_g.iter().collect();
    gs.sort_by(|a, b| b.1.run.partial_cmp(&a.1.run).unwrap().then(a.0.cmp(b.0)));
    let shown = gs.len().min(top);
    let _ = writeln!(
        o,
        "\ngoroutines ({shown} of {} by run time):\n  {:<24} {:>12} {:>12} {:>12} {:>8}  spawned at",
        gs.len(),
        "goroutine",
        "run",
        "runnable",
        "blocked",
        "slices"
    );
    for (g, x) in gs.into_iter().take(top) {
        let site = t
            .goroutines
            .get(g)
            .and_then(|i| i.site.as_deref())
            .unwrap_or("?");
        let _ = writeln!(
            o,
            "  {:<24} {:>12} {:>12} {:>12} {:>8}  {site}",
            t.label(*g),
            human(x.run),
            human(x.runnable),
            human(x.blocked),
            x.slices
        );
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::parse;

    #[test]
    fn blocked_and_runnable_time_add_up() {
        // G1 runs 0-10, blocks on a receive, is readied at 30, runs 35-40 and exits; the trace
        // ends at 50.
        let json = r#"{"traceEvents":[
            {"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}},
            {"ph":"X","pid":1,"tid":0,"ts":0.0,"dur":10.0,"name":"G1","args":{"end":"chan receive"}},
            {"ph":"X","pid":1,"tid":0,"ts":35.0,"dur":5.0,"name":"G1","args":{"end":"exit","ready":30.0}},
            {"ph":"X","pid":1,"tid":0,"ts":40.0,"dur":10.0,"name":"G2","args":{"end":"sleep"}}
        ]}"#;
        let t = parse(json.as_bytes()).unwrap();
        let s = compute(&t);
        assert_eq!(
            s.per_g[&1],
            Totals {
                run: 15.0,
                runnable: 5.0,
                blocked: 20.0,
                slices: 2
            }
        );
        assert_eq!(s.per_g[&2].blocked, 0.0);
        assert_eq!(s.latencies, vec![5.0]);
        assert_eq!(s.reasons[0], ("chan receive".to_string(), 20.0, 1));
        assert_eq!(s.busy, vec![(0, 25.0)]);
        let text = render(&t, &s, 10);
        assert!(text.contains("p50 5.00 µs"), "{text}");
    }
}
