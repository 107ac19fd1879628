//! Parsing `#[trace(...)]` and `#[trace_impl(...)]` options.
//!
//! Every option is named once; an unknown or repeated option, or a malformed value, is an error
//! pointing at it.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitBool, LitStr, Path, Token, parenthesized};

/// The event types the `event_type` option accepts.
pub(crate) const EVENT_TYPES: [&str; 4] = ["model", "tool", "chain", "session"];

/// A key in `fields(...)`, `metadata(...)` or `config(...)`: `a.b.c` or `"a.b"`.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) name: String,
}

impl Parse for Key {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let lit: LitStr = input.parse()?;
            return Ok(Key { name: lit.value() });
        }
        // `r#type` is the key `type`.
        let first = input.call(Ident::parse_any_ident)?;
        let mut name = syn::ext::IdentExt::unraw(&first).to_string();
        while input.peek(Token![.]) {
            input.parse::<Token![.]>()?;
            let next = input.call(Ident::parse_any_ident)?;
            name.push('.');
            name.push_str(&syn::ext::IdentExt::unraw(&next).to_string());
        }
        Ok(Key { name })
    }
}

trait ParseAnyIdent {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident>;
}

impl ParseAnyIdent for Ident {
    fn parse_any_ident(input: ParseStream<'_>) -> syn::Result<Ident> {
        use syn::ext::IdentExt;
        Ident::parse_any(input)
    }
}

/// `key = expr`.
#[derive(Clone)]
pub(crate) struct KeyExpr {
    pub(crate) key: Key,
    pub(crate) expr: Expr,
}

impl Parse for KeyExpr {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Key = input.parse()?;
        input.parse::<Token![=]>()?;
        let expr: Expr = input.parse()?;
        Ok(KeyExpr { key, expr })
    }
}

/// Options of one `#[trace]` (or the defaults of a `#[trace_impl]`).
#[derive(Default)]
pub(crate) struct Options {
    pub(crate) name: Option<LitStr>,
    pub(crate) event_type: Option<Ident>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) skip_kw: Option<Span>,
    pub(crate) skip_all: Option<Span>,
    pub(crate) capture_inputs: Option<bool>,
    pub(crate) capture_outputs: Option<bool>,
    pub(crate) fields: Vec<KeyExpr>,
    pub(crate) metadata: Vec<KeyExpr>,
    pub(crate) config: Vec<KeyExpr>,
    pub(crate) err: Option<Span>,
    pub(crate) ret: Option<Span>,
    pub(crate) tracer: Option<Expr>,
    pub(crate) krate: Option<Path>,
    /// `resources` or `resources = path::to::hivetrace_metrics`: CPU time and RSS on the span.
    pub(crate) resources: Option<Option<Path>>,
    /// `#[trace(skip)]` on a method in `#[trace_impl]`: do not trace it.
    pub(crate) opt_out: Option<Span>,
    /// `#[trace_impl(all)]`: trace private methods too.
    pub(crate) all: Option<Span>,
    seen: Vec<String>,
}

impl Options {
    fn once(&mut self, ident: &Ident) -> syn::Result<()> {
        let name = ident.to_string();
        if self.seen.contains(&name) {
            return Err(syn::Error::new(
                ident.span(),
                format!("`{name}` is given twice"),
            ));
        }
        self.seen.push(name);
        Ok(())
    }

    /// The crate path the generated code names.
    pub(crate) fn krate(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote::quote!(::hivetrace_core),
        }
    }

    /// Where `hivetrace_metrics`' items are, for `resources`: the path given to `resources = ...`,
    /// else `::hivetrace_metrics` when the generated code names `::hivetrace_core`, else
    /// `<crate>::metrics` (the facade's module, feature `metrics`).
    pub(crate) fn metrics_path(&self) -> Option<TokenStream> {
        let explicit = self.resources.as_ref()?;
        Some(match (explicit, &self.krate) {
            (Some(path), _) => path.to_token_stream(),
            (None, Some(krate))
                if krate
                    .segments
                    .last()
                    .is_none_or(|s| s.ident != "hivetrace_core") =>
            {
                quote::quote!(#krate::metrics)
            }
            (None, _) => quote::quote!(::hivetrace_metrics),
        })
    }

    /// `self`'s options, with `defaults` filling what `self` leaves unset (for methods of a
    /// `#[trace_impl]` block).
    pub(crate) fn or(mut self, defaults: &Options) -> Options {
        if self.event_type.is_none() {
            self.event_type = defaults.event_type.clone();
        }
        if self.skip_all.is_none() && self.skip.is_empty() {
            self.skip_all = defaults.skip_all;
        }
        if self.capture_inputs.is_none() {
            self.capture_inputs = defaults.capture_inputs;
        }
        if self.capture_outputs.is_none() {
            self.capture_outputs = defaults.capture_outputs;
        }
        if self.err.is_none() {
            self.err = defaults.err;
        }
        if self.ret.is_none() {
            self.ret = defaults.ret;
        }
        if self.tracer.is_none() {
            self.tracer = defaults.tracer.clone();
        }
        if self.krate.is_none() {
            self.krate = defaults.krate.clone();
        }
        if self.resources.is_none() {
            self.resources = defaults.resources.clone();
        }
        if self.metadata.is_empty() {
            self.metadata = defaults.metadata.clone();
        }
        if self.config.is_empty() {
            self.config = defaults.config.clone();
        }
        self
    }
}

/// Where the options appear: they differ a little.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// `#[trace(...)]` on a function.
    Function,
    /// `#[trace(...)]` on a method inside `#[trace_impl]`.
    Method,
    /// `#[trace_impl(...)]`.
    Impl,
}

pub(crate) fn parse(tokens: TokenStream, place: Place) -> syn::Result<Options> {
    let parser = |input: ParseStream<'_>| parse_options(input, place);
    syn::parse::Parser::parse2(parser, tokens)
}

/// An error at a flag option that was given a value (`err = true`, `ret(x)`).
fn no_value(input: ParseStream<'_>, option: &Ident) -> syn::Result<()> {
    if input.peek(Token![=]) || input.peek(syn::token::Paren) {
        return Err(syn::Error::new(
            option.span(),
            format!("`{option}` takes no value: write just `{option}`"),
        ));
    }
    Ok(())
}

/// The `=` after an option that takes a value, or an error at the option's name.
fn equals(input: ParseStream<'_>, option: &Ident, example: &str) -> syn::Result<()> {
    if input.peek(Token![=]) {
        input.parse::<Token![=]>()?;
        Ok(())
    } else {
        Err(syn::Error::new(
            option.span(),
            format!("`{option}` takes a value, as in `{example}`"),
        ))
    }
}

fn parse_options(input: ParseStream<'_>, place: Place) -> syn::Result<Options> {
    let mut o = Options::default();
    while !input.is_empty() {
        // `crate` is a keyword, so options are read as any identifier.
        let ident = input.call(Ident::parse_any_ident)?;
        let name = ident.to_string();
        let span = ident.span();
        let only_on = |allowed: &[Place], what: &str| -> syn::Result<()> {
            if allowed.contains(&place) {
                Ok(())
            } else {
                Err(syn::Error::new(
                    span,
                    format!("`{name}` is not allowed here: {what}"),
                ))
            }
        };
        o.once(&ident)?;
        match name.as_str() {
            "name" => {
                only_on(
                    &[Place::Function, Place::Method],
                    "each method is named after itself",
                )?;
                equals(input, &ident, "name = \"answer_question\"")?;
                o.name = Some(input.parse()?);
            }
            "event_type" => {
                equals(input, &ident, "event_type = model")?;
                let value = input.call(Ident::parse_any_ident)?;
                if !EVENT_TYPES.contains(&value.to_string().as_str()) {
                    return Err(syn::Error::new(
                        value.span(),
                        format!(
                            "unknown event type `{value}`: expected one of {}",
                            EVENT_TYPES.join(", ")
                        ),
                    ));
                }
                o.event_type = Some(value);
            }
            "skip" => {
                if input.peek(syn::token::Paren) {
                    only_on(
                        &[Place::Function, Place::Method],
                        "skip arguments per method",
                    )?;
                    let content;
                    parenthesized!(content in input);
                    let names: Punctuated<Ident, Token![,]> =
                        content.parse_terminated(Ident::parse_any_ident, Token![,])?;
                    o.skip = names.into_iter().collect();
                    o.skip_kw = Some(span);
                } else if place == Place::Method {
                    o.opt_out = Some(span);
                } else {
                    return Err(syn::Error::new(
                        span,
                        "`skip` takes a list of arguments, as in `skip(a, b)`; to leave a method of a `#[trace_impl]` block untraced, put `#[trace(skip)]` on it",
                    ));
                }
            }
            "skip_all" => {
                no_value(input, &ident)?;
                o.skip_all = Some(span);
            }
            "capture" => {
                let content;
                parenthesized!(content in input);
                let items: Punctuated<CaptureItem, Token![,]> =
                    content.parse_terminated(CaptureItem::parse, Token![,])?;
                let mut seen_capture: Vec<String> = Vec::new();
                for item in items {
                    let which = item.which.to_string();
                    if seen_capture.contains(&which) {
                        return Err(syn::Error::new(
                            item.which.span(),
                            format!("`{which}` is given twice"),
                        ));
                    }
                    seen_capture.push(which);
                    match item.which.to_string().as_str() {
                        "inputs" => o.capture_inputs = Some(item.on),
                        "outputs" => o.capture_outputs = Some(item.on),
                        other => {
                            return Err(syn::Error::new(
                                item.which.span(),
                                format!(
                                    "unknown capture setting `{other}`: expected `inputs` or `outputs`"
                                ),
                            ));
                        }
                    }
                }
            }
            "fields" | "metadata" | "config" => {
                if name == "fields" {
                    only_on(
                        &[Place::Function, Place::Method],
                        "fields name a method's own arguments",
                    )?;
                }
                let content;
                parenthesized!(content in input);
                let items: Punctuated<KeyExpr, Token![,]> =
                    content.parse_terminated(KeyExpr::parse, Token![,])?;
                let items: Vec<KeyExpr> = items.into_iter().collect();
                for (i, item) in items.iter().enumerate() {
                    if items[..i]
                        .iter()
                        .any(|earlier| earlier.key.name == item.key.name)
                    {
                        return Err(syn::Error::new(
                            item.expr.span(),
                            format!("`{}` is given twice in `{name}(...)`", item.key.name),
                        ));
                    }
                }
                match name.as_str() {
                    "fields" => o.fields = items,
                    "metadata" => o.metadata = items,
                    _ => o.config = items,
                }
            }
            "err" => {
                no_value(input, &ident)?;
                o.err = Some(span);
            }
            "ret" => {
                no_value(input, &ident)?;
                o.ret = Some(span);
            }
            "tracer" => {
                equals(input, &ident, "tracer = &my_tracer")?;
                o.tracer = Some(input.parse()?);
            }
            "crate" => {
                equals(input, &ident, "crate = hivetrace")?;
                o.krate = Some(input.call(Path::parse_mod_style)?);
            }
            "all" => {
                only_on(&[Place::Impl], "`all` belongs on `#[trace_impl]`")?;
                no_value(input, &ident)?;
                o.all = Some(span);
            }
            "resources" => {
                o.resources = Some(if input.peek(Token![=]) {
                    input.parse::<Token![=]>()?;
                    Some(input.call(Path::parse_mod_style)?)
                } else {
                    None
                });
            }
            _ => {
                return Err(syn::Error::new(
                    span,
                    format!(
                        "unknown option `{name}`: expected one of name, event_type, skip, skip_all, capture, fields, metadata, config, err, ret, resources, tracer, crate{}",
                        if place == Place::Impl { ", all" } else { "" }
                    ),
                ));
            }
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    if let (Some(skip), Some(_)) = (o.skip_kw, o.skip_all) {
        return Err(syn::Error::new(
            skip,
            "`skip(...)` and `skip_all` together: `skip_all` already skips every argument",
        ));
    }
    if let Some(opt_out) = o.opt_out
        && o.seen.len() > 1
    {
        return Err(syn::Error::new(
            opt_out,
            "`#[trace(skip)]` leaves the method untraced, so it takes no other option",
        ));
    }
    Ok(o)
}

struct CaptureItem {
    which: Ident,
    on: bool,
}

impl Parse for CaptureItem {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let which: Ident = input.parse()?;
        input.parse::<Token![=]>()?;
        let on: LitBool = input.parse()?;
        Ok(CaptureItem {
            which,
            on: on.value,
        })
    }
}
