//! W10_tcp_echo: loopback TCP echo on `gort::net`. A server on 127.0.0.1:0 spawns one goroutine
//! per connection (read 64 bytes, write them back, until EOF); 100 client goroutines each make
//! one connection and do N (default 10,000; the Go version's -n) round trips of a 64-byte message,
//! checking every byte. per_op_ns = wall / round trips (1,000,000 by default); req/s goes in
//! the note. Same shape as the Go version's w10TCPEcho (whose conns have TCP_NODELAY, as gort's do).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gort::net::{TcpListener, TcpStream};

use super::Workload;
use crate::report::Outcome;

const CLIENTS: u64 = 100;
const MSG_LEN: usize = 64;

pub const WORKLOAD: Workload = Workload {
    name: "W10_tcp_echo",
    summary: "100 clients x N round trips of 64 B over loopback TCP, goroutine per conn",
    default_n: 10_000,
    sweep: &[],
    run,
};

fn run(rounds: u64) -> Outcome {
    gort::run(move || {
        let ln = match TcpListener::bind("127.0.0.1:0") {
            Ok(ln) => ln,
            Err(e) => return failed(format!("listen: {e}")),
        };
        let addr = ln.local_addr().expect("listener address");
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let stop = stop.clone();
            gort::spawn(move || {
                for c in ln.incoming() {
                    let Ok(mut c) = c else { return };
                    if stop.load(SeqCst) {
                        return; // drops the listener, as the Go version's ln.Close()
                    }
                    gort::go(move || {
                        let mut buf = [0u8; MSG_LEN];
                        while c.read_exact(&mut buf).is_ok() && c.write_all(&buf).is_ok() {}
                    });
                }
            })
        };
        let wg = gort::sync::WaitGroup::new();
        let ok_rounds = Arc::new(AtomicU64::new(0));
        let errs = Arc::new(AtomicU64::new(0));
        let first_err = Arc::new(Mutex::new(None::<String>));
        let start = Instant::now();
        for id in 0..CLIENTS {
            wg.add(1);
            let (wg, ok_rounds, errs, first_err) = (
                wg.clone(),
                ok_rounds.clone(),
                errs.clone(),
                first_err.clone(),
            );
            gort::go(move || {
                let fail = |what: String| {
                    errs.fetch_add(1, Relaxed);
                    first_err.lock().unwrap().get_or_insert(what);
                };
                match TcpStream::connect(addr) {
                    Err(e) => fail(format!("dial: {e}")),
                    Ok(mut c) => {
                        let mut out = [id as u8; MSG_LEN];
                        let mut inb = [0u8; MSG_LEN];
                        for r in 0..rounds {
                            out[..4].copy_from_slice(&(r as u32).to_le_bytes());
                            if let Err(e) = c.write_all(&out) {
                                fail(format!("write: {e}"));
                                break;
                            }
                            if let Err(e) = c.read_exact(&mut inb) {
                                fail(format!("read: {e}"));
                                break;
                            }
                            if inb != out {
                                fail("echo mismatch".into());
                                break;
                            }
                            ok_rounds.fetch_add(1, Relaxed);
                        }
                    }
                }
                wg.done();
            });
        }
        wg.wait();
        let wall = start.elapsed();
        // Stop the acceptor: set the flag, then wake its accept with one more connection.
        stop.store(true, SeqCst);
        drop(TcpStream::connect(addr));
        let _ = acceptor.join();
        let n = CLIENTS * rounds;
        let ok_n = ok_rounds.load(Relaxed);
        let errs = errs.load(Relaxed);
        let mut note = format!(
            "{CLIENTS} clients x {rounds} round trips of {MSG_LEN} B; gort::net (TCP_NODELAY); \
             req_per_s={:.0}",
            ok_n as f64 / wall.as_secs_f64()
        );
        let ok = ok_n == n && errs == 0;
        if !ok {
            let first = first_err.lock().unwrap().clone().unwrap_or_default();
            note += &format!("; ok_rounds={ok_n} errors={errs} first={first}");
        }
        Outcome {
            ops: n,
            wall,
            ok,
            note,
            ..Outcome::default()
        }
    })
}

fn failed(note: String) -> Outcome {
    Outcome {
        ok: false,
        note,
        ..Outcome::default()
    }
}
