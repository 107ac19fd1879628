//! `#[trace_impl]`: tracing the methods of an `impl` block.

use proc_macro2::TokenStream;
use quote::quote;
use syn::ext::IdentExt;
use syn::{ImplItem, ItemImpl, Type, Visibility};

use crate::expand::{FnParts, traced as traced_fn};
use crate::options::{self, Options, Place};

pub(crate) fn traced(mut block: ItemImpl, defaults: &Options) -> syn::Result<TokenStream> {
    let type_name = self_type_name(&block.self_ty);
    let trait_impl = block.trait_.is_some();
    let mut errors: Option<syn::Error> = None;
    for item in block.items.iter_mut() {
        let ImplItem::Fn(method) = item else { continue };
        // A method's own `#[trace(...)]` is taken off and merged with the block's options.
        let mut own: Option<TokenStream> = None;
        let mut kept = Vec::with_capacity(method.attrs.len());
        for attr in std::mem::take(&mut method.attrs) {
            if is_trace_attribute(&attr) {
                own = Some(match &attr.meta {
                    syn::Meta::List(list) => list.tokens.clone(),
                    _ => TokenStream::new(),
                });
            } else {
                kept.push(attr);
            }
        }
        method.attrs = kept;
        let explicit = own.is_some();
        let opts = match own.map(|t| options::parse(t, Place::Method)).transpose() {
            Ok(o) => o.unwrap_or_default(),
            Err(e) => {
                combine(&mut errors, e);
                continue;
            }
        };
        if opts.opt_out.is_some() {
            continue;
        }
        let public = trait_impl || matches!(method.vis, Visibility::Public(_));
        if !(explicit || public || defaults.all.is_some()) {
            continue;
        }
        if method.sig.constness.is_some() && !explicit {
            // A const method cannot be traced; only an explicit request is an error.
            continue;
        }
        let own_err = opts.err.is_some();
        let own_ret = opts.ret.is_some();
        let mut opts = opts.or(defaults);
        let track_caller = crate::expand::has_track_caller(&method.attrs);
        // `err` on the block is a default for the methods that return a `Result`; `err` and
        // `ret` are for the methods whose result reaches the span (not `#[track_caller]`).
        if !own_err && (track_caller || !crate::expand::returns_result(&method.sig.output)) {
            opts.err = None;
        }
        if !own_ret && track_caller {
            opts.ret = None;
        }
        let name = format!("{type_name}::{}", method.sig.ident.unraw());
        let parts = FnParts {
            attrs: std::mem::take(&mut method.attrs),
            vis: method.vis.clone(),
            sig: method.sig.clone(),
            block: method.block.clone(),
        };
        match traced_fn(parts, &opts, &name) {
            Ok(tokens) => match syn::parse2::<syn::ImplItemFn>(tokens) {
                Ok(mut new) => {
                    new.defaultness = method.defaultness;
                    *method = new;
                }
                Err(e) => combine(&mut errors, e),
            },
            Err(e) => combine(&mut errors, e),
        }
    }
    match errors {
        // The block goes out with the errors, its methods' `#[trace(...)]` taken off (they
        // would be reported again as unknown attributes).
        Some(e) => {
            strip_trace_attributes(&mut block);
            let e = e.to_compile_error();
            Ok(quote!(#e #block))
        }
        None => Ok(quote!(#block)),
    }
}

/// `#[trace(...)]`, however its path is written (`trace`, `hivetrace::trace`, ...).
fn is_trace_attribute(attr: &syn::Attribute) -> bool {
    attr.path()
        .segments
        .last()
        .is_some_and(|s| s.ident == "trace")
}

fn strip_trace_attributes(block: &mut ItemImpl) {
    for item in block.items.iter_mut() {
        if let ImplItem::Fn(method) = item {
            method.attrs.retain(|a| !is_trace_attribute(a));
        }
    }
}

fn combine(into: &mut Option<syn::Error>, e: syn::Error) {
    match into {
        Some(existing) => existing.combine(e),
        None => *into = Some(e),
    }
}

/// `Foo` for `Foo`, `Foo<T>`, `path::Foo<'a>`, `&Foo`; the type as written otherwise.
fn self_type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .map(|s| s.ident.unraw().to_string())
            .unwrap_or_default(),
        Type::Reference(r) => self_type_name(&r.elem),
        other => quote!(#other).to_string(),
    }
}
