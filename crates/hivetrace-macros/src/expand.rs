//! Turning a function into a traced one.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Block, FnArg, Ident, Pat, ReturnType, Signature, Type, Visibility};

use crate::options::Options;

/// A generated local: `mixed_site` hygiene, so it can neither capture nor shadow the user's
/// own names (an argument called `__ht_span` stays the user's).
fn local(name: &str) -> Ident {
    Ident::new(name, proc_macro2::Span::mixed_site())
}

/// The parts of a function or method that the expansion needs.
pub(crate) struct FnParts {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) block: Block,
}

/// The traced function, or a compile error pointing at what is wrong.
pub(crate) fn traced(
    parts: FnParts,
    opts: &Options,
    default_name: &str,
) -> syn::Result<TokenStream> {
    let __ht_span = local("__ht_span");
    let __ht_e = local("__ht_e");
    let __ht_limit = local("__ht_limit");
    let __ht_guard = local("__ht_guard");
    let __ht_ret = local("__ht_ret");
    let __ht_fut = local("__ht_fut");
    let FnParts {
        attrs,
        vis,
        sig,
        block,
    } = parts;
    if let Some(constness) = &sig.constness {
        return Err(syn::Error::new(
            constness.span(),
            "`#[trace]` cannot be used on a `const fn`: a span starts and ends at run time",
        ));
    }
    let args = arguments(&sig);
    for skipped in &opts.skip {
        if !args.iter().any(|a| a.ident == *skipped) {
            return Err(syn::Error::new(
                skipped.span(),
                format!("`{skipped}` is not an argument of this function"),
            ));
        }
    }
    // A `#[track_caller]` body runs in place (a closure would hide the caller's location), so
    // its result never reaches the span: an option that needs it would silently do nothing.
    if has_track_caller(&attrs) {
        let needs_result = [(opts.err, "err"), (opts.ret, "ret")];
        if let Some((Some(span), option)) = needs_result.into_iter().find(|(s, _)| s.is_some()) {
            return Err(syn::Error::new(
                span,
                format!(
                    "`{option}` cannot be used with `#[track_caller]`: the body runs in place to keep the caller's location, so its result never reaches the span"
                ),
            ));
        }
    }
    let is_result = returns_result(&sig.output);
    let on_end_applies = !matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)))
        && !has_track_caller(&attrs);
    if let Some(err) = opts.err
        && !is_result
    {
        return Err(syn::Error::new(
            err,
            "`err` records an `Err`, so the function must return a `Result`",
        ));
    }

    let krate = opts.krate();
    let name = opts
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| default_name.to_owned());
    let event_type = match opts.event_type.as_ref().map(Ident::to_string).as_deref() {
        Some("model") => quote!(#krate::EventType::Model),
        Some("chain") => quote!(#krate::EventType::Chain),
        Some("session") => quote!(#krate::EventType::Session),
        _ => quote!(#krate::EventType::Tool),
    };
    let tracer = match &opts.tracer {
        Some(expr) => quote_spanned!(expr.span()=> #krate::__private::tracer_ref(&(#expr))),
        None => quote!(::core::option::Option::None),
    };
    let fields = opts.fields.iter().map(|f| {
        let key = &f.key.name;
        let expr = &f.expr;
        quote_spanned!(expr.span()=> #krate::__private::field(#key, &(#expr)))
    });
    let __ht_resources = local("__ht_resources");
    // Declared after the span, so it writes its attributes before the span ends.
    let resources = opts.metrics_path().map(|metrics| {
        quote! {
            let #__ht_resources = #metrics::resources::ResourceGuard::start(&#__ht_span);
        }
    });
    let start = quote! {
        let #__ht_span = #krate::__private::start(#tracer, #name, #event_type, || [#(#fields),*]);
        #resources
    };
    // A function returning a future measures the future's run, not its construction.
    let move_resources = opts.resources.is_some().then(|| {
        quote! {
            #[allow(clippy::redundant_locals)]
            let #__ht_resources = #__ht_resources;
        }
    });

    let capture_inputs = opts.capture_inputs.unwrap_or(true) && opts.skip_all.is_none();
    let inputs: Vec<TokenStream> = if capture_inputs {
        args.iter()
            .filter(|a| !opts.skip.contains(&a.ident))
            .map(|Argument { ident: arg, cfgs }| {
                // `r#type` is the argument `type`.
                let label = arg.unraw().to_string();
                quote! {
                    #(#cfgs)*
                    let _ = #__ht_e.captured_input(#label, (&&&#krate::__private::Capture(&#arg)).hivetrace_capture(#__ht_limit));
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    let enrich = static_enrichment(opts);
    let on_start = if inputs.is_empty() && enrich.is_empty() {
        quote!()
    } else {
        quote! {
            // One write for every input and static value; skipped unless the span records.
            #__ht_span.enrich(|#__ht_e| {
                #[allow(unused_imports)]
                use #krate::__private::{CaptureDebug as _, CaptureSerialize as _, CaptureSkip as _};
                let #__ht_limit = #__ht_span.capture_limit();
                #(#inputs)*
                #enrich
            });
        }
    };

    let capture_outputs = opts.ret.is_some() || opts.capture_outputs.unwrap_or(true);
    let on_end = if on_end_applies {
        on_end(&krate, capture_outputs, is_result, opts.err.is_some())
    } else {
        quote!()
    };
    let wraps_result = !on_end.is_empty();

    let never = matches!(&sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    // A closure would hide the caller's location from `#[track_caller]`: such functions run
    // their body in place, without output capture.
    let track_caller = has_track_caller(&attrs);
    let future = returned_future(&sig.output);
    let block_span = block.span();
    let stmts = &block.stmts;

    let body = if sig.asyncness.is_some() {
        async_body(&krate, &block, &on_end, nameable_return(&sig.output))
    } else if never || track_caller || !wraps_result && future.is_none() {
        quote! {
            let #__ht_guard = #__ht_span.enter();
            #(#stmts)*
        }
    } else if let Some(future) = future {
        // `fn -> impl Future` or `-> Pin<Box<dyn Future>>` (what `#[async_trait]` makes): the
        // body builds the future inside the span, and the span follows the future until it
        // completes, current only while it is polled.
        let wrapped = quote_spanned! {block_span=>
            async move {
                #move_resources
                #[allow(clippy::let_unit_value)]
                let #__ht_ret = #krate::__private::Instrument::with_context(
                    #__ht_fut,
                    ::core::clone::Clone::clone(#__ht_span.context()),
                ).await;
                #on_end
                #__ht_ret
            }
        };
        let boxed = matches!(future, ReturnedFuture::Boxed);
        let wrapped = match future {
            ReturnedFuture::Opaque => wrapped,
            ReturnedFuture::Boxed => quote_spanned!(block_span=> ::std::boxed::Box::pin(#wrapped)),
        };
        let stmts = typed_tail_async_block(&block, &sig.output);
        // A boxed future is nameable: with the declared type on the closure, futures returned
        // from several places (each `Box::pin(async ..)` its own type) coerce to it as they
        // would untraced.
        let closure = match nameable_return(&sig.output).filter(|_| boxed) {
            Some(ret) => {
                quote_spanned!(block_span=> move || -> #ret { #(#stmts)* })
            }
            _ => quote_spanned!(block_span=> move || { #(#stmts)* }),
        };
        quote_spanned! {block_span=>
            let #__ht_fut = {
                let #__ht_guard = #__ht_span.enter();
                #krate::__private::call_once(#closure)
            };
            #wrapped
        }
    } else {
        // A closure, so that `return` and `?` still hand their value to the capture. With the
        // declared return type on it, a type error in the body reads as it would untraced;
        // `call_once` lets the body return borrows it moved in (`&mut`).
        let closure = match nameable_return(&sig.output) {
            Some(ret) => quote_spanned!(block_span=> move || -> #ret { #(#stmts)* }),
            None => quote_spanned!(block_span=> move || { #(#stmts)* }),
        };
        quote_spanned! {block_span=>
            let #__ht_guard = #__ht_span.enter();
            #[allow(clippy::let_unit_value)]
            let #__ht_ret = #krate::__private::call_once(#closure);
            ::core::mem::drop(#__ht_guard);
            #on_end
            #__ht_ret
        }
    };

    Ok(quote! {
        #(#attrs)*
        #vis #sig {
            #start
            #on_start
            #body
        }
    })
}

/// Whether the function is `#[track_caller]`.
pub(crate) fn has_track_caller(attrs: &[Attribute]) -> bool {
    attrs.iter().any(|a| a.path().is_ident("track_caller"))
}

/// `metadata(...)` and `config(...)`: written when the span starts, if it records.
fn static_enrichment(opts: &Options) -> TokenStream {
    let __ht_e = local("__ht_e");
    if opts.metadata.is_empty() && opts.config.is_empty() {
        return quote!();
    }
    let krate = opts.krate();
    // A literal is written as it is (a string literal stays a `&'static str`, unallocated);
    // anything else through `Meta`, which also takes strings borrowed for the call.
    let value = |expr: &syn::Expr| match expr {
        syn::Expr::Lit(_) => quote_spanned!(expr.span()=> #expr),
        _ => {
            quote_spanned!(expr.span()=> (&&#krate::__private::Meta(&(#expr))).hivetrace_enrich_value())
        }
    };
    let metadata = opts.metadata.iter().map(|kv| {
        let key = &kv.key.name;
        let value = value(&kv.expr);
        quote_spanned!(kv.expr.span()=> let _ = #__ht_e.metadata(#key, #value);)
    });
    let config = opts.config.iter().map(|kv| {
        let key = &kv.key.name;
        let value = value(&kv.expr);
        quote_spanned!(kv.expr.span()=> let _ = #__ht_e.config(#key, #value);)
    });
    quote! {
        #[allow(unused_imports)]
        use #krate::__private::{MetaClone as _, MetaStr as _};
        #(#metadata)*
        #(#config)*
    }
}

/// What happens with the return value: capture it, record an `Err`.
fn on_end(krate: &TokenStream, capture_outputs: bool, is_result: bool, err: bool) -> TokenStream {
    let __ht_span = local("__ht_span");
    let __ht_ret = local("__ht_ret");
    let __ht_v = local("__ht_v");
    let __ht_e = local("__ht_e");
    let capture = |value: TokenStream| {
        quote! {
            {
                #[allow(unused_imports)]
                use #krate::__private::{CaptureDebug as _, CaptureSerialize as _, CaptureSkip as _};
                #__ht_span.record_output((&&&#krate::__private::Capture(#value)).hivetrace_capture(#__ht_span.capture_limit()));
            }
        }
    };
    let record_err = quote! {
        {
            #[allow(unused_imports)]
            use #krate::__private::{RecordDebugError as _, RecordDerefError as _, RecordDisplayError as _, RecordStdError as _};
            (&&&&#krate::__private::ErrRef(#__ht_e)).hivetrace_record(&#__ht_span);
        }
    };
    match (capture_outputs, is_result, err) {
        (false, _, false) => quote!(),
        // `err` without a `Result` was rejected earlier.
        (_, false, _) => {
            let c = capture(quote!(&#__ht_ret));
            quote! { if #__ht_span.is_recording() { #c } }
        }
        (capture_ok, true, err) => {
            let ok = if capture_ok {
                capture(quote!(#__ht_v))
            } else {
                quote!({})
            };
            let on_err = if err { record_err } else { quote!({}) };
            quote! {
                if #__ht_span.is_recording() {
                    #[allow(unused_variables)]
                    match &#__ht_ret {
                        ::core::result::Result::Ok(#__ht_v) => #ok,
                        ::core::result::Result::Err(#__ht_e) => #on_err,
                    }
                }
            }
        }
    }
}

/// The body of an `async fn`: the original body as an async block, current only while polled.
fn async_body(
    krate: &TokenStream,
    block: &Block,
    on_end: &TokenStream,
    ret: Option<TokenStream>,
) -> TokenStream {
    let __ht_ret = local("__ht_ret");
    let __ht_span = local("__ht_span");
    let block_span = block.span();
    let stmts = &block.stmts;
    let typed = ret.map(|ret| typed_return(block_span, &ret));
    let inner = quote_spanned!(block_span=> async move { #typed #(#stmts)* });
    quote_spanned! {block_span=>
        #[allow(clippy::let_unit_value)]
        let #__ht_ret = #krate::__private::Instrument::with_context(
            #inner,
            ::core::clone::Clone::clone(#__ht_span.context()),
        ).await;
        #on_end
        #__ht_ret
    }
}

/// The body's statements; when the tail is an `async` block and the future's `Output` can be
/// named, that block gets the typed unreachable `return`, so a wrong value inside it is reported
/// there rather than at the signature.
fn typed_tail_async_block(block: &Block, output: &ReturnType) -> Vec<syn::Stmt> {
    let mut stmts = block.stmts.clone();
    let out = match output {
        ReturnType::Type(_, ty) => future_output(ty).or_else(|| boxed_future_output(ty)),
        ReturnType::Default => None,
    };
    let Some(out) = out.filter(|t| !quote!(#t).to_string().contains("impl")) else {
        return stmts;
    };
    let tail = stmts.last_mut().and_then(|stmt| match stmt {
        syn::Stmt::Expr(syn::Expr::Async(a), None) => Some(a),
        _ => None,
    });
    if let Some(async_block) = tail {
        let typed = typed_return(async_block.block.span(), &out);
        let typed: syn::Stmt = syn::parse_quote!(#typed);
        async_block.block.stmts.insert(0, typed);
    }
    stmts
}

/// An unreachable `return` of a value of type `ty`, placed first in a block located at `span`.
/// It gives the block its declared return type, as `tracing` does: `return` and the tail
/// expression coerce to it, and type errors are reported where they are, as in the untraced
/// function.
fn typed_return(span: proc_macro2::Span, ty: &impl quote::ToTokens) -> TokenStream {
    // Hygienic, but located at the body, where rustc's notes about the return type point.
    let typed = Ident::new(
        "__ht_typed",
        proc_macro2::Span::mixed_site().located_at(span),
    );
    quote_spanned! {span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::let_unit_value,
            clippy::unreachable,
            clippy::empty_loop,
            clippy::needless_return
        )]
        if false {
            let #typed: #ty = loop {};
            return #typed;
        }
    }
}

/// How a function returns a future that the span should follow.
enum ReturnedFuture {
    /// `impl Future<Output = T>`.
    Opaque,
    /// `Pin<Box<dyn Future<Output = T> ..>>`.
    Boxed,
}

fn returned_future(output: &ReturnType) -> Option<ReturnedFuture> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    if future_output(ty).is_some() {
        return Some(ReturnedFuture::Opaque);
    }
    boxed_future_output(ty).map(|_| ReturnedFuture::Boxed)
}

/// `T` in `Pin<Box<dyn Future<Output = T> + ..>>`.
fn boxed_future_output(ty: &Type) -> Option<&Type> {
    let inner = single_generic(ty, "Pin")?;
    let inner = single_generic(inner, "Box")?;
    let Type::TraitObject(object) = inner else {
        return None;
    };
    object.bounds.iter().find_map(future_bound_output)
}

/// `T` in a path type `Name<T>` whose last segment is `name`.
fn single_generic<'a>(ty: &'a Type, name: &str) -> Option<&'a Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != name {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

/// An argument that can be captured.
struct Argument {
    ident: Ident,
    /// Its `#[cfg(...)]` attributes: the capture is compiled only where the argument is.
    cfgs: Vec<Attribute>,
}

/// The arguments that can be captured: plain identifiers, not `self`, not `_`.
fn arguments(sig: &Signature) -> Vec<Argument> {
    sig.inputs
        .iter()
        .filter_map(|arg| match arg {
            FnArg::Typed(pat) => match &*pat.pat {
                Pat::Ident(p) if p.subpat.is_none() => Some(Argument {
                    ident: p.ident.clone(),
                    cfgs: pat
                        .attrs
                        .iter()
                        .filter(|a| a.path().is_ident("cfg"))
                        .cloned()
                        .collect(),
                }),
                _ => None,
            },
            FnArg::Receiver(_) => None,
        })
        .collect()
}

/// Whether the return type is written as a `Result` (any path ending in `Result`), directly or
/// as the `Output` of an `impl Future` or a `Pin<Box<dyn Future>>` (what `#[async_trait]` makes
/// of an `async fn`).
pub(crate) fn returns_result(output: &ReturnType) -> bool {
    match output {
        ReturnType::Type(_, ty) => {
            is_result_type(ty)
                || future_output(ty)
                    .or_else(|| boxed_future_output(ty))
                    .is_some_and(is_result_type)
        }
        ReturnType::Default => false,
    }
}

fn is_result_type(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        Type::Group(g) => is_result_type(&g.elem),
        Type::Paren(p) => is_result_type(&p.elem),
        _ => false,
    }
}

/// `T` in `impl Future<Output = T>`.
fn future_output(ty: &Type) -> Option<&Type> {
    let Type::ImplTrait(bounds) = ty else {
        return None;
    };
    bounds.bounds.iter().find_map(future_bound_output)
}

/// `T` in a `Future<Output = T>` bound.
fn future_bound_output(bound: &syn::TypeParamBound) -> Option<&Type> {
    let syn::TypeParamBound::Trait(t) = bound else {
        return None;
    };
    let last = t.path.segments.last()?;
    if last.ident != "Future" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::AssocType(a) if a.ident == "Output" => Some(&a.ty),
        _ => None,
    })
}

/// The declared return type, when it can annotate a closure or a `let` (no `impl Trait`).
fn nameable_return(output: &ReturnType) -> Option<TokenStream> {
    match output {
        ReturnType::Default => Some(quote!(())),
        ReturnType::Type(_, ty) => {
            let tokens = quote!(#ty);
            let has_impl = tokens
                .clone()
                .into_iter()
                .any(|t| matches!(&t, proc_macro2::TokenTree::Ident(i) if i == "impl"));
            (!has_impl).then_some(tokens)
        }
    }
}
