//! Procedural macros for gort: `#[gort::main]`, `#[gort::test]` and `select!`.
//!
//! Both turn the annotated function's body into the first goroutine, run by
//! `gort::__private::main` (so `()`, `ExitCode` and `Result<(), E>` returns work exactly as std's
//! `Termination` does); `test` wraps that in a `#[test]` (a panic fails the test).

mod select;

use proc_macro::TokenStream;
use quote::quote;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ItemFn, Lit, Meta, Token};

/// Waits on several channel operations (Go's `select`): `recv(rx) -> v => expr`,
/// `send(tx, value) -> res => expr`, `default => expr`. The full grammar, with examples, is in
/// the gort crate's documentation, section "`select!`".
#[proc_macro]
pub fn select(input: TokenStream) -> TokenStream {
    match syn::parse::<select::Select>(input) {
        Ok(s) => s.expand().into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Runs `fn main` as the first goroutine. `#[gort::main(procs = 4)]` sets the number of
/// processors (GOMAXPROCS) before the body runs: it wins over the `GOMAXPROCS` environment
/// variable, as a call of `runtime.GOMAXPROCS(4)` at the top of a Go `main` would.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, Kind::Main)
}

/// Like `#[test]`, with the body running as a goroutine.
///
/// - `#[gort::test(procs = N)]` runs the test with N processors. Tests that set `procs` run one
///   at a time, never beside another `#[gort::test]` of the same binary, and the previous
///   number of processors is restored afterwards; tests without `procs` may run in parallel
///   with each other (with the processors the runtime has).
/// - `#[gort::test(timeout = S)]` fails the test if it has not finished after S seconds,
///   printing a goroutine dump (every goroutine with its backtrace) to stderr first. Without
///   it, the limit is 10 minutes, `go test`'s default: a test that deadlocks fails with the
///   dump instead of hanging the run (the deadlock detector cannot tell a test binary's
///   deadlock, because libtest's own threads could still wake it).
///
/// A panic in the body is reported as libtest reports a `#[test]`'s: in that test's section of
/// the failure list, and not at all when `should_panic` expects it. Output printed by the
/// goroutines themselves is captured per OS thread, as libtest captures a thread's: the
/// runtime's threads are shared by the tests of a binary, so it may show under another test,
/// or not at all (run with `--nocapture` to see it all as it happens).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(args, item, Kind::Test)
}

/// A `#[gort::test]`'s time limit when it sets none: `go test`'s default of 10 minutes.
const DEFAULT_TEST_TIMEOUT_SECS: u64 = 600;

#[derive(PartialEq)]
enum Kind {
    Main,
    Test,
}

fn expand(args: TokenStream, item: TokenStream, kind: Kind) -> TokenStream {
    match try_expand(args, item.clone(), kind) {
        Ok(ts) => ts,
        Err(e) => {
            // Keep the function as written, so the only error is ours.
            let mut out: TokenStream = e.to_compile_error().into();
            out.extend(item);
            out
        }
    }
}

/// An argument's value: a positive integer literal (`not_int` and `zero` are the errors).
fn positive_int<T>(value: &Expr, not_int: &str, zero: &str) -> syn::Result<T>
where
    T: std::str::FromStr + PartialEq + From<u8>,
    T::Err: std::fmt::Display,
{
    let Expr::Lit(syn::ExprLit {
        lit: Lit::Int(i), ..
    }) = value
    else {
        return Err(syn::Error::new_spanned(value, not_int));
    };
    let n = i.base10_parse::<T>()?;
    if n == T::from(0) {
        return Err(syn::Error::new_spanned(value, zero));
    }
    Ok(n)
}

fn try_expand(args: TokenStream, item: TokenStream, kind: Kind) -> syn::Result<TokenStream> {
    let func: ItemFn = syn::parse(item)?;
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse(args)?;
    let mut procs: usize = 0;
    let mut timeout: u64 = DEFAULT_TEST_TIMEOUT_SECS;
    for meta in metas {
        match &meta {
            Meta::NameValue(nv) if nv.path.is_ident("procs") => {
                procs = positive_int(
                    &nv.value,
                    "procs must be an integer literal, e.g. procs = 4",
                    "procs must be at least 1",
                )?;
            }
            Meta::NameValue(nv) if nv.path.is_ident("timeout") && kind == Kind::Test => {
                timeout = positive_int(
                    &nv.value,
                    "timeout must be an integer literal (seconds), e.g. timeout = 30",
                    "timeout must be at least 1 second",
                )?;
            }
            other => {
                return Err(syn::Error::new_spanned(
                    other,
                    if kind == Kind::Test {
                        "unknown argument; the arguments are `procs = N` and `timeout = SECONDS`"
                    } else {
                        "unknown argument; the only argument is `procs = N`"
                    },
                ));
            }
        }
    }
    let sig = &func.sig;
    if sig.asyncness.is_some() {
        return Err(syn::Error::new_spanned(
            sig.asyncness,
            "gort functions are not async: remove `async` (goroutines block instead of awaiting)",
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new_spanned(
            &sig.inputs,
            "this function must take no arguments",
        ));
    }
    let attrs = &func.attrs;
    let vis = &func.vis;
    let name = &sig.ident;
    let ret = &sig.output;
    let body = &func.block;
    // The body as a nested function, which can return any type the function can (a closure's
    // return type cannot be `impl Trait`): the body of a function without arguments captures
    // nothing.
    let def_body = quote! { fn __gort_body() #ret #body };
    let out = if kind == Kind::Main {
        quote! {
            #(#attrs)*
            #vis fn #name() #ret {
                #def_body
                // SAFETY: the body of a `fn` without arguments captures nothing.
                unsafe { ::gort::__private::main(#procs, __gort_body) }
            }
        }
    } else {
        // Like `main`'s runner, so a `!Send` result such as `Box<dyn Error>` works too.
        quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            #vis fn #name() #ret {
                #def_body
                // SAFETY: the body of a `fn` without arguments captures nothing.
                unsafe { ::gort::__private::test(#procs, #timeout, __gort_body) }
            }
        }
    };
    Ok(out.into())
}
