//! test/chan/select5.go: every combination of ready and not-ready send and receive cases,
//! with and without `default` before or after them, and the order in which the channel and
//! value expressions of the cases are evaluated.
//!
//! Go generates one function per combination and runs the generated program. Here the same
//! enumeration (choose/maybe/next) drives the combinations at run time: once through
//! `gort::Select`, whose cases are added only when chosen, and once through `select!`, where an
//! absent case is one that can never proceed and `default` sits in one of three static shapes.

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
        add_decoys(a, e, &mut sel);
        let op = select_or_try(&mut sel, nonblock);
        assert_eq!(op.index(), real, "a dummy or nil case was chosen");
        let v = op.recv(&e.c).unwrap();
        assign(e, variant, v);
    }
    e.check();
}

/// Dummy send and receive (to keep the compiler from optimizing the select, in Go's words) and
/// nil-channel send and receive cases, each maybe: none of them can proceed.
fn add_decoys<'a>(a: &mut Chooser, e: &'a Env, sel: &mut gort::Select<'a>) {
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
}

/// Runs the select, blocking or not (a non-blocking one must find its real case ready).
fn select_or_try<'a>(sel: &mut gort::Select<'a>, nonblock: bool) -> gort::SelectedOperation<'a> {
    if nonblock {
        sel.try_select().expect("nonblock")
    } else {
        sel.select()
    }
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
        add_decoys(a, e, &mut sel);
        let op = select_or_try(&mut sel, nonblock);
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
