//! `select!`: parsing and expansion. The expansion evaluates every send value first, in arm
//! order, and hands the cases to `gort::__private::select`, which follows Go's select.go
//! (selectgo); like Go's compiler, it never makes the user's code `unsafe`.
//!
//! ```text
//! select! {
//!     recv(rx) -> v => expr,            // v: Option<T>
//!     send(tx, value) -> res => expr,   // res: Result<(), SendError<T>>
//!     default => expr,                  // optional, at most once
//! }
//! ```
//! Expansion: every channel expression and send value is evaluated once, in arm order, into a
//! typed slot (`RecvSlot`/`SendSlot`) that owns it; the slots' cases go to the runtime's select;
//! the arm that fired takes its result from its slot. Losing send values drop with their slots.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Expr, Ident, Pat, Token, parenthesized};

enum Kind {
    Recv { chan: Expr },
    Send { chan: Expr, value: Expr },
}

struct Arm {
    kind: Kind,
    pat: Pat,
    body: Expr,
}

pub(crate) struct Select {
    arms: Vec<Arm>,
    default: Option<Expr>,
}

impl Parse for Select {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut arms = Vec::new();
        let mut default: Option<Expr> = None;
        while !input.is_empty() {
            let kw: Ident = input.parse().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    "expected a select arm: `recv(rx) -> v => ...`, `send(tx, value) -> res => ...` or `default => ...`",
                )
            })?;
            let name = kw.to_string();
            if name == "default" {
                if default.is_some() {
                    return Err(syn::Error::new(
                        kw.span(),
                        "`default` may appear only once in select!",
                    ));
                }
                input.parse::<Token![=>]>()?;
                default = Some(parse_body(input)?);
                continue;
            }
            let content;
            parenthesized!(content in input);
            let kind = match name.as_str() {
                "recv" => {
                    let chan: Expr = content.parse()?;
                    if !content.is_empty() {
                        return Err(content.error("recv takes one argument: `recv(rx)`"));
                    }
                    Kind::Recv { chan }
                }
                "send" => {
                    let chan: Expr = content.parse()?;
                    content.parse::<Token![,]>().map_err(|e| {
                        syn::Error::new(e.span(), "send takes two arguments: `send(tx, value)`")
                    })?;
                    let value: Expr = content.parse()?;
                    if !content.is_empty() {
                        return Err(content.error("send takes two arguments: `send(tx, value)`"));
                    }
                    Kind::Send { chan, value }
                }
                _ => {
                    return Err(syn::Error::new(
                        kw.span(),
                        format!(
                            "unknown select arm `{name}`: expected `recv`, `send` or `default`"
                        ),
                    ));
                }
            };
            input.parse::<Token![->]>().map_err(|e| {
                syn::Error::new(
                    e.span(),
                    format!("expected `-> pattern` after `{name}(...)`: every recv/send arm names its result, e.g. `{name}(..) -> v => ...`"),
                )
            })?;
            let pat = Pat::parse_single(input)?;
            input.parse::<Token![=>]>()?;
            let body = parse_body(input)?;
            arms.push(Arm { kind, pat, body });
        }
        Ok(Select { arms, default })
    }
}

/// An arm body: an expression, then `,` (optional after a block-like expression, as in
/// `match`: a block, `if`, `match`, a loop, `unsafe { }`).
fn parse_body(input: ParseStream) -> syn::Result<Expr> {
    let body = Expr::parse_with_earlier_boundary_rule(input)?;
    let is_block = matches!(
        body,
        Expr::Block(_)
            | Expr::If(_)
            | Expr::Match(_)
            | Expr::Loop(_)
            | Expr::While(_)
            | Expr::ForLoop(_)
            | Expr::Unsafe(_)
            | Expr::Const(_)
            | Expr::TryBlock(_)
    );
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    } else if !input.is_empty() && !is_block {
        return Err(input.error("expected `,` after a select arm"));
    }
    Ok(body)
}

impl Select {
    pub(crate) fn expand(self) -> TokenStream {
        if self.arms.is_empty() && self.default.is_none() {
            // Go's `select {}`: nothing can ever proceed.
            return quote! { ::gort::__private::block_forever() };
        }
        let span = Span::mixed_site();
        let mut setup = Vec::new();
        let mut cases = Vec::new();
        let mut branches = Vec::new();
        for (i, arm) in self.arms.into_iter().enumerate() {
            let c = format_ident!("__gort_chan{}", i, span = span);
            let s = format_ident!("__gort_slot{}", i, span = span);
            let (pat, body) = (arm.pat, arm.body);
            match arm.kind {
                Kind::Recv { chan } => {
                    setup.push(quote! {
                        let #c = &(#chan);
                        let mut #s = ::gort::__private::RecvSlot::new();
                    });
                    branches.push(quote! { ::core::option::Option::Some(#i) => match #s.take() { #pat => #body } });
                }
                Kind::Send { chan, value } => {
                    setup.push(quote! {
                        let #c = &(#chan);
                        let mut #s = ::gort::__private::SendSlot::new_for(#c, #value);
                    });
                    branches.push(quote! { ::core::option::Option::Some(#i) => match #s.take() { #pat => #body } });
                }
            }
            cases.push(quote! { #s.case(#c) });
        }
        let has_default = self.default.is_some();
        let fallback = match self.default {
            Some(d) => quote! {
                ::core::option::Option::None => #d,
                _ => ::core::unreachable!("select returned a case it was not given"),
            },
            None => quote! { _ => ::core::unreachable!("a blocking select returns a case") },
        };
        let idx = Ident::new("__gort_fired", span);
        quote! {{
            #(#setup)*
            let #idx = {
                let __gort_cases = [#(#cases),*];
                ::gort::__private::select(&__gort_cases, #has_default)
            };
            #[allow(unreachable_patterns)]
            match #idx {
                #(#branches)*
                #fallback
            }
        }}
    }
}
