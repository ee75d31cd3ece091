//! test/chan/powser1.go: power series as demand-driven channels of rationals (Doug McIlroy's
//! "Squinting at Power Series"). A denominator of zero marks the end of a series.
//!
//! A Go `*dch` is shared by its reader and its writer; here each end is its own type (`Ps` for
//! the reader, `PsOut` for the writer) so a dropped reader is seen by the writer. The network
//! of goroutines contains cycles (Exp feeds its own output back), which dropping alone cannot
//! unwind, so every channel operation also watches a `quit` channel that the test closes at the
//! end: the goroutines Go leaves blocked at exit end here.

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
