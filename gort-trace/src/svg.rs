//! `gort-trace svg`: a timeline picture, self-contained SVG. One lane per processor, time left
//! to right; each time slice is a box coloured by goroutine (goroutines from the same spawn
//! site share a hue), with a tooltip saying who ran, from where, for how long and why it
//! stopped; idle time is white; hand-offs are red marks. A last lane shows blocking calls.
//!
//! Slices narrower than a pixel are drawn per pixel column instead: the column's colour is the
//! goroutine that ran most in it and its opacity how busy the processor was, so a trace of a
//! million slices stays a few thousand boxes.

use std::collections::HashMap;
use std::fmt::Write;

use crate::model::Trace;
use crate::summary::{Summary, human};

const WIDTH: f64 = 1400.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 70.0;
const LANE: f64 = 30.0;
const GAP: f64 = 8.0;

/// What a box stands for, before it is drawn.
struct Item {
    start: f64,
    dur: f64,
    g: u64,
    /// Its index in `Trace::slices` (processor lanes) or `Trace::blocking` (the blocking lane).
    idx: usize,
}

pub fn render(t: &Trace, sum: &Summary, source: &str) -> String {
    let plot = WIDTH - LEFT - RIGHT;
    let span = t.end.max(1e-3);
    let scale = plot / span;
    let procs: Vec<u32> = t.procs.iter().copied().collect();
    let lanes = procs.len() + 1;
    let height = TOP + lanes as f64 * (LANE + GAP) + 110.0;
    let mut o = String::new();
    let _ = writeln!(
        o,
        r#"<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">
<title>gort trace: {}</title>
<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="white"/>
<text x="{LEFT}" y="22" font-size="15" font-weight="bold">gort trace: {}</text>
<text x="{LEFT}" y="40">{} on {} processors, {} time slices of {} goroutines. Boxes are goroutines running; white is idle; red marks are hand-offs.</text>"#,
        esc(source),
        esc(source),
        human(t.end),
        procs.len(),
        t.slices.len(),
        sum.per_g.len()
    );
    axis(&mut o, span, scale, height - 100.0);
    let mut by_p: HashMap<u32, Vec<Item>> = HashMap::new();
    for (idx, s) in t.slices.iter().enumerate() {
        by_p.entry(s.p).or_default().push(Item {
            start: s.start,
            dur: s.dur,
            g: s.g,
            idx,
        });
    }
    for (i, &p) in procs.iter().enumerate() {
        let y = TOP + i as f64 * (LANE + GAP);
        let busy = sum.busy.iter().find(|b| b.0 == p).map_or(0.0, |b| b.1);
        let _ = writeln!(
            o,
            r##"<g id="lane-P{p}"><text x="8" y="{:.1}" font-weight="bold">P{p}</text><text x="8" y="{:.1}" fill="#555">busy {:.0}%</text>"##,
            y + 13.0,
            y + 26.0,
            100.0 * busy / span
        );
        let _ = writeln!(
            o,
            r##"<rect x="{LEFT}" y="{y:.1}" width="{plot:.1}" height="{LANE}" fill="white" stroke="#bbb"/>"##
        );
        let mut items = by_p.remove(&p).unwrap_or_default();
        items.sort_by(|a, b| a.start.partial_cmp(&b.start).unwrap());
        draw_lane(&mut o, t, &items, y, scale, |o, item| {
            slice_title(o, t, item.idx);
        });
        for h in t.handoffs.iter().filter(|h| h.p == p) {
            let x = LEFT + h.ts * scale;
            let kind = if h.hog { "hog" } else { "blocking call" };
            let _ = writeln!(
                o,
                r#"<path d="M{x:.1},{:.1} l-4,-7 h8 z M{x:.1},{:.1} v{LANE}" fill="red" stroke="red"><title>hand-off ({kind}) at {}</title></path>"#,
                y,
                y,
                human(h.ts)
            );
        }
        let _ = writeln!(o, "</g>");
    }
    let y = TOP + procs.len() as f64 * (LANE + GAP);
    let _ = writeln!(
        o,
        r##"<g id="lane-blocking"><text x="8" y="{:.1}" font-weight="bold">blocking</text><text x="8" y="{:.1}" fill="#555">calls: {}</text>
<rect x="{LEFT}" y="{y:.1}" width="{plot:.1}" height="{LANE}" fill="white" stroke="#bbb"/>"##,
        y + 13.0,
        y + 26.0,
        t.blocking.len()
    );
    let mut calls: Vec<Item> = t
        .blocking
        .iter()
        .enumerate()
        .map(|(idx, b)| Item {
            start: b.start,
            dur: b.dur,
            g: b.g,
            idx,
        })
        .collect();
    calls.sort_by(|a, b| a.start.partial_cmp(&b.start).unwrap());
    draw_lane(&mut o, t, &calls, y, scale, |o, item| {
        let _ = write!(
            o,
            "{} in a blocking call on M{}\n{} from {}",
            esc(&t.label(item.g)),
            t.blocking[item.idx].m,
            human(item.dur),
            human(item.start)
        );
    });
    let _ = writeln!(o, "</g>");
    legend(&mut o, t, sum, height - 60.0);
    o.push_str("</svg>\n");
    o
}

/// Draws a lane's boxes: one per item at least a pixel wide, and per pixel column for the
/// rest (module doc). `title` writes an item's tooltip.
fn draw_lane(
    o: &mut String,
    t: &Trace,
    items: &[Item],
    y: f64,
    scale: f64,
    title: impl Fn(&mut String, &Item),
) {
    let cols = (WIDTH - LEFT - RIGHT).ceil() as usize + 1;
    let mut busy = vec![0.0f64; cols];
    let mut count = vec![0u32; cols];
    let mut who: Vec<HashMap<u64, f64>> = vec![HashMap::new(); cols];
    for item in items.iter() {
        let (x, w) = (item.start * scale, item.dur * scale);
        if w >= 1.0 {
            let _ = write!(
                o,
                r#"<rect x="{:.2}" y="{y:.1}" width="{w:.2}" height="{LANE}" fill="{}"><title>"#,
                LEFT + x,
                colour(t, item.g)
            );
            title(o, item);
            o.push_str("</title></rect>\n");
            continue;
        }
        let c = (x.max(0.0) as usize).min(cols - 1);
        busy[c] += item.dur;
        count[c] += 1;
        *who[c].entry(item.g).or_default() += item.dur;
    }
    // Runs of columns with the same main goroutine and opacity become one box.
    let col_time = 1.0 / scale;
    let mut c = 0;
    while c < cols {
        if count[c] == 0 {
            c += 1;
            continue;
        }
        let main = |c: usize| {
            who[c]
                .iter()
                .max_by(|a, b| a.1.partial_cmp(b.1).unwrap().then(b.0.cmp(a.0)))
                .map(|(g, _)| *g)
        };
        let level = |c: usize| ((busy[c] / col_time).min(1.0) * 4.0).ceil() / 4.0;
        let (g, lv) = (main(c), level(c));
        let mut end = c + 1;
        let (mut n, mut b) = (count[c], busy[c]);
        while end < cols && count[end] > 0 && main(end) == g && level(end) == lv {
            n += count[end];
            b += busy[end];
            end += 1;
        }
        let g = g.unwrap_or(0);
        let _ = writeln!(
            o,
            r#"<rect x="{:.2}" y="{y:.1}" width="{}" height="{LANE}" fill="{}" fill-opacity="{lv}"><title>{n} short slices, busy {:.0}%, mostly {}</title></rect>"#,
            LEFT + c as f64,
            end - c,
            colour(t, g),
            100.0 * b / (col_time * (end - c) as f64),
            esc(&t.label(g))
        );
        c = end;
    }
}

fn slice_title(o: &mut String, t: &Trace, idx: usize) {
    let s = &t.slices[idx];
    let _ = write!(o, "{}", esc(&t.label(s.g)));
    if let Some(site) = t.goroutines.get(&s.g).and_then(|g| g.site.as_deref()) {
        let _ = write!(o, "\nspawned at {}", esc(site));
    }
    let _ = write!(o, "\nran {} from {}", human(s.dur), human(s.start));
    if let Some(r) = s.ready.filter(|&r| r <= s.start) {
        let _ = write!(o, "\nwaited runnable {}", human(s.start - r));
    }
    let _ = write!(o, "\nthen: {}", esc(t.reason(s.end)));
}

/// The time axis, with about ten labelled ticks.
fn axis(o: &mut String, span: f64, scale: f64, y: f64) {
    let raw = span / 10.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    let _ = writeln!(
        o,
        r##"<g id="axis" fill="#333"><line x1="{LEFT}" y1="{y}" x2="{:.1}" y2="{y}" stroke="#333"/>"##,
        WIDTH - RIGHT
    );
    let mut t = 0.0;
    while t <= span + step * 1e-9 {
        let x = LEFT + t * scale;
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#eee"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            y + 4.0,
            y + 18.0,
            if t == 0.0 { "0".to_string() } else { human(t) }
        );
        t += step;
    }
    o.push_str("</g>\n");
}

/// The goroutines that ran longest, with their colours.
fn legend(o: &mut String, t: &Trace, sum: &Summary, y: f64) {
    let mut top: Vec<(u64, f64)> = sum.per_g.iter().map(|(g, x)| (*g, x.run)).collect();
    top.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap().then(a.0.cmp(&b.0)));
    let _ = writeln!(
        o,
        r#"<g id="legend"><text x="8" y="{:.1}">longest running:</text>"#,
        y + 12.0
    );
    for (i, (g, time)) in top.iter().take(6).enumerate() {
        let x = LEFT + i as f64 * 205.0;
        let _ = writeln!(
            o,
            r#"<rect x="{x:.1}" y="{y:.1}" width="14" height="14" fill="{}"/><text x="{:.1}" y="{:.1}">{} ({})</text>"#,
            colour(t, *g),
            x + 18.0,
            y + 12.0,
            esc(&truncate(&t.label(*g), 18)),
            human(*time)
        );
    }
    o.push_str("</g>\n");
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).chain(['…']).collect()
    }
}

/// A goroutine's colour: the hue from its spawn site (or id), the lightness from its id.
fn colour(t: &Trace, g: u64) -> String {
    let site = t.goroutines.get(&g).and_then(|x| x.site.as_deref());
    let key = site.map_or(g.wrapping_mul(0x9e37_79b9_7f4a_7c15), fnv);
    let hue = key % 360;
    let light = 42 + (g % 4) * 7;
    format!("hsl({hue},65%,{light}%)")
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// `s` escaped for XML text and attributes.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(esc("<a & \"b\">"), "&lt;a &amp; &quot;b&quot;&gt;");
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(truncate("G1 a-very-long-name", 6), "G1 a-…");
        assert_eq!(truncate("G1", 6), "G1");
    }
}
