//! Go's classic channel programs (golang/go `test/chan/*.go`), translated to gort.
//!
//! Ported from the Go distribution. Copyright The Go Authors. All rights reserved.
//! Use of the original source code is governed by a BSD-style license that can be found in Go's
//! LICENSE file. Each module names the Go file it comes from.
//!
//! Where a Go program relies on the process exiting to get rid of goroutines blocked forever, the
//! Rust version lets them end instead: a send fails once every Receiver is dropped and a receive
//! returns `None` once every Sender is dropped, so a pipeline winds down when the test drops its
//! end. A Go `nil` channel in a receive arm is `gort::never()`; Go's panics on a closed channel
//! are gort's `Err(SendError(v))`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering::Relaxed};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use common::bounded;

/// Counts the bytes live in the global allocator, for select2's footprint check.
struct Counting;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments and only adds
// bookkeeping, so `System`'s guarantees carry over.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout, which meets `alloc`'s contract.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(layout.size() as isize, Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller passes a block this allocator (that is, System) returned.
        unsafe { System.dealloc(ptr, layout) };
        LIVE_BYTES.fetch_sub(layout.size() as isize, Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's block came from System with `layout`.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Relaxed);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// select2 measures the allocator, so it runs alone; every other test shares this lock.
static EXCLUSIVE: RwLock<()> = RwLock::new(());

fn shared() -> RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().unwrap_or_else(|e| e.into_inner())
}

fn exclusive() -> RwLockWriteGuard<'static, ()> {
    EXCLUSIVE.write().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` as a goroutine, failing the test if it takes longer than `secs` seconds.
fn go_test<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    bounded(secs, move || gort::run(f))
}

/// `release` in release builds, `debug` in debug builds (Go's testing.Short()).
fn scaled(release: usize, debug: usize) -> usize {
    if cfg!(debug_assertions) {
        debug
    } else {
        release
    }
}

const PRIMES: [i64; 25] = [
    2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
];

/// test/chan/sieve1.go: a linear chain of divisibility filters.
mod sieve1 {
    use super::*;
    use gort::{Receiver, Sender};

    /// Send the sequence 2, 3, 4, ... to channel 'ch'.
    fn generate(ch: Sender<i64>) {
        let mut i = 2;
        while ch.send(i).is_ok() {
            i += 1;
        }
    }

    /// Copy the values from channel 'in' to channel 'out', removing those divisible by 'prime'.
    fn filter(input: Receiver<i64>, out: Sender<i64>, prime: i64) {
        for i in &input {
            if i % prime != 0 && out.send(i).is_err() {
                return;
            }
        }
    }

    /// The prime sieve: Daisy-chain Filter processes together.
    fn sieve(primes: Sender<i64>) {
        let (tx, mut ch) = gort::chan(0);
        gort::go(move || generate(tx));
        loop {
            // Note that ch is different on each iteration.
            let Some(prime) = ch.recv() else { return };
            if primes.send(prime).is_err() {
                return;
            }
            let (tx1, ch1) = gort::chan(0);
            let input = std::mem::replace(&mut ch, ch1);
            gort::go(move || filter(input, tx1, prime));
        }
    }

    #[test]
    fn sieve1() {
        let _s = shared();
        go_test(30, || {
            let (tx, primes) = gort::chan(0);
            gort::go!(move || sieve(tx));
            for want in PRIMES {
                assert_eq!(primes.recv(), Some(want));
            }
        });
    }
}

/// test/chan/sieve2.go: an Eratosthenes sieve over odd candidates, merging the multiples of
/// every prime found through a heap of channels, with a send proxy that buffers without bound.
mod sieve2 {
    use super::*;
    use gort::{Receiver, Sender};
    use std::cmp::Ordering;
    use std::collections::{BinaryHeap, VecDeque};

    /// Return a chan of odd numbers, starting from 5.
    fn odds() -> Receiver<i64> {
        let (tx, out) = gort::chan(50);
        gort::go(move || {
            let mut n = 5;
            while tx.send(n).is_ok() {
                n += 2;
            }
        });
        out
    }

    /// Return a chan of odd multiples of the prime number p, starting from p*p.
    fn multiples(p: i64) -> Receiver<i64> {
        let (tx, out) = gort::chan(10);
        gort::go(move || {
            let mut n = p * p;
            while tx.send(n).is_ok() {
                n += 2 * p;
            }
        });
        out
    }

    struct PeekCh {
        head: i64,
        ch: Receiver<i64>,
    }

    // Heap of PeekCh, sorting by head values (std's heap is a max-heap: reversed order).
    impl Ord for PeekCh {
        fn cmp(&self, other: &Self) -> Ordering {
            other.head.cmp(&self.head)
        }
    }

    impl PartialOrd for PeekCh {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }

    impl PartialEq for PeekCh {
        fn eq(&self, other: &Self) -> bool {
            self.head == other.head
        }
    }

    impl Eq for PeekCh {}

    /// Return a channel to serve as a sending proxy to 'out'. Use a goroutine to receive values
    /// from 'out' and store them in an expanding buffer, so that sending to 'out' never blocks.
    fn sendproxy(out: Sender<i64>) -> Sender<i64> {
        let (proxy_tx, proxy) = gort::chan(10);
        gort::go(move || {
            let mut buf = VecDeque::with_capacity(16);
            loop {
                // Buffer empty: disable output (Go sets the channel to nil).
                let Some(&e) = buf.front() else {
                    match proxy.recv() {
                        Some(e) => buf.push_back(e),
                        None => return,
                    }
                    continue;
                };
                let received = gort::select! {
                    recv(proxy) -> v => match v {
                        Some(v) => Some(v),
                        None => return,
                    },
                    send(out, e) -> res => {
                        if res.is_err() {
                            return;
                        }
                        None
                    },
                };
                match received {
                    Some(v) => buf.push_back(v),
                    None => {
                        buf.pop_front();
                    }
                }
            }
        });
        proxy_tx
    }

    /// Merge channels of multiples of 'primes' into 'composites'.
    fn merge(primes: Receiver<i64>, composites: Sender<i64>) -> Option<()> {
        let mut h: BinaryHeap<PeekCh> = BinaryHeap::new();
        let mut min = 15;
        loop {
            let m = multiples(primes.recv()?);
            let head = m.recv()?;
            while min < head {
                composites.send(min).ok()?;
                let mut minchan = h.pop().expect("heap is empty");
                min = minchan.head;
                minchan.head = minchan.ch.recv()?;
                h.push(minchan);
            }
            while min == head {
                let mut minchan = h.pop().expect("heap is empty");
                min = minchan.head;
                minchan.head = minchan.ch.recv()?;
                h.push(minchan);
            }
            composites.send(head).ok()?;
            h.push(PeekCh {
                head: m.recv()?,
                ch: m,
            });
        }
    }

    /// Sieve out 'composites' from 'candidates'.
    fn sift(primes: Sender<i64>, composites: Receiver<i64>, out: Sender<i64>) -> Option<()> {
        // In order to generate the nth prime we only need multiples of primes ≤ sqrt(nth
        // prime). Thus, the merging goroutine will receive from 'primes' much slower than this
        // goroutine will send to it, making the buffer accumulate and block this goroutine from
        // sending, causing a deadlock. The solution is to use a proxy goroutine to do automatic
        // buffering.
        let primes = sendproxy(primes);
        let candidates = odds();
        let mut p = candidates.recv()?;
        loop {
            let c = composites.recv()?;
            while p < c {
                primes.send(p).ok()?;
                out.send(p).ok()?;
                p = candidates.recv()?;
            }
            if p == c {
                p = candidates.recv()?;
            }
        }
    }

    /// Return a chan int of primes.
    fn sieve() -> Receiver<i64> {
        // The output values.
        let (out_tx, out) = gort::chan(10);
        out_tx.send(2).unwrap();
        out_tx.send(3).unwrap();
        // The channel of all composites to be eliminated in increasing order.
        let (composites_tx, composites) = gort::chan(50);
        // The feedback loop.
        let (primes_tx, primes) = gort::chan(10);
        primes_tx.send(3).unwrap();
        gort::go(move || {
            let _ = merge(primes, composites_tx);
        });
        gort::go(move || {
            let _ = sift(primes_tx, composites, out_tx);
        });
        out
    }

    #[test]
    fn sieve2() {
        let _s = shared();
        go_test(30, || {
            let primes = sieve();
            for want in PRIMES {
                assert_eq!(primes.recv(), Some(want));
            }
        });
    }
}

/// test/chan/powser1.go: power series as demand-driven channels of rationals (Doug McIlroy's
/// "Squinting at Power Series"). A denominator of zero marks the end of a series.
///
/// A Go `*dch` is shared by its reader and its writer; here each end is its own type (`Ps` for
/// the reader, `PsOut` for the writer) so a dropped reader is seen by the writer. The network
/// of goroutines contains cycles (Exp feeds its own output back), which dropping alone cannot
/// unwind, so every channel operation also watches a `quit` channel that the test closes at the
/// end: the goroutines Go leaves blocked at exit end here.
mod powser1 {
    use super::*;
    use gort::{Receiver, Sender};
    use std::sync::atomic::AtomicI64;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    struct Rat {
        num: i64, // numerator
        den: i64, // denominator
    }

    static SEQNO: AtomicI64 = AtomicI64::new(0);

    fn next_seqno() -> i64 {
        SEQNO.fetch_add(1, Relaxed) + 1
    }

    /// The reading end of a demand channel.
    #[derive(Clone)]
    struct Ps {
        req: Sender<i64>,
        dat: Receiver<Rat>,
        quit: Receiver<()>,
    }

    /// The writing end of a demand channel.
    #[derive(Clone)]
    struct PsOut {
        req: Receiver<i64>,
        dat: Sender<Rat>,
        quit: Receiver<()>,
    }

    fn mkdch(quit: &Receiver<()>) -> (PsOut, Ps) {
        let (req_tx, req_rx) = gort::chan(0);
        let (dat_tx, dat_rx) = gort::chan(0);
        (
            PsOut {
                req: req_rx,
                dat: dat_tx,
                quit: quit.clone(),
            },
            Ps {
                req: req_tx,
                dat: dat_rx,
                quit: quit.clone(),
            },
        )
    }

    fn mkdch2(quit: &Receiver<()>) -> ([PsOut; 2], [Ps; 2]) {
        let (o0, i0) = mkdch(quit);
        let (o1, i1) = mkdch(quit);
        ([o0, o1], [i0, i1])
    }

    /// `<-rx`, or `None` once the test is over.
    fn rcv<T>(rx: &Receiver<T>, quit: &Receiver<()>) -> Option<T> {
        gort::select! {
            recv(rx) -> v => v,
            recv(quit) -> _ => None,
        }
    }

    /// `tx <- v`, or `None` once the test is over.
    fn snd<T>(tx: &Sender<T>, v: T, quit: &Receiver<()>) -> Option<()> {
        gort::select! {
            send(tx, v) -> res => res.ok(),
            recv(quit) -> _ => None,
        }
    }

    /// Runs a power-series generator as a goroutine; it ends when any operation fails.
    fn spawn(f: impl FnOnce() -> Option<()> + Send + 'static) {
        gort::go(move || {
            let _ = f();
        });
    }

    // split reads a single demand channel and replicates its output onto two, which may be
    // read at different rates. A process is created at first demand for a rat and dies after
    // the rat has been sent to both outputs.
    //
    // When multiple generations of split exist, the newest will service requests on one
    // channel, which is always renamed to be out[0]; the oldest will service requests on the
    // other channel, out[1]. All generations but the newest hold queued data that has already
    // been sent to out[0]. When data has finally been sent to out[1], a signal on the
    // release-wait channel tells the next newer generation to begin servicing out[1].
    //
    // (Go shares one `out` array between generations; a generation only swaps it once every
    // older one is done, so each generation here takes its own copy after its swap.)
    fn dosplit(input: Ps, mut out: [PsOut; 2], wait: Receiver<i64>) -> Option<()> {
        let quit = input.quit.clone();
        let mut both = false; // do not service both channels
        let first = gort::select! {
            recv(out[0].req) -> v => v.map(|_| false),
            recv(wait) -> v => v.map(|_| true),
            recv(quit) -> _ => None,
        };
        if first? {
            both = true;
            let swap = gort::select! {
                recv(out[0].req) -> v => v.map(|_| false),
                recv(out[1].req) -> v => v.map(|_| true),
                recv(quit) -> _ => None,
            };
            if swap? {
                out.swap(0, 1);
            }
        }
        snd(&input.req, next_seqno(), &quit)?;
        let (release_tx, release) = gort::chan(0);
        {
            let (input, out) = (input.clone(), out.clone());
            spawn(move || dosplit(input, out, release));
        }
        let dat = rcv(&input.dat, &quit)?;
        snd(&out[0].dat, dat, &quit)?;
        if !both {
            rcv(&wait, &quit)?;
        }
        rcv(&out[1].req, &quit)?;
        snd(&out[1].dat, dat, &quit)?;
        snd(&release_tx, 0, &quit)
    }

    fn split(input: Ps, out: [PsOut; 2]) -> Option<()> {
        let quit = input.quit.clone();
        let (release_tx, release) = gort::chan(0);
        spawn(move || dosplit(input, out, release));
        snd(&release_tx, 0, &quit)
    }

    fn put(dat: Rat, out: &PsOut) -> Option<()> {
        rcv(&out.req, &out.quit)?;
        snd(&out.dat, dat, &out.quit)
    }

    fn get(input: &Ps) -> Option<Rat> {
        snd(&input.req, next_seqno(), &input.quit)?;
        rcv(&input.dat, &input.quit)
    }

    #[derive(Clone, Copy)]
    enum Op {
        Req(usize),
        Dat(usize),
    }

    /// Get one rat from each of 2 demand channels (Go's getn). Go disables a case by setting
    /// its channel to nil; here the select is rebuilt each round from the live cases.
    #[allow(clippy::needless_range_loop)]
    fn get2(in0: &Ps, in1: &Ps) -> Option<[Rat; 2]> {
        let input = [in0, in1];
        let mut req_live = [true, true];
        let mut dat_live = [false, false];
        let mut out = [ZERO; 2];
        for _ in 0..4 {
            let seqno = next_seqno();
            let mut sel = gort::Select::new();
            let mut ops = Vec::with_capacity(4);
            for i in 0..2 {
                if req_live[i] {
                    ops.push((sel.send(&input[i].req), Op::Req(i)));
                }
                if dat_live[i] {
                    ops.push((sel.recv(&input[i].dat), Op::Dat(i)));
                }
            }
            let quit = sel.recv(&in0.quit);
            let op = sel.select();
            let index = op.index();
            if index == quit {
                let _ = op.recv(&in0.quit);
                return None;
            }
            let (_, which) = *ops.iter().find(|(i, _)| *i == index).expect("unknown case");
            match which {
                Op::Req(i) => {
                    op.send(&input[i].req, seqno).ok()?;
                    req_live[i] = false;
                    dat_live[i] = true;
                }
                Op::Dat(i) => {
                    out[i] = op.recv(&input[i].dat)?;
                    dat_live[i] = false;
                }
            }
        }
        Some(out)
    }

    fn copy(input: &Ps, out: &PsOut) -> Option<()> {
        loop {
            rcv(&out.req, &out.quit)?;
            let v = get(input)?;
            snd(&out.dat, v, &out.quit)?;
        }
    }

    // Integer gcd; needed for rational arithmetic
    fn gcd(u: i64, v: i64) -> i64 {
        if u < 0 {
            return gcd(-u, v);
        }
        if u == 0 {
            return v;
        }
        gcd(v % u, u)
    }

    // Make a rational from two ints and from one int
    fn i2tor(u: i64, v: i64) -> Rat {
        let g = gcd(u, v);
        if v > 0 {
            Rat {
                num: u / g,
                den: v / g,
            }
        } else {
            Rat {
                num: -u / g,
                den: -v / g,
            }
        }
    }

    fn itor(u: i64) -> Rat {
        i2tor(u, 1)
    }

    const ZERO: Rat = Rat { num: 0, den: 1 };
    const ONE: Rat = Rat { num: 1, den: 1 };
    // End mark
    const FINIS: Rat = Rat { num: 1, den: 0 };

    fn end(u: Rat) -> i64 {
        if u.den == 0 { 1 } else { 0 }
    }

    // Operations on rationals

    fn add(u: Rat, v: Rat) -> Rat {
        let g = gcd(u.den, v.den);
        i2tor(
            u.num * (v.den / g) + v.num * (u.den / g),
            u.den * (v.den / g),
        )
    }

    fn mul(u: Rat, v: Rat) -> Rat {
        let g1 = gcd(u.num, v.den);
        let g2 = gcd(u.den, v.num);
        Rat {
            num: (u.num / g1) * (v.num / g2),
            den: (u.den / g2) * (v.den / g1),
        }
    }

    fn neg(u: Rat) -> Rat {
        i2tor(-u.num, u.den)
    }

    // Power-series constructors return channels on which power series flow. They start an
    // encapsulated generator that puts the terms of the series on the channel.

    /// Make a pair of power series identical to a given power series
    fn split_ps(u: Ps) -> [Ps; 2] {
        let (outs, uu) = mkdch2(&u.quit);
        spawn(move || split(u, outs));
        uu
    }

    /// Add two power series
    fn add_ps(u: Ps, v: Ps) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            loop {
                rcv(&zo.req, &zo.quit)?;
                let uv = get2(&u, &v)?;
                match end(uv[0]) + 2 * end(uv[1]) {
                    0 => snd(&zo.dat, add(uv[0], uv[1]), &zo.quit)?,
                    1 => {
                        snd(&zo.dat, uv[1], &zo.quit)?;
                        copy(&v, &zo)?;
                    }
                    2 => {
                        snd(&zo.dat, uv[0], &zo.quit)?;
                        copy(&u, &zo)?;
                    }
                    _ => snd(&zo.dat, FINIS, &zo.quit)?,
                }
            }
        });
        z
    }

    /// Multiply a power series by a constant
    fn cmul(c: Rat, u: Ps) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            let mut done = false;
            while !done {
                rcv(&zo.req, &zo.quit)?;
                let x = get(&u)?;
                if end(x) != 0 {
                    done = true;
                } else {
                    snd(&zo.dat, mul(c, x), &zo.quit)?;
                }
            }
            snd(&zo.dat, FINIS, &zo.quit)
        });
        z
    }

    /// Subtract
    fn sub_ps(u: Ps, v: Ps) -> Ps {
        add_ps(u, cmul(neg(ONE), v))
    }

    fn rep(c: Rat, quit: &Receiver<()>) -> Ps {
        let (zo, z) = mkdch(quit);
        spawn(move || {
            loop {
                put(c, &zo)?;
            }
        });
        z
    }

    /// Multiply. The algorithm is
    ///   let U = u + x*UU
    ///   let V = v + x*VV
    ///   then UV = u*v + x*(u*VV+v*UU) + x*x*UU*VV
    fn mul_ps(u: Ps, v: Ps) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            rcv(&zo.req, &zo.quit)?;
            let uv = get2(&u, &v)?;
            if end(uv[0]) != 0 || end(uv[1]) != 0 {
                snd(&zo.dat, FINIS, &zo.quit)
            } else {
                snd(&zo.dat, mul(uv[0], uv[1]), &zo.quit)?;
                let [uu0, uu1] = split_ps(u);
                let [vv0, vv1] = split_ps(v);
                let w = add_ps(cmul(uv[0], vv0), cmul(uv[1], uu0));
                rcv(&zo.req, &zo.quit)?;
                let first = get(&w)?;
                snd(&zo.dat, first, &zo.quit)?;
                copy(&add_ps(w, mul_ps(uu1, vv1)), &zo)
            }
        });
        z
    }

    /// Differentiate
    fn diff(u: Ps) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            rcv(&zo.req, &zo.quit)?;
            let mut x = get(&u)?;
            if end(x) == 0 {
                let mut done = false;
                let mut i = 1;
                while !done {
                    x = get(&u)?;
                    if end(x) != 0 {
                        done = true;
                    } else {
                        snd(&zo.dat, mul(itor(i), x), &zo.quit)?;
                        rcv(&zo.req, &zo.quit)?;
                    }
                    i += 1;
                }
            }
            snd(&zo.dat, FINIS, &zo.quit)
        });
        z
    }

    /// Integrate, with const of integration
    fn integ(c: Rat, u: Ps) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            put(c, &zo)?;
            let mut done = false;
            let mut i = 1;
            while !done {
                rcv(&zo.req, &zo.quit)?;
                let x = get(&u)?;
                if end(x) != 0 {
                    done = true;
                }
                snd(&zo.dat, mul(i2tor(1, i), x), &zo.quit)?;
                i += 1;
            }
            snd(&zo.dat, FINIS, &zo.quit)
        });
        z
    }

    /// Exponential of a power series with constant term 0 (nonzero constant term would make
    /// nonrational coefficients); bug: the constant term is simply ignored
    ///   Z = exp(U)
    ///   DZ = Z*DU
    ///   integrate to get Z
    fn exp(u: Ps) -> Ps {
        let (zz_out, [zz0, zz1]) = mkdch2(&u.quit);
        let _ = split(integ(ONE, mul_ps(zz0, diff(u))), zz_out);
        zz1
    }

    /// Monomial Substitution: U(c x^n). Each Ui is multiplied by c^i and followed by n-1 zeros
    fn mon_subst(u: Ps, c0: Rat, n: usize) -> Ps {
        let (zo, z) = mkdch(&u.quit);
        spawn(move || {
            let mut c = ONE;
            loop {
                rcv(&zo.req, &zo.quit)?;
                let x = get(&u)?;
                snd(&zo.dat, mul(x, c), &zo.quit)?;
                c = mul(c, c0);
                if end(x) != 0 {
                    snd(&zo.dat, FINIS, &zo.quit)?;
                    break;
                }
                for _ in 1..n {
                    rcv(&zo.req, &zo.quit)?;
                    snd(&zo.dat, ZERO, &zo.quit)?;
                }
            }
            Some(())
        });
        z
    }

    fn check(u: &Ps, c: Rat, count: usize, what: &str) {
        for _ in 0..count {
            let r = get(u).expect("series ended early");
            assert_eq!(r, c, "{what}: got {r:?}, should get {c:?}");
        }
    }

    const N: usize = 10;

    fn checka(u: &Ps, a: &[Rat; N], what: &str) {
        for &c in a {
            check(u, c, 1, what);
        }
    }

    #[test]
    fn powser1() {
        let _s = shared();
        go_test(60, || {
            let (quit_tx, quit) = gort::chan::<()>(0);
            let ones = rep(ONE, &quit);
            let twos = rep(itor(2), &quit);

            check(&ones, ONE, 5, "Ones");
            check(
                &add_ps(ones.clone(), ones.clone()),
                itor(2),
                0,
                "Add Ones Ones",
            ); // 1 1 1 1 1
            check(
                &add_ps(ones.clone(), twos.clone()),
                itor(3),
                0,
                "Add Ones Twos",
            ); // 3 3 3 3 3
            let mut a = [ZERO; N];
            let d = diff(ones.clone());
            for (i, t) in a.iter_mut().enumerate() {
                *t = itor(i as i64 + 1);
            }
            checka(&d, &a, "Diff"); // 1 2 3 4 5
            let integral = integ(ZERO, ones.clone());
            a[0] = ZERO; // integration constant
            for (i, t) in a.iter_mut().enumerate().skip(1) {
                *t = i2tor(1, i as i64);
            }
            checka(&integral, &a, "Integ"); // 0 1 1/2 1/3 1/4 1/5
            check(&cmul(neg(ONE), twos.clone()), itor(-2), 10, "CMul"); // -1 -1 -1 -1 -1
            check(
                &sub_ps(ones.clone(), twos.clone()),
                itor(-1),
                0,
                "Sub Ones Twos",
            ); // -1 -1 -1
            let m = mul_ps(ones.clone(), ones.clone());
            for (i, t) in a.iter_mut().enumerate() {
                *t = itor(i as i64 + 1);
            }
            checka(&m, &a, "Mul"); // 1 2 3 4 5
            let e = exp(ones.clone());
            let a = [
                itor(1),
                itor(1),
                i2tor(3, 2),
                i2tor(13, 6),
                i2tor(73, 24),
                i2tor(167, 40),
                i2tor(4051, 720),
                i2tor(37633, 5040),
                i2tor(43817, 4480),
                i2tor(4596553, 362880),
            ];
            checka(&e, &a, "Exp"); // 1 1 3/2 13/6 73/24
            let at = integ(ZERO, mon_subst(ones.clone(), neg(ONE), 2));
            let mut a = [ZERO; N];
            let mut c = 1;
            for (i, t) in a.iter_mut().enumerate() {
                if i % 2 == 1 {
                    *t = i2tor(c, i as i64);
                    c *= -1;
                }
            }
            checka(&at, &a, "ATan"); // 0 -1 0 -1/3 0 -1/5
            // Go exits here with goroutines still blocked; end them instead.
            quit_tx.close();
        });
    }
}

/// test/chan/doubleselect.go: two cases of one select must never both run.
mod doubleselect {
    use super::*;
    use gort::{Receiver, Sender};
    use std::collections::HashSet;

    /// sender sends a counter to one of four different channels. If two cases both end up
    /// running in the same iteration, the same value will be sent to two different channels.
    fn sender(n: i64, c1: Sender<i64>, c2: Sender<i64>, c3: Sender<i64>, c4: Sender<i64>) {
        for i in 0..n {
            let res = gort::select! {
                send(c1, i) -> res => res,
                send(c2, i) -> res => res,
                send(c3, i) -> res => res,
                send(c4, i) -> res => res,
            };
            res.unwrap();
        }
        // Go defers close(c1..c4); dropping the last Senders closes them.
    }

    /// mux receives the values from sender and forwards them onto another channel. It would be
    /// simpler to just have sender's four cases all be the same channel, but this doesn't
    /// actually trigger the bug.
    fn mux(out: Sender<i64>, input: Receiver<i64>, done: Sender<bool>) {
        for v in &input {
            out.send(v).unwrap();
        }
        done.send(true).unwrap();
    }

    /// recver gets a stream of values from the four muxes and checks for duplicates.
    fn recver(input: Receiver<i64>) -> usize {
        let mut seen = HashSet::new();
        for v in &input {
            assert!(seen.insert(v), "got duplicate value: {v}");
        }
        seen.len()
    }

    #[test]
    fn doubleselect() {
        let _s = shared();
        let iterations = scaled(100_000, 20_000) as i64;
        go_test(60, move || {
            let (c1, r1) = gort::chan(0);
            let (c2, r2) = gort::chan(0);
            let (c3, r3) = gort::chan(0);
            let (c4, r4) = gort::chan(0);
            let (done_tx, done) = gort::chan(0);
            let (cmux_tx, cmux) = gort::chan(0);
            gort::go(move || sender(iterations, c1, c2, c3, c4));
            for r in [r1, r2, r3, r4] {
                let (out, done_tx) = (cmux_tx.clone(), done_tx.clone());
                gort::go(move || mux(out, r, done_tx));
            }
            gort::go(move || {
                for _ in 0..4 {
                    done.recv().unwrap();
                }
                cmux_tx.close();
            });
            // We keep the recver because it might catch more bugs in the future.
            assert_eq!(recver(cmux), iterations as usize);
        });
    }
}

/// test/chan/fifo.go: unbuffered channels act as pure FIFOs.
mod fifo {
    use super::*;
    use gort::{Receiver, Sender};

    const N: i32 = 10;

    fn asynch_fifo() {
        let (tx, ch) = gort::chan(N as usize);
        for i in 0..N {
            tx.send(i).unwrap();
        }
        for i in 0..N {
            assert_eq!(ch.recv(), Some(i), "bad receive");
        }
    }

    fn chain(ch: Receiver<i32>, val: i32, input: Receiver<i32>, out: Sender<i32>) {
        input.recv();
        assert_eq!(ch.recv(), Some(val));
        out.send(1).unwrap();
    }

    /// thread together a daisy chain to read the elements in sequence
    fn synch_fifo() {
        let (tx, ch) = gort::chan(0);
        let (start, mut input) = gort::chan(0);
        for i in 0..N {
            let (out, next) = gort::chan(0);
            let (ch, prev) = (ch.clone(), std::mem::replace(&mut input, next));
            gort::go(move || chain(ch, i, prev, out));
        }
        start.send(0).unwrap();
        for i in 0..N {
            tx.send(i).unwrap();
        }
        assert_eq!(input.recv(), Some(1));
    }

    #[test]
    fn fifo() {
        let _s = shared();
        go_test(30, || {
            asynch_fifo();
            synch_fifo();
        });
    }
}

/// test/chan/goroutines.go: make a lot of goroutines, threaded together, and tear them down
/// cleanly.
mod goroutines {
    use super::*;

    #[test]
    fn goroutines() {
        let _s = shared();
        go_test(60, || {
            let n = 10_000;
            let (leftmost_tx, leftmost) = gort::chan(0);
            let mut left = leftmost_tx;
            for _ in 0..n {
                let (right_tx, right) = gort::chan::<i32>(0);
                gort::go(move || {
                    // f(left, right): left <- <-right
                    let v = right.recv().unwrap();
                    left.send(v).unwrap();
                });
                left = right_tx;
            }
            gort::go(move || left.send(1).unwrap());
            assert_eq!(leftmost.recv(), Some(1));
        });
    }
}

/// test/chan/nonblock.go: non-blocking channel operations on several sizes and types of
/// operands. Go's non-blocking `select` with `default` is `select!` with `default`.
mod nonblock {
    use super::*;
    use gort::Receiver;
    use std::fmt::Debug;
    use std::time::Instant;

    fn sleep(ticker: &Receiver<Instant>) {
        ticker.recv();
        ticker.recv();
        gort::yield_now();
        gort::yield_now();
        gort::yield_now();
    }

    const MAX_TRIES: usize = 10_000; // Up to 100ms per test.

    /// One block of Go's main for one operand type: `to_receiver` goes to a receiving
    /// goroutine through a non-blocking send, `from_sender` comes from a sending goroutine
    /// through a non-blocking receive.
    fn case<T>(buffer: usize, ticker: &Receiver<Instant>, to_receiver: T, from_sender: T)
    where
        T: Clone + PartialEq + Debug + Send + 'static,
    {
        let (sync_tx, sync) = gort::chan::<bool>(0);
        let (tx, c) = gort::chan::<T>(buffer);

        let blocked = gort::select! {
            recv(c) -> _ => true,
            default => false,
        };
        assert!(!blocked, "blocked sender buffer={buffer}");

        {
            // go receiver(c, sync)
            let (c, sync_tx, want) = (c.clone(), sync_tx.clone(), to_receiver.clone());
            gort::go(move || {
                let ok = c.recv() == Some(want);
                sync_tx.send(ok).unwrap();
            });
        }
        let mut tries = 0;
        loop {
            let sent = gort::select! {
                send(tx, to_receiver.clone()) -> res => res.is_ok(),
                default => false,
            };
            if sent {
                break;
            }
            tries += 1;
            assert!(tries <= MAX_TRIES, "receiver buffer={buffer}");
            sleep(ticker);
        }
        assert_eq!(sync.recv(), Some(true), "receiver value buffer={buffer}");

        {
            // go sender(c, sync)
            let (tx, sync_tx, v) = (tx.clone(), sync_tx.clone(), from_sender.clone());
            gort::go(move || {
                tx.send(v).unwrap();
                sync_tx.send(true).unwrap();
            });
        }
        if buffer > 0 {
            sync.recv();
        }
        let mut tries = 0;
        let got = loop {
            let got = gort::select! {
                recv(c) -> v => Some(v),
                default => None,
            };
            if let Some(v) = got {
                break v;
            }
            tries += 1;
            assert!(tries <= MAX_TRIES, "sender buffer={buffer}");
            sleep(ticker);
        };
        assert_eq!(got, Some(from_sender), "sender value buffer={buffer}");
        if buffer == 0 {
            sync.recv();
        }
    }

    #[test]
    fn nonblock() {
        let _s = shared();
        go_test(60, || {
            let ticker = gort::tick(Duration::from_micros(10)); // 10 us
            for buffer in 0..2 {
                case::<i32>(buffer, &ticker, 123, 234);
                case::<i64>(buffer, &ticker, 123456, 234567);
                case::<bool>(buffer, &ticker, true, true);
                case::<String>(buffer, &ticker, "hello".into(), "hello again".into());
            }
        });
    }
}

/// test/chan/select.go: send values are evaluated on every select, including those of cases
/// that are not chosen and of disabled (nil) channels.
mod select {
    use super::*;
    use gort::Sender;
    use std::cell::Cell;

    struct Counter {
        counter: Cell<u32>,
        shift: Cell<u32>,
    }

    impl Counter {
        fn get_value(&self) -> u32 {
            self.counter.set(self.counter.get() + 1);
            1 << self.shift.get()
        }

        /// Go's Send(a, b); `None` is a nil channel. A nil channel's send case never proceeds,
        /// like a send on an unbuffered channel nobody receives from (`disabled`).
        fn send(&self, a: Option<&Sender<u32>>, b: Option<&Sender<u32>>) -> i32 {
            let (disabled, _keep) = gort::chan::<u32>(0);
            let mut a = a.cloned().unwrap_or_else(|| disabled.clone());
            let mut b = b.cloned().unwrap_or_else(|| disabled.clone());
            let mut i = 0;
            loop {
                let chosen = gort::select! {
                    send(a, self.get_value()) -> res => { res.unwrap(); 'a' },
                    send(b, self.get_value()) -> res => { res.unwrap(); 'b' },
                    default => ' ',
                };
                match chosen {
                    'a' => {
                        i += 1;
                        a = disabled.clone();
                    }
                    'b' => {
                        i += 1;
                        b = disabled.clone();
                    }
                    _ => break,
                }
                self.shift.set(self.shift.get() + 1);
            }
            i
        }
    }

    #[test]
    fn select() {
        let _s = shared();
        go_test(30, || {
            let c = Counter {
                counter: Cell::new(0),
                shift: Cell::new(0),
            };
            let (a, ar) = gort::chan(1);
            let (b, br) = gort::chan(1);
            assert_eq!(c.send(Some(&a), Some(&b)), 2, "Send returned != 2");
            let (av, bv) = (ar.recv().unwrap(), br.recv().unwrap());
            assert_eq!(av | bv, 3, "bad values {av} {bv}");
            assert_eq!(c.send(Some(&a), None), 1, "Send returned != 1");
            assert_eq!(c.counter.get(), 10, "counter is not 10");
        });
    }
}

/// test/chan/select2.go: 100,000 selects must not grow the memory footprint.
mod select2 {
    use super::*;
    use gort::{Receiver, Sender};

    fn sender(c: Sender<i32>, n: usize) {
        for _ in 0..n {
            c.send(1).unwrap();
        }
    }

    fn receiver(c: &Receiver<i32>, dummy: &Receiver<i32>, n: usize) {
        for _ in 0..n {
            gort::select! {
                recv(c) -> v => assert_eq!(v, Some(1)),
                recv(dummy) -> _ => panic!("dummy"),
            }
        }
    }

    #[test]
    fn select2() {
        let _x = exclusive();
        go_test(60, || {
            let (tx, c) = gort::chan(0);
            let (_dummy_tx, dummy) = gort::chan(0);

            // warm up
            let t = tx.clone();
            gort::go(move || sender(t, 100_000));
            receiver(&c, &dummy, 100_000);
            gort::sleep(Duration::from_millis(20));
            let before = LIVE_BYTES.load(Relaxed);

            // second time shouldn't increase footprint by much
            let t = tx.clone();
            gort::go(move || sender(t, 100_000));
            receiver(&c, &dummy, 100_000);
            gort::sleep(Duration::from_millis(20));
            let grown = LIVE_BYTES.load(Relaxed) - before;
            assert!(
                grown < 1 << 20,
                "too much memory for 100,000 selects: {grown} bytes"
            );
        });
    }
}

/// test/chan/select3.go: the semantics of select for basic empty/non-empty cases.
mod select3 {
    use super::*;
    use gort::SendError;

    /// Runs `f` in a goroutine and reports whether it was still blocked after 0.1 s (Go's
    /// testBlock). A blocked `f` must be released by the caller afterwards.
    fn blocks(f: impl FnOnce() + Send + 'static) -> bool {
        let (tx, c) = gort::chan::<()>(1);
        gort::go(move || {
            f();
            let _ = tx.send(());
        });
        gort::select! {
            recv(c) -> _ => false,
            recv(gort::after(Duration::from_millis(100))) -> _ => true, // 0.1s seems plenty long
        }
    }

    #[test]
    fn select3() {
        let _s = shared();
        go_test(30, || {
            let (closed_tx, closedch) = gort::chan::<i32>(0);
            closed_tx.close();
            let short = Duration::from_millis(100);

            // receiving from a nil channel blocks (a nil channel cannot be sent on in gort)
            assert!(gort::never::<i32>().recv_timeout(short).is_err());

            // sending/receiving from a nil channel inside a select is never selected
            let (disabled, _keep) = gort::chan::<i32>(0);
            gort::select! {
                send(disabled, 7) -> _ => unreachable!(),
                default => {}
            }
            gort::select! {
                recv(gort::never::<i32>()) -> _ => unreachable!(),
                default => {}
            }

            // sending to an async channel with free buffer space never blocks
            assert!(!blocks(|| {
                let (tx, _rx) = gort::chan(1);
                tx.send(7).unwrap();
            }));

            // receiving from a closed channel never blocks
            let c = closedch.clone();
            assert!(!blocks(move || {
                for _ in 0..10 {
                    assert_eq!(c.recv(), None, "expected None from closed channel");
                    assert_eq!(c.try_recv(), Err(gort::TryRecvError::Closed));
                }
            }));

            // sending to a closed channel fails, returning the value (Go panics)
            assert!(matches!(closed_tx.send(7), Err(SendError(7))));

            // receiving from a non-ready channel always blocks
            let (hold, ch) = gort::chan::<i32>(0);
            assert!(blocks(move || {
                ch.recv();
            }));
            drop(hold); // release it

            // selects with only nil channels always block
            let (release, wait) = gort::chan::<()>(0);
            assert!(blocks(move || {
                gort::select! {
                    recv(gort::never::<i32>()) -> _ => unreachable!(),
                    recv(wait) -> _ => {}, // the test's release
                }
            }));
            drop(release);

            // selects with non-ready non-nil channels always block
            let (hold, ch) = gort::chan::<i32>(0);
            assert!(blocks(move || {
                gort::select! {
                    recv(ch) -> v => assert_eq!(v, None),
                }
            }));
            drop(hold);

            // selects with default cases don't block
            assert!(!blocks(|| {
                gort::select! {
                    recv(gort::never::<i32>()) -> _ => unreachable!(),
                    default => {}
                }
            }));
            assert!(!blocks(|| {
                let (disabled, _keep) = gort::chan::<i32>(0);
                gort::select! {
                    send(disabled, 7) -> _ => unreachable!(),
                    default => {}
                }
            }));

            // selects with ready channels don't block
            assert!(!blocks(|| {
                let (tx, _rx) = gort::chan(1);
                gort::select! {
                    send(tx, 7) -> res => res.unwrap(),
                    default => unreachable!(),
                }
            }));
            assert!(!blocks(|| {
                let (tx, ch) = gort::chan(1);
                tx.send(7).unwrap();
                gort::select! {
                    recv(ch) -> v => assert_eq!(v, Some(7)),
                    default => unreachable!(),
                }
            }));

            // selects with closed channels behave like ordinary operations
            let c = closedch.clone();
            assert!(!blocks(move || {
                gort::select! {
                    recv(c) -> v => assert_eq!(v, None),
                }
            }));
            let t = closed_tx.clone();
            assert!(!blocks(move || {
                gort::select! {
                    send(t, 7) -> res => assert!(matches!(res, Err(SendError(7)))),
                }
            }));

            // select should not get confused if it sees itself
            let (tx, c) = gort::chan::<i32>(0);
            let closer = tx.clone();
            assert!(blocks(move || {
                gort::select! {
                    send(tx, 1) -> res => assert!(res.is_err()),
                    recv(c) -> v => assert_eq!(v, None),
                }
            }));
            closer.close(); // release it: both cases become ready
        });
    }
}

/// test/chan/select4.go: the destination of a receive case that is not chosen is not
/// evaluated.
mod select4 {
    use super::*;
    use std::sync::atomic::AtomicBool;

    static CALLED: AtomicBool = AtomicBool::new(false);

    fn f(x: &mut i32) -> &mut i32 {
        CALLED.store(true, Relaxed);
        x
    }

    #[test]
    fn select4() {
        let _s = shared();
        go_test(30, || {
            let mut dummy = 0;
            let mut x = 0;
            let (c_tx, c) = gort::chan(1);
            let (_c1_tx, c1) = gort::chan(0);
            c_tx.send(42).unwrap();
            gort::select! {
                recv(c1) -> v => *f(&mut dummy) = v.unwrap(),
                recv(c) -> v => x = v.unwrap(),
            }
            assert_eq!(x, 42);
            assert!(!CALLED.load(Relaxed), "called f");
        });
    }
}

/// test/chan/select5.go: every combination of ready and not-ready send and receive cases,
/// with and without `default` before or after them, and the order in which the channel and
/// value expressions of the cases are evaluated.
///
/// Go generates one function per combination and runs the generated program. Here the same
/// enumeration (choose/maybe/next) drives the combinations at run time: once through
/// `gort::Select`, whose cases are added only when chosen, and once through `select!`, where an
/// absent case is one that can never proceed and `default` sits in one of three static shapes.
mod select5 {
    use super::*;
    use gort::{Receiver, Sender};
    use std::any::Any;
    use std::cell::Cell;
    use std::collections::HashMap;

    /// Go's enumeration of all paths through some logic: on successive runs through the
    /// logic, choose(n) returns 0, 1, ..., n-1; maybe() returns true and then false.
    struct Chooser {
        choices: Vec<(usize, usize)>,
        cp: isize,
        def: bool,
        nreset: usize,
    }

    impl Chooser {
        fn new() -> Chooser {
            Chooser {
                choices: Vec::new(),
                cp: -1,
                def: false,
                nreset: 0,
            }
        }

        fn maybe(&mut self) -> bool {
            self.choose(2) == 0
        }

        fn choose(&mut self, n: usize) -> usize {
            let cp = self.cp as usize;
            if cp >= self.choices.len() {
                // never asked this before: start with 0.
                self.choices.push((0, n));
                self.cp = self.choices.len() as isize;
                return 0;
            }
            // otherwise give recorded answer
            assert_eq!(self.choices[cp].1, n, "inconsistent choices");
            self.cp += 1;
            self.choices[cp].0
        }

        fn next(&mut self) -> bool {
            if self.cp < 0 {
                // start a new round
                self.cp = 0;
                return true;
            }
            // increment last choice sequence
            let mut cp = self.choices.len() as isize - 1;
            while cp >= 0 && self.choices[cp as usize].0 == self.choices[cp as usize].1 - 1 {
                cp -= 1;
            }
            self.cp = cp;
            if cp < 0 {
                self.choices.clear();
                return false;
            }
            let cp = cp as usize;
            self.choices[cp].0 += 1;
            self.choices.truncate(cp + 1);
            self.cp = 0;
            true
        }

        fn maybe_default(&mut self) -> bool {
            if self.def {
                return false;
            }
            self.def = self.maybe();
            self.def
        }

        fn must_default(&self) -> bool {
            !self.def
        }

        fn reset(&mut self) {
            self.def = false;
            self.nreset += 1;
        }
    }

    /// Runs `case` once per combination; returns the number of combinations.
    fn enumerate(env: &mut Env, case: fn(&mut Chooser, &mut Env)) -> usize {
        let mut a = Chooser::new();
        while a.next() {
            case(&mut a, env);
            a.reset();
        }
        a.nreset
    }

    /// The generated program's globals.
    struct Env {
        // channel is buffered so test is single-goroutine. we are not interested in the
        // concurrency aspects of select, just testing that the right calls happen.
        c_tx: Sender<i32>,
        c: Receiver<i32>,
        dummy_tx: Sender<i32>,
        dummy: Receiver<i32>,
        /// Stands in for sends on a nil channel: unbuffered, and nobody receives.
        nil_tx: Sender<i32>,
        _nil_keep: Receiver<i32>,
        nilch: Receiver<i32>,
        n: i32,
        x: i32,
        m: HashMap<i32, i32>,
        order: Cell<i32>,
    }

    impl Env {
        fn new() -> Env {
            let (c_tx, c) = gort::chan(1);
            let (dummy_tx, dummy) = gort::chan(0);
            let (nil_tx, _nil_keep) = gort::chan(0);
            Env {
                c_tx,
                c,
                dummy_tx,
                dummy,
                nil_tx,
                _nil_keep,
                nilch: gort::never(),
                n: 1,
                x: 0,
                m: HashMap::new(),
                order: Cell::new(0),
            }
        }

        /// check order of operations by ensuring that successive calls to checkorder have
        /// increasing o values.
        fn checkorder(&self, o: i32) {
            assert!(
                o > self.order.get(),
                "invalid order {o} after {}",
                self.order.get()
            );
            self.order.set(o);
        }

        fn fc<C: Clone>(&self, c: &C, o: i32) -> C {
            self.checkorder(o);
            c.clone()
        }

        fn fnv(&self, n: i32, o: i32) -> i32 {
            self.checkorder(o);
            n
        }

        fn check(&mut self) {
            assert_eq!(self.x, self.n, "have {} want {}", self.x, self.n);
            self.n += 1;
        }
    }

    fn f(p: &mut i32) -> &mut i32 {
        p
    }

    /// Receive from c one way or another: direct, indirect, :=, interface, and map assignment.
    fn recv_variant(a: &mut Chooser) -> usize {
        if a.maybe() {
            0
        } else if a.maybe() {
            1
        } else if a.maybe() {
            2
        } else if a.maybe() {
            3
        } else {
            4
        }
    }

    fn assign(e: &mut Env, variant: usize, v: i32) {
        match variant {
            0 => e.x = v,
            1 => *f(&mut e.x) = v,
            2 => {
                let y = v;
                e.x = y;
            }
            3 => {
                let i: Box<dyn Any> = Box::new(v);
                e.x = *i.downcast::<i32>().unwrap();
            }
            _ => {
                e.m.insert(13, v);
                e.x = e.m[&13];
            }
        }
    }

    #[derive(Clone, Copy)]
    enum Def {
        None,
        Before,
        After,
    }

    fn def_at(before: bool, after: bool) -> Def {
        match (before, after) {
            (true, _) => Def::Before,
            (false, true) => Def::After,
            (false, false) => Def::None,
        }
    }

    /// The same cases with `default` absent, first or last.
    macro_rules! shaped_select {
        ($def:expr, $default:expr, { $($cases:tt)* }) => {
            match $def {
                Def::None => gort::select! { $($cases)* },
                Def::Before => gort::select! { default => $default, $($cases)* },
                Def::After => gort::select! { $($cases)* default => $default, },
            }
        };
    }

    #[derive(Debug, PartialEq)]
    enum Got {
        Real(Option<i32>),
        Sent(bool),
        Default,
        Other(&'static str),
    }

    // ---- through gort::Select ----

    /// Template "recv": send n, receive it one way or another into x, check that they match.
    fn recv_dynamic(a: &mut Chooser, e: &mut Env) {
        e.c_tx.send(e.n).unwrap();
        if a.maybe() {
            e.x = e.c.recv().unwrap();
        } else {
            let mut sel = gort::Select::new();
            // Blocking or non-blocking, before the receive.
            let mut nonblock = a.maybe_default();
            let real = sel.recv(&e.c);
            let variant = recv_variant(a);
            // Blocking or non-blocking again, after the receive.
            nonblock |= a.maybe_default();
            // Dummy send, receive to keep compiler from optimizing select.
            if a.maybe() {
                sel.send(&e.dummy_tx);
            }
            if a.maybe() {
                sel.recv(&e.dummy);
            }
            // Nil channel send, receive to keep compiler from optimizing select.
            if a.maybe() {
                sel.send(&e.nil_tx);
            }
            if a.maybe() {
                sel.recv(&e.nilch);
            }
            let op = if nonblock {
                sel.try_select().expect("nonblock")
            } else {
                sel.select()
            };
            assert_eq!(op.index(), real, "a dummy or nil case was chosen");
            let v = op.recv(&e.c).unwrap();
            assign(e, variant, v);
        }
        e.check();
    }

    /// Template "send": send n one way or another, receive it into x, check that they match.
    fn send_dynamic(a: &mut Chooser, e: &mut Env) {
        if a.maybe() {
            e.c_tx.send(e.n).unwrap();
        } else {
            let mut sel = gort::Select::new();
            let mut nonblock = a.maybe_default();
            let real = sel.send(&e.c_tx);
            nonblock |= a.maybe_default();
            if a.maybe() {
                sel.send(&e.dummy_tx);
            }
            if a.maybe() {
                sel.recv(&e.dummy);
            }
            if a.maybe() {
                sel.send(&e.nil_tx);
            }
            if a.maybe() {
                sel.recv(&e.nilch);
            }
            let op = if nonblock {
                sel.try_select().expect("nonblock")
            } else {
                sel.select()
            };
            assert_eq!(op.index(), real, "a dummy or nil case was chosen");
            op.send(&e.c_tx, e.n).unwrap();
        }
        e.x = e.c.recv().unwrap();
        e.check();
    }

    /// Template "nonblock": various combinations of non-blocking operations.
    fn nonblock_dynamic(a: &mut Chooser, e: &mut Env) {
        e.x = e.n;
        let mut sel = gort::Select::new();
        let mut nonblock = a.maybe_default();
        if a.maybe() {
            sel.send(&e.dummy_tx);
        }
        if a.maybe() {
            sel.send(&e.nil_tx);
        }
        for _ in 0..3 {
            if a.maybe() {
                sel.recv(&e.dummy);
            }
        }
        for _ in 0..3 {
            if a.maybe() {
                sel.recv(&e.nilch);
            }
        }
        nonblock |= a.must_default();
        assert!(nonblock);
        assert!(
            sel.try_select().is_none(),
            "a case that cannot proceed was chosen"
        );
        e.check();
    }

    // ---- through select! ----

    /// Template "recv" through `select!`.
    fn recv_macro(a: &mut Chooser, e: &mut Env) {
        e.c_tx.send(e.n).unwrap();
        if a.maybe() {
            e.x = e.c.recv().unwrap();
        } else {
            let before = a.maybe_default();
            let variant = recv_variant(a);
            let after = a.maybe_default();
            let dummy_send = if a.maybe() { &e.dummy_tx } else { &e.nil_tx }.clone();
            let dummy_recv = if a.maybe() {
                e.dummy.clone()
            } else {
                gort::never()
            };
            // A nil channel's case can never proceed, present or not.
            let (_, _) = (a.maybe(), a.maybe());
            let got = shaped_select!(def_at(before, after), Got::Default, {
                recv(e.c) -> v => Got::Real(v),
                send(dummy_send, 1) -> _ => Got::Other("dummy send"),
                recv(dummy_recv) -> _ => Got::Other("dummy receive"),
                send(e.nil_tx, 1) -> _ => Got::Other("nilch send"),
                recv(e.nilch) -> _ => Got::Other("nilch recv"),
            });
            let Got::Real(Some(v)) = got else {
                panic!("wrong case: {got:?}")
            };
            assign(e, variant, v);
        }
        e.check();
    }

    /// Template "recvOrder": as "recv", checking the order of operations along the way by
    /// calling functions that check that the argument sequence is strictly increasing.
    fn recv_order_macro(a: &mut Chooser, e: &mut Env) {
        e.order.set(0);
        e.c_tx.send(e.n).unwrap();
        if a.maybe() {
            // Outside of select, left-to-right rule applies (Rust evaluates an assignment's
            // right side first, so the order is spelled out).
            e.checkorder(1);
            let v = e.fc(&e.c, 2).recv().unwrap();
            e.x = v;
        } else if a.maybe() {
            let k = e.fnv(13, 1);
            let v = e.fc(&e.c, 2).recv().unwrap();
            e.m.insert(k, v);
            e.x = e.m[&13];
        } else {
            let before = a.maybe_default();
            // Inside select, assignment waits until case is chosen, so right hand side happens
            // before anything on left hand side.
            let variant = if a.maybe() {
                0
            } else if a.maybe() {
                1
            } else if a.maybe() {
                2
            } else {
                3
            };
            let after = a.maybe_default();
            let (p1, p2, p3, p4) = (a.maybe(), a.maybe(), a.maybe(), a.maybe());
            let env = &*e;
            let got = shaped_select!(def_at(before, after), Got::Default, {
                recv(env.fc(&env.c, 1)) -> v => Got::Real(v),
                send(
                    if p1 { env.fc(&env.dummy_tx, 2) } else { env.nil_tx.clone() },
                    if p1 { env.fnv(1, 3) } else { 1 }
                ) -> _ => Got::Other("dummy send"),
                recv(if p2 { env.fc(&env.dummy, 4) } else { gort::never() }) -> _ => {
                    Got::Other("dummy receive")
                },
                send(
                    if p3 { env.fc(&env.nil_tx, 5) } else { env.nil_tx.clone() },
                    if p3 { env.fnv(1, 6) } else { 1 }
                ) -> _ => Got::Other("nilch send"),
                recv(if p4 { env.fc(&env.nilch, 7) } else { gort::never() }) -> _ => {
                    Got::Other("nilch recv")
                },
            });
            let Got::Real(Some(v)) = got else {
                panic!("wrong case: {got:?}")
            };
            match variant {
                0 => {
                    e.checkorder(100);
                    e.x = v;
                }
                1 => {
                    let y = v;
                    e.x = y;
                }
                2 => {
                    let i: Box<dyn Any> = Box::new(v);
                    e.x = *i.downcast::<i32>().unwrap();
                }
                _ => {
                    let k = e.fnv(13, 100);
                    e.m.insert(k, v);
                    e.x = e.m[&13];
                }
            }
        }
        e.check();
    }

    /// Template "send" through `select!`.
    fn send_macro(a: &mut Chooser, e: &mut Env) {
        if a.maybe() {
            e.c_tx.send(e.n).unwrap();
        } else {
            let before = a.maybe_default();
            let after = a.maybe_default();
            let dummy_send = if a.maybe() { &e.dummy_tx } else { &e.nil_tx }.clone();
            let dummy_recv = if a.maybe() {
                e.dummy.clone()
            } else {
                gort::never()
            };
            // A nil channel's case can never proceed, present or not.
            let (_, _) = (a.maybe(), a.maybe());
            let got = shaped_select!(def_at(before, after), Got::Default, {
                send(e.c_tx, e.n) -> res => Got::Sent(res.is_ok()),
                send(dummy_send, 1) -> _ => Got::Other("dummy send"),
                recv(dummy_recv) -> _ => Got::Other("dummy receive"),
                send(e.nil_tx, 1) -> _ => Got::Other("nilch send"),
                recv(e.nilch) -> _ => Got::Other("nilch recv"),
            });
            assert_eq!(got, Got::Sent(true));
        }
        e.x = e.c.recv().unwrap();
        e.check();
    }

    /// Template "sendOrder".
    fn send_order_macro(a: &mut Chooser, e: &mut Env) {
        e.order.set(0);
        if a.maybe() {
            e.fc(&e.c_tx, 1).send(e.fnv(e.n, 2)).unwrap();
        } else {
            let before = a.maybe_default();
            let after = a.maybe_default();
            let (p1, p2, p3, p4) = (a.maybe(), a.maybe(), a.maybe(), a.maybe());
            let env = &*e;
            let got = shaped_select!(def_at(before, after), Got::Default, {
                send(env.fc(&env.c_tx, 1), env.fnv(env.n, 2)) -> res => Got::Sent(res.is_ok()),
                send(
                    if p1 { env.fc(&env.dummy_tx, 3) } else { env.nil_tx.clone() },
                    if p1 { env.fnv(1, 4) } else { 1 }
                ) -> _ => Got::Other("dummy send"),
                recv(if p2 { env.fc(&env.dummy, 5) } else { gort::never() }) -> _ => {
                    Got::Other("dummy receive")
                },
                send(
                    if p3 { env.fc(&env.nil_tx, 6) } else { env.nil_tx.clone() },
                    if p3 { env.fnv(1, 7) } else { 1 }
                ) -> _ => Got::Other("nilch send"),
                recv(if p4 { env.fc(&env.nilch, 8) } else { gort::never() }) -> _ => {
                    Got::Other("nilch recv")
                },
            });
            assert_eq!(got, Got::Sent(true));
        }
        e.x = e.c.recv().unwrap();
        e.check();
    }

    /// Template "nonblock" through `select!`. Receive cases must not touch x.
    fn nonblock_macro(a: &mut Chooser, e: &mut Env) {
        e.x = e.n;
        let before = a.maybe_default();
        let mut sends = Vec::new();
        for present in [a.maybe(), a.maybe()] {
            sends.push(if present { &e.dummy_tx } else { &e.nil_tx }.clone());
        }
        let mut recvs = Vec::new();
        for _ in 0..3 {
            recvs.push(if a.maybe() {
                e.dummy.clone()
            } else {
                gort::never()
            });
        }
        for _ in 0..3 {
            recvs.push(if a.maybe() {
                e.nilch.clone()
            } else {
                gort::never()
            });
        }
        let after = a.must_default();
        let mut x = e.x;
        let got = shaped_select!(def_at(before, after), Got::Default, {
            send(sends[0], 1) -> _ => Got::Other("dummy <- 1"),
            send(sends[1], 1) -> _ => Got::Other("nilch <- 1"),
            recv(recvs[0]) -> _ => Got::Other("<-dummy"),
            recv(recvs[1]) -> v => { x = v.unwrap_or(-1); Got::Other("<-dummy x") },
            recv(recvs[2]) -> _ => Got::Other("<-dummy (and didn't crash saving result!)"),
            recv(recvs[3]) -> _ => Got::Other("<-nilch"),
            recv(recvs[4]) -> v => { x = v.unwrap_or(-1); Got::Other("<-nilch x") },
            recv(recvs[5]) -> _ => Got::Other("<-nilch (and didn't crash saving result!)"),
        });
        assert_eq!(got, Got::Default);
        e.x = x;
        e.check();
    }

    #[test]
    fn select5_dynamic() {
        let _s = shared();
        go_test(60, || {
            let mut e = Env::new();
            assert_eq!(enumerate(&mut e, recv_dynamic), 241);
            assert_eq!(enumerate(&mut e, send_dynamic), 49);
            assert_eq!(enumerate(&mut e, nonblock_dynamic), 512);
        });
    }

    #[test]
    fn select5_macro() {
        let _s = shared();
        go_test(60, || {
            let mut e = Env::new();
            assert_eq!(enumerate(&mut e, recv_macro), 241);
            assert_eq!(enumerate(&mut e, send_macro), 49);
            assert_eq!(enumerate(&mut e, recv_order_macro), 194);
            assert_eq!(enumerate(&mut e, send_order_macro), 49);
            assert_eq!(enumerate(&mut e, nonblock_macro), 512);
        });
    }
}

/// test/chan/select6.go: issue 2075. A bug in select corrupted channel queues of failed cases
/// if there were multiple waiters on those channels and the select was the last in the queue.
/// If further waits were made on the channel without draining it first then those waiters
/// never woke up. In the code below c1 is such a channel.
mod select6 {
    use super::*;

    #[test]
    fn select6() {
        let _s = shared();
        go_test(30, || {
            let (c1_tx, c1) = gort::chan::<bool>(0);
            let (c2_tx, c2) = gort::chan::<bool>(0);
            let (c3_tx, c3) = gort::chan::<bool>(0);
            let r = c1.clone();
            let a = gort::spawn(move || {
                r.recv();
            });
            let b = gort::spawn(move || {
                gort::select! {
                    recv(c1) -> _ => panic!("dummy"),
                    recv(c2) -> _ => c3_tx.send(true).unwrap(),
                }
                c1.recv();
            });
            gort::go(move || c2_tx.send(true).unwrap());
            c3.recv();
            c1_tx.send(true).unwrap();
            c1_tx.send(true).unwrap();
            a.join().unwrap();
            b.join().unwrap();
        });
    }
}

/// test/chan/select7.go: select when discarding a value.
mod select7 {
    use super::*;
    use gort::Receiver;

    fn recv1(c: Receiver<i32>) {
        c.recv();
    }

    fn recv2(c: Receiver<i32>) {
        gort::select! {
            recv(c) -> _ => {},
        }
    }

    fn recv3(c: Receiver<i32>) {
        let (_keep, c2) = gort::chan::<i32>(0);
        gort::select! {
            recv(c) -> _ => {},
            recv(c2) -> _ => {},
        }
    }

    fn send1(recv: fn(Receiver<i32>)) {
        let (tx, c) = gort::chan(0);
        gort::go(move || recv(c));
        gort::yield_now();
        tx.send(1).unwrap();
    }

    fn send2(recv: fn(Receiver<i32>)) {
        let (tx, c) = gort::chan(0);
        gort::go(move || recv(c));
        gort::yield_now();
        gort::select! {
            send(tx, 1) -> res => res.unwrap(),
        }
    }

    fn send3(recv: fn(Receiver<i32>)) {
        let (tx, c) = gort::chan(0);
        gort::go(move || recv(c));
        gort::yield_now();
        let (tx2, _keep) = gort::chan::<i32>(0);
        gort::select! {
            send(tx, 1) -> res => res.unwrap(),
            send(tx2, 1) -> _ => unreachable!(),
        }
    }

    #[test]
    fn select7() {
        let _s = shared();
        go_test(30, || {
            send1(recv1);
            send2(recv1);
            send3(recv1);
            send1(recv2);
            send2(recv2);
            send3(recv2);
            send1(recv3);
            send2(recv3);
            send3(recv3);
        });
    }
}

/// test/chan/select8.go: break statements in a select (gccgo had a bug in handling this), for
/// 1-, 2- and 3-case selects. In Rust, `break`, `continue` and `return` in a case body act on
/// the enclosing loop or function.
mod select8 {
    use super::*;

    #[allow(clippy::needless_return)] // the point: `return` from inside a case
    fn returns_from_case(ch: &gort::Receiver<i32>) -> i32 {
        gort::select! {
            recv(ch) -> v => return v.unwrap() + 1,
        }
    }

    #[test]
    #[allow(clippy::never_loop)] // the point: `break` from inside a case
    fn select8() {
        let _s = shared();
        go_test(30, || {
            let (tx, ch) = gort::chan(0);
            gort::go(move || while tx.send(5).is_ok() {});

            let mut n = 0;
            loop {
                n += 1;
                gort::select! {
                    recv(ch) -> _ => break,
                }
            }
            loop {
                n += 1;
                gort::select! {
                    default => break,
                }
            }
            loop {
                n += 1;
                gort::select! {
                    recv(ch) -> _ => break,
                    default => break,
                }
            }
            let (other, _keep) = gort::chan::<i32>(0);
            loop {
                n += 1;
                gort::select! {
                    recv(ch) -> _ => break,
                    send(other, 10) -> _ => unreachable!(),
                    default => break,
                }
            }
            let mut skipped = 0;
            for i in 0..4 {
                gort::select! {
                    recv(ch) -> _ => if i % 2 == 0 { skipped += 1; continue },
                }
                n += 1;
            }
            assert_eq!((n, skipped), (6, 2));
            assert_eq!(returns_from_case(&ch), 6);
        });
    }
}

/// test/chan/sendstmt.go: parsing cases that differ now that send is a statement.
mod sendstmt {
    use super::*;
    use gort::Sender;

    fn chanchan() {
        let (cc_tx, cc) = gort::chan::<Sender<i32>>(1);
        let (c_tx, c) = gort::chan(1);
        cc_tx.send(c_tx).unwrap();
        // Go: case <-cc <- 2: the channel operand is itself received from cc.
        gort::select! {
            send(cc.recv().unwrap(), 2) -> res => res.unwrap(),
            default => panic!("nonblock"),
        }
        assert_eq!(c.recv(), Some(2), "bad receive");
    }

    #[allow(clippy::overly_complex_bool_expr)] // the point: precedence of `||` in a send
    fn sendprec() {
        let (tx, c) = gort::chan(1);
        tx.send(std::hint::black_box(false) || true).unwrap(); // same as c <- (false || true)
        assert_eq!(c.recv(), Some(true), "sent false");
    }

    #[test]
    fn sendstmt() {
        let _s = shared();
        go_test(30, || {
            chanchan();
            sendprec();
        });
    }
}

/// test/chan/zerosize.go: channels of a zero-sized type.
mod zerosize {
    use super::*;

    #[test]
    fn zerosize() {
        let _s = shared();
        go_test(30, || {
            let _ = gort::chan::<[u8; 0]>(0);
            let _ = gort::chan::<[u8; 0]>(1);
            let _ = gort::chan::<()>(0);
            let _ = gort::chan::<()>(1);

            // And they work.
            let (tx, rx) = gort::chan::<[u8; 0]>(1);
            tx.send([]).unwrap();
            assert_eq!(rx.recv(), Some([]));
            let (tx, rx) = gort::chan::<()>(0);
            gort::go(move || tx.send(()).unwrap());
            assert_eq!(rx.recv(), Some(()));
            assert_eq!(rx.recv(), None);
        });
    }
}
