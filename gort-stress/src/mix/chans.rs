//! Channel pieces: every value is a ledger tag (see `check`), so each piece is checked for
//! exactly-once delivery and per-receiver FIFO order at the end of the round.
//!
//! - `select_pair`: two goroutines share ONE channel (unbuffered or small buffer) and both loop
//!   on `select! { send(tx, v), recv(rx), [recv(after(short))], recv(end) => break }`: the same
//!   channel in a send and a receive arm, plus timers. Values left in a buffer are drained by a
//!   finalizer.
//! - `mpmc`: 1-4 producers and 1-4 consumers on one channel (capacity 0-64). Producers use
//!   `send`, `try_send`, `send_timeout` and `select!` with an `after` arm; consumers `recv`,
//!   `recv_timeout`, `try_recv`, `select!` with an `after` arm and the dynamic `Select`. A closer
//!   goroutine may `close()` the channel in the middle: failed sends must give their value back,
//!   buffered values must still be delivered.
//! - `dyn_pair`: two dynamic `Select`s on opposite ends of two unbuffered channels (each side
//!   has a send arm and a receive arm), completed with `op.send` / `op.recv`, blocking with a
//!   timer arm or with `select_timeout`. the two must meet: the gap between
//!   a side's exchanges (and from its last one to the deadline) is checked like a probe's wait.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gort::{
    Receiver, RecvTimeoutError, SendError, SendTimeoutError, Sender, TryRecvError, TrySendError,
};

use super::Ctx;
use crate::check::{Producer, Sink, bump};
use crate::rng::Rng;

/// Book-keeping of a send's result; true if the channel turned out closed.
fn sent(ctx: &Ctx, prod: &mut Producer, res: Result<(), SendError<u64>>) -> bool {
    match res {
        Ok(()) => {
            prod.sent();
            false
        }
        Err(SendError(v)) => {
            prod.returned(v, &ctx.fails);
            true
        }
    }
}

/// Records a received value; true if the channel turned out closed.
fn got(sink: &mut Sink, v: Option<u64>) -> bool {
    match v {
        Some(v) => {
            sink.got(v);
            false
        }
        None => true,
    }
}

pub fn select_pair(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let cap = rng.pick(&[0, 0, 1, 4]);
    let (tx, rx) = gort::chan::<u64>(cap);
    for side in 0..2 {
        let (tx, rx, c, mut r) = (tx.clone(), rx.clone(), ctx.clone(), rng.fork());
        let timeout_pct = rng.pick(&[0, 20, 60]);
        ctx.spawn(format!("pair-{side}(cap {cap})"), move || {
            pair_side(&c, tx, rx, &mut r, timeout_pct)
        });
    }
    drop(tx);
    ctx.finally(move |ctx| {
        let mut sink = ctx.ledger.sink("pair-drain");
        loop {
            match rx.recv_timeout(Duration::from_secs(1)) {
                Ok(v) => sink.got(v),
                Err(RecvTimeoutError::Closed) => break,
                Err(RecvTimeoutError::Timeout) => {
                    ctx.fail("pair: channel not closed after both sides exited".into());
                    break;
                }
            }
        }
    });
}

fn pair_side(ctx: &Ctx, tx: Sender<u64>, rx: Receiver<u64>, r: &mut Rng, timeout_pct: u64) {
    let mut prod = ctx.ledger.producer("pair");
    let mut sink = ctx.ledger.sink("pair");
    let d = ctx.remaining();
    let end = gort::after(d);
    let mut n = 0u64;
    loop {
        bump(&ctx.ops.selects, 1);
        n += 1;
        // With a buffer, a side alone can send to itself forever: only `end` stops it.
        if n.is_multiple_of(1024) && Instant::now() > ctx.deadline + super::LOST {
            ctx.fail(format!(
                "pair: the round-end timer gort::after({d:?}) has not fired {:?} after it was \
                 due (a lost timer?)",
                super::LOST
            ));
            break;
        }
        let tag = prod.tag();
        let closed = if r.chance(timeout_pct) {
            let t = gort::after(r.micros(20, 2000));
            gort::select! {
                send(tx, tag) -> res => sent(ctx, &mut prod, res),
                recv(rx) -> v => got(&mut sink, v),
                recv(t) -> _ => {
                    bump(&ctx.ops.timers, 1);
                    false
                }
                recv(end) -> _ => break,
            }
        } else {
            gort::select! {
                send(tx, tag) -> res => sent(ctx, &mut prod, res),
                recv(rx) -> v => got(&mut sink, v),
                recv(end) -> _ => break,
            }
        };
        if closed {
            ctx.fail("pair: the shared channel reported closed while both ends were held".into());
            break;
        }
    }
}

pub fn mpmc(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let cap = rng.pick(&[0, 1, 2, 8, 64]);
    let np = rng.urange(1, 5);
    let nc = rng.urange(1, 5);
    let (tx, rx) = gort::chan::<u64>(cap);
    if rng.chance(25) {
        let when = ctx.remaining().mul_f64(rng.below(100) as f64 / 100.0);
        let tx = tx.clone();
        ctx.spawn("mpmc-closer".into(), move || {
            gort::sleep(when);
            tx.close();
        });
    }
    for i in 0..np {
        let (tx, c, mut r) = (tx.clone(), ctx.clone(), rng.fork());
        ctx.spawn(format!("mpmc-producer-{i}(cap {cap})"), move || {
            producer(&c, tx, &mut r)
        });
    }
    for i in 0..nc {
        let (rx, c, mut r) = (rx.clone(), ctx.clone(), rng.fork());
        ctx.spawn(format!("mpmc-consumer-{i}(cap {cap})"), move || {
            consumer(&c, rx, &mut r)
        });
    }
}

fn producer(ctx: &Ctx, tx: Sender<u64>, r: &mut Rng) {
    let mut prod = ctx.ledger.producer("mpmc");
    while !ctx.done() {
        let tag = prod.tag();
        let closed = match r.below(4) {
            0 => sent(ctx, &mut prod, tx.send(tag)),
            1 => match tx.try_send(tag) {
                Ok(()) => sent(ctx, &mut prod, Ok(())),
                Err(TrySendError::Full(v)) => {
                    prod.returned(v, &ctx.fails);
                    gort::yield_now();
                    false
                }
                Err(TrySendError::Closed(v)) => sent(ctx, &mut prod, Err(SendError(v))),
            },
            2 => match tx.send_timeout(tag, r.micros(100, 3000)) {
                Ok(()) => sent(ctx, &mut prod, Ok(())),
                Err(SendTimeoutError::Timeout(v)) => {
                    prod.returned(v, &ctx.fails);
                    bump(&ctx.ops.timers, 1);
                    false
                }
                Err(SendTimeoutError::Closed(v)) => sent(ctx, &mut prod, Err(SendError(v))),
            },
            _ => {
                bump(&ctx.ops.selects, 1);
                let t = gort::after(r.micros(50, 3000));
                gort::select! {
                    send(tx, tag) -> res => sent(ctx, &mut prod, res),
                    recv(t) -> _ => false,
                }
            }
        };
        if closed {
            if !tx.is_closed() {
                ctx.fail("mpmc: a send failed but the channel is not closed".into());
            }
            break;
        }
        if r.chance(5) {
            gort::sleep(r.micros(10, 500));
        }
    }
}

fn consumer(ctx: &Ctx, rx: Receiver<u64>, r: &mut Rng) {
    let mut sink = ctx.ledger.sink("mpmc");
    loop {
        let v = match r.below(5) {
            0 => rx.recv(),
            1 => match rx.recv_timeout(r.micros(100, 3000)) {
                Ok(v) => Some(v),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Closed) => None,
            },
            2 => match rx.try_recv() {
                Ok(v) => Some(v),
                Err(TryRecvError::Empty) => {
                    gort::yield_now();
                    continue;
                }
                Err(TryRecvError::Closed) => None,
            },
            3 => {
                bump(&ctx.ops.selects, 1);
                let t = gort::after(r.micros(50, 3000));
                gort::select! {
                    recv(rx) -> v => v,
                    recv(t) -> _ => continue,
                }
            }
            _ => {
                bump(&ctx.ops.selects, 1);
                let t = gort::after(r.micros(50, 3000));
                let mut sel = gort::Select::new();
                let i = sel.recv(&rx);
                sel.recv(&t);
                let op = sel.select();
                if op.index() == i {
                    op.recv(&rx)
                } else {
                    let _ = op.recv(&t);
                    continue;
                }
            }
        };
        match v {
            Some(v) => sink.got(v),
            None => break,
        }
    }
}

pub fn dyn_pair(ctx: &Arc<Ctx>, rng: &mut Rng) {
    let (ab_tx, ab_rx) = gort::chan::<u64>(0);
    let (ba_tx, ba_rx) = gort::chan::<u64>(0);
    let (c, mut r) = (ctx.clone(), rng.fork());
    ctx.spawn("dyn-a".into(), move || dyn_side(&c, ab_tx, ba_rx, &mut r));
    let (c, mut r) = (ctx.clone(), rng.fork());
    ctx.spawn("dyn-b".into(), move || dyn_side(&c, ba_tx, ab_rx, &mut r));
}

/// One side: sends on `tx`, receives on `rx`, until the deadline or the partner leaves (then
/// its ends are dropped: a send fails, a receive sees the channel closed).
fn dyn_side(ctx: &Ctx, tx: Sender<u64>, rx: Receiver<u64>, r: &mut Rng) {
    let mut prod = ctx.ledger.producer("dyn");
    let mut sink = ctx.ledger.sink("dyn");
    let end = gort::after(ctx.remaining());
    let mut last = Instant::now();
    loop {
        bump(&ctx.ops.selects, 1);
        let mut sel = gort::Select::new();
        let (s, rv) = if r.chance(50) {
            let s = sel.send(&tx);
            (s, sel.recv(&rx))
        } else {
            let rv = sel.recv(&rx);
            (sel.send(&tx), rv)
        };
        let op = if r.chance(40) {
            match sel.select_timeout(r.micros(100, 5000)) {
                Some(op) => op,
                None if ctx.done() => break,
                None => continue,
            }
        } else {
            sel.recv(&end);
            sel.select()
        };
        let i = op.index();
        if i == s {
            let tag = prod.tag();
            if sent(ctx, &mut prod, op.send(&tx, tag)) {
                break;
            }
        } else if i == rv {
            match op.recv(&rx) {
                Some(v) => sink.got(v),
                None => break,
            }
        } else {
            let _ = op.recv(&end);
            break;
        }
        // Both sides always offer both directions: whenever both are in `select` they meet.
        let now = Instant::now();
        ctx.live.record(
            "a dyn-pair side (time between exchanges)",
            last,
            now,
            Duration::ZERO,
        );
        last = now;
    }
    let end = Instant::now().min(ctx.deadline);
    ctx.live.record(
        "a dyn-pair side (time between exchanges)",
        last,
        end.max(last),
        Duration::ZERO,
    );
}
