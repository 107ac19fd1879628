//! # hivetrace-macros
//!
//! `#[trace]` and `#[trace_impl]`: mark a function (or every method of an `impl` block) and get
//! a span with its inputs, output, errors and timing, like HoneyHive's `@trace` /
//! `@trace_class`, with the rigour of `tracing`'s `#[instrument]`.
//!
//! Use them through the `hivetrace` facade (`#[hivetrace::trace]`, whose generated code names
//! `::hivetrace`) or from this crate with `hivetrace-core` as a dependency (the generated code
//! names `::hivetrace_core`); `crate = path` overrides either.
//!
//! ```
//! use hivetrace_macros::trace;
//!
//! #[trace(event_type = model, fields(user.id = user), metadata(team = "search"))]
//! fn complete(user: &str, prompt: &str) -> String {
//!     format!("echo: {prompt}")
//! }
//!
//! // With no tracer installed the span records nothing and costs almost nothing.
//! assert_eq!(complete("u-1", "hi"), "echo: hi");
//! ```
//!
//! ## `#[trace(...)]` options
//! - `name = "..."`: the span's name (default: the function's name; `Type::method` under
//!   `#[trace_impl]`).
//! - `event_type = model | tool | chain | session` (default `tool`, as in HoneyHive).
//! - `skip(a, b)`, `skip_all`: arguments not captured. `capture(inputs = false, outputs = false)`.
//! - `fields(key = expr, ...)`: attributes evaluated at start, seen by the sampler
//!   (`fields(user.id = user_id)`).
//! - `metadata(key = expr, ...)`, `config(key = expr, ...)`: enrichment written at start.
//! - `err`: an `Err` is recorded as the span's error (status, `exception` event,
//!   `honeyhive_error`, error type), for a function returning a `Result`, an
//!   `impl Future<Output = Result<..>>` or a `Pin<Box<dyn Future<Output = Result<..>>>>` (what
//!   `#[async_trait]` makes of an `async fn`). The message is the error's and its sources'
//!   when it is a `std::error::Error` or dereferences to one (`Box<dyn Error + Send + Sync>`,
//!   `anyhow::Error`), else its `Display`, else its `Debug`. `ret`: capture the output even where `capture`
//!   says not to. Neither goes with `#[track_caller]`, whose body runs in place (to keep the
//!   caller's location) and hands no result to the span.
//! - `resources`: the CPU time (thread and process) and resident memory (before, after, delta)
//!   the call used, as `honeyhive_metrics.resource.*` attributes, measured only when the span
//!   records (six `/proc` reads, tens of µs: for coarse spans). Needs `hivetrace-metrics`:
//!   the facade's `metrics` feature, or the `hivetrace_metrics` crate as a dependency
//!   (`resources = path` names it where it is re-exported elsewhere). A function returning a
//!   future measures the future's run.
//! - `tracer = expr`: the [`Tracer`](../hivetrace_core/struct.Tracer.html) to use (a `Tracer` or
//!   `&Tracer`); default the global one, and no span at all when none is installed.
//! - `crate = path`: where `hivetrace_core`'s items are (`crate = hivetrace` under the facade).
//!
//! Arguments are captured as `honeyhive_inputs.<name>` and the return value as
//! `honeyhive_outputs.result` (the `Ok` value for a `Result`), through `serde::Serialize` when
//! the type has it, else `Debug`, else not at all. A macro sees no types, only their names: a
//! return type whose last path segment is `Result` is taken to be `std::result::Result` or an
//! alias of it. A type of your own named `Result` therefore needs another name at the
//! function (`use crate::eval::Result as Verdict;`) or `capture(outputs = false)`. **Nothing is serialized or formatted unless
//! the span is recording.** A panic ends the span with an error and keeps unwinding. An
//! `async fn`'s span is attached to its future, so concurrent tasks nest under the right parent.
//!
//! ## `#[trace_impl(...)]`
//! Traces the public methods of an `impl` block (all of them with `all`; every method of a trait
//! impl). It takes the options above except `name`, `skip(...)` and `fields`, as defaults for
//! every method; a `#[trace(...)]` on a method overrides them, and `#[trace(skip)]` leaves it
//! untraced. Methods keep their signatures, docs and attributes.
#![forbid(unsafe_code)]

mod expand;
mod impl_block;
mod options;

use proc_macro::TokenStream;

use crate::options::Place;

/// Traces a function: a span with its inputs, output, errors and timing. See the crate docs.
#[proc_macro_attribute]
pub fn trace(args: TokenStream, item: TokenStream) -> TokenStream {
    trace_with(args, item, None)
}

/// `#[trace]` as the `hivetrace` facade re-exports it: paths default to `::hivetrace`.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn __trace_facade(args: TokenStream, item: TokenStream) -> TokenStream {
    trace_with(args, item, Some(facade_path()))
}

/// Traces the methods of an `impl` block. See the crate docs.
#[proc_macro_attribute]
pub fn trace_impl(args: TokenStream, item: TokenStream) -> TokenStream {
    trace_impl_with(args, item, None)
}

/// `#[trace_impl]` as the `hivetrace` facade re-exports it: paths default to `::hivetrace`.
#[doc(hidden)]
#[proc_macro_attribute]
pub fn __trace_impl_facade(args: TokenStream, item: TokenStream) -> TokenStream {
    trace_impl_with(args, item, Some(facade_path()))
}

fn facade_path() -> syn::Path {
    syn::parse_quote!(::hivetrace)
}

fn trace_with(
    args: TokenStream,
    item: TokenStream,
    default_crate: Option<syn::Path>,
) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.into();
    let result = options::parse(args.into(), Place::Function).and_then(|mut opts| {
        if opts.krate.is_none() {
            opts.krate = default_crate;
        }
        let func: syn::ItemFn = syn::parse2(item2.clone())?;
        // `fn r#type` is the function `type`.
        let name = syn::ext::IdentExt::unraw(&func.sig.ident).to_string();
        expand::traced(
            expand::FnParts {
                attrs: func.attrs,
                vis: func.vis,
                sig: func.sig,
                block: *func.block,
            },
            &opts,
            &name,
        )
    });
    match result {
        Ok(tokens) => tokens.into(),
        // Keep the function as written next to the error, so the rest of the crate still
        // type-checks and only the real mistake is reported.
        Err(err) => {
            let err = err.to_compile_error();
            quote::quote!(#err #item2).into()
        }
    }
}

fn trace_impl_with(
    args: TokenStream,
    item: TokenStream,
    default_crate: Option<syn::Path>,
) -> TokenStream {
    let item2: proc_macro2::TokenStream = item.into();
    let result = options::parse(args.into(), Place::Impl).and_then(|mut opts| {
        if opts.krate.is_none() {
            opts.krate = default_crate;
        }
        impl_block::traced(syn::parse2(item2.clone())?, &opts)
    });
    match result {
        Ok(tokens) => tokens.into(),
        Err(err) => {
            let err = err.to_compile_error();
            quote::quote!(#err #item2).into()
        }
    }
}
