//! A trace file read into memory: the time slices on each processor, the goroutines, the
//! blocking calls and the hand-offs. Reads the Chrome trace-event JSON that
//! `gort::runtime::trace` writes (gzip-compressed or not), streaming over the event array so
//! that only what the reports need is kept.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde::Deserialize;
use serde::de::{DeserializeSeed, MapAccess, SeqAccess, Visitor};

/// One time slice: goroutine `g` ran on processor `p` over [`start`, `start + dur`) (µs).
#[derive(Clone, Debug)]
pub struct Slice {
    pub p: u32,
    pub g: u64,
    pub start: f64,
    pub dur: f64,
    /// Why it stopped: an index into `Trace::reasons`.
    pub end: u32,
    /// When it had become runnable, if the trace saw it.
    pub ready: Option<f64>,
}

impl Slice {
    pub fn stop(&self) -> f64 {
        self.start + self.dur
    }
}

/// What the trace says about a goroutine.
#[derive(Clone, Debug, Default)]
pub struct Goroutine {
    pub name: Option<String>,
    pub site: Option<String>,
}

/// A blocking call: goroutine `g` on thread `m`.
#[derive(Clone, Debug)]
pub struct Blocking {
    pub m: u64,
    pub g: u64,
    pub start: f64,
    pub dur: f64,
}

/// A processor handed to another thread at `ts`: from a hog, or from a blocking call.
#[derive(Clone, Debug)]
pub struct Handoff {
    pub p: u32,
    pub ts: f64,
    pub hog: bool,
}

#[derive(Debug, Default)]
pub struct Trace {
    pub slices: Vec<Slice>,
    /// Processor numbers with a track.
    pub procs: BTreeSet<u32>,
    /// The most processors (GOMAXPROCS) the trace recorded at any time, if it recorded any.
    pub gomaxprocs: Option<u32>,
    pub goroutines: HashMap<u64, Goroutine>,
    pub blocking: Vec<Blocking>,
    pub handoffs: Vec<Handoff>,
    /// Flow arrows: a goroutine readied another.
    pub flows: u64,
    /// Slice end reasons, interned.
    pub reasons: Vec<String>,
    /// Where each reason is in `reasons`.
    reason_index: HashMap<String, u32>,
    /// The last time anything happened (µs).
    pub end: f64,
    /// Events read.
    pub events: u64,
}

impl Trace {
    pub fn reason(&self, i: u32) -> &str {
        &self.reasons[i as usize]
    }

    /// "G17 worker" or "G17".
    pub fn label(&self, g: u64) -> String {
        match self.goroutines.get(&g).and_then(|x| x.name.as_deref()) {
            Some(n) => format!("G{g} {n}"),
            None => format!("G{g}"),
        }
    }

    fn intern(&mut self, reason: &str) -> u32 {
        if let Some(&i) = self.reason_index.get(reason) {
            return i;
        }
        let i = self.reasons.len() as u32;
        self.reasons.push(reason.to_string());
        self.reason_index.insert(reason.to_string(), i);
        i
    }

    fn add(&mut self, ev: RawEvent) -> Result<(), String> {
        self.events += 1;
        let ts = ev.ts.unwrap_or(0.0);
        let stop = ts + ev.dur.unwrap_or(0.0);
        if !stop.is_finite() {
            return Err(format!(
                "an event at {ts} µs lasting {:?} µs ends at {stop}, not a finite time",
                ev.dur
            ));
        }
        self.end = self.end.max(stop);
        let args = ev.args.unwrap_or_default();
        match (ev.ph.as_str(), ev.pid.unwrap_or(0)) {
            ("X", 1) => {
                let p = lane(ev.tid).ok_or_else(|| {
                    format!("a time slice is on no processor's track: {:?}", ev.tid)
                })?;
                let g = goroutine_of(ev.name.as_deref())
                    .ok_or_else(|| format!("a time slice has no goroutine: {:?}", ev.name))?;
                let end = self.intern(args.end.as_deref().unwrap_or("?"));
                self.procs.insert(p);
                self.slices.push(Slice {
                    p,
                    g,
                    start: ts,
                    dur: ev.dur.unwrap_or(0.0),
                    end,
                    ready: args.ready,
                });
            }
            ("X", 2) => self.blocking.push(Blocking {
                m: ev.tid.unwrap_or(0),
                g: args
                    .g
                    .or_else(|| goroutine_of(ev.name.as_deref()))
                    .unwrap_or(0),
                start: ts,
                dur: ev.dur.unwrap_or(0.0),
            }),
            ("i", _) if ev.cat.as_deref() == Some("create") => {
                if let Some(g) = args.g {
                    let e = self.goroutines.entry(g).or_default();
                    e.name = e.name.take().or(args.name);
                    e.site = e.site.take().or(args.site);
                }
            }
            ("i", _) if ev.cat.as_deref() == Some("handoff") => {
                if let Some(p) = lane(ev.tid) {
                    self.handoffs.push(Handoff {
                        p,
                        ts,
                        hog: args.kind.as_deref() == Some("hog"),
                    });
                }
            }
            ("f", _) => self.flows += 1,
            ("C", 1) if ev.name.as_deref() == Some("procs") => {
                if let Some(n) = args.procs {
                    self.gomaxprocs = Some(self.gomaxprocs.map_or(n, |m| m.max(n)));
                }
            }
            ("M", 1) if ev.name.as_deref() == Some("thread_name") => {
                if let Some(p) = lane(ev.tid) {
                    self.procs.insert(p);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// The track gort's writer gives events recorded without a processor.
const NO_P_TID: u64 = 100_000;

/// The processor of a track on the processors' side (the "no P" track is not one).
fn lane(tid: Option<u64>) -> Option<u32> {
    tid.filter(|&t| t < NO_P_TID).map(|t| t as u32)
}

/// The goroutine id in a label: "G17 worker" → 17.
fn goroutine_of(label: Option<&str>) -> Option<u64> {
    let rest = label?.strip_prefix('G')?;
    let digits = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    digits.parse().ok()
}

#[derive(Deserialize)]
struct RawEvent {
    ph: String,
    pid: Option<u64>,
    tid: Option<u64>,
    ts: Option<f64>,
    dur: Option<f64>,
    name: Option<String>,
    cat: Option<String>,
    args: Option<RawArgs>,
}

#[derive(Default, Deserialize)]
struct RawArgs {
    end: Option<String>,
    ready: Option<f64>,
    g: Option<u64>,
    name: Option<String>,
    site: Option<String>,
    kind: Option<String>,
    procs: Option<u32>,
}

/// Why a trace could not be read.
#[derive(Debug)]
pub struct ReadError(pub String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Reads the trace at `path` (gzip-compressed if it starts with gzip's magic bytes).
pub fn read(path: &Path) -> Result<Trace, ReadError> {
    let file = File::open(path).map_err(|e| ReadError(format!("{}: {e}", path.display())))?;
    let mut r = BufReader::with_capacity(1 << 20, file);
    let gz = std::io::BufRead::fill_buf(&mut r)
        .map_err(|e| ReadError(format!("{}: {e}", path.display())))?
        .starts_with(&[0x1f, 0x8b]);
    let reader: Box<dyn Read> = if gz {
        Box::new(BufReader::new(flate2::read::GzDecoder::new(r)))
    } else {
        Box::new(r)
    };
    parse(reader).map_err(|e| ReadError(format!("{}: not a gort trace: {e}", path.display())))
}

/// Parses a trace from `r`.
pub fn parse(r: impl Read) -> Result<Trace, String> {
    let mut de = serde_json::Deserializer::from_reader(r);
    let mut trace = Trace::default();
    let found = serde::Deserializer::deserialize_map(&mut de, TopVisitor(&mut trace))
        .map_err(|e| e.to_string())?;
    if !found {
        return Err("no \"traceEvents\" array".into());
    }
    // An empty trace (stopped before anything ran) still records the processor count.
    if trace.procs.is_empty() && trace.gomaxprocs.is_none() {
        return Err("no processor tracks (is this a gort trace?)".into());
    }
    Ok(trace)
}

/// The top-level object: finds "traceEvents" and skips the rest. Returns whether it was there.
struct TopVisitor<'a>(&'a mut Trace);

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace-event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "traceEvents" {
                map.next_value_seed(EventsSeed(&mut *self.0))?;
                found = true;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// The event array, added to the trace one event at a time.
struct EventsSeed<'a>(&'a mut Trace);

impl<'de> DeserializeSeed<'de> for EventsSeed<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EventsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of trace events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(ev) = seq.next_element::<RawEvent>()? {
            self.0.add(ev).map_err(serde::de::Error::custom)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_goroutines() {
        assert_eq!(goroutine_of(Some("G17 worker")), Some(17));
        assert_eq!(goroutine_of(Some("G3")), Some(3));
        assert_eq!(goroutine_of(Some("worker")), None);
    }

    #[test]
    fn a_small_trace_parses() {
        let json = r#"{"traceEvents":[
            {"ph":"M","pid":1,"tid":0,"name":"thread_name","args":{"name":"P0"}},
            {"ph":"i","s":"t","pid":1,"tid":0,"ts":1.0,"name":"create G5","cat":"create","args":{"g":5,"parent":1,"name":"w","site":"a.rs:1:1"}},
            {"ph":"X","pid":1,"tid":0,"ts":2.0,"dur":3.0,"name":"G5 w","args":{"end":"chan receive","ready":1.0}},
            {"ph":"X","pid":2,"tid":4,"ts":6.0,"dur":1.0,"name":"G5 w","args":{"g":5}}
        ],"otherData":{}}"#;
        let t = parse(json.as_bytes()).unwrap();
        assert_eq!(t.slices.len(), 1);
        assert_eq!(t.reason(t.slices[0].end), "chan receive");
        assert_eq!(t.label(5), "G5 w");
        assert_eq!(t.blocking.len(), 1);
        assert_eq!(t.end, 7.0);
    }

    #[test]
    fn other_json_is_refused() {
        assert!(
            parse(&b"{\"a\":1}"[..])
                .unwrap_err()
                .contains("traceEvents")
        );
        assert!(parse(&b"[1,2]"[..]).is_err());
        assert!(
            parse(&b"{\"traceEvents\":[]}"[..])
                .unwrap_err()
                .contains("processor")
        );
    }
}
