//! # hivetrace
//!
//! Tracing for LLM applications on OpenTelemetry: the facade over hivetrace's crates.
//! Depend on this crate and pick features; everything is re-exported from here.
//!
//! Today it re-exports [`hivetrace-core`](hivetrace_core): the [`Tracer`], spans with
//! [`EventType`]s, [`enrich_span`] / [`enrich_session`], the conventions, the exporters. The
//! sampling, correlation, resilience, metrics and routing crates join behind features as they
//! land.
//!
//! Features: `macros` (default: `#[trace]`, `#[trace_impl]`), `sampling` (the samplers, as
//! `hivetrace::sampling`), `grpc` (OTLP over gRPC),
//! `testing` (the SDK's in-memory exporter), `native-tls` (default in core: HTTPS export).
//!
//! ```
//! // The macros use the global tracer unless given `tracer = ...`.
//! #[hivetrace::trace(event_type = model, fields(user.id = user))]
//! fn complete(user: &str, prompt: &str) -> String {
//!     format!("echo: {prompt}")
//! }
//! # assert_eq!(complete("u-1", "hi"), "echo: hi");
//! ```
//!
//! ```
//! use hivetrace::{enrich_span, EventType, Tracer};
//!
//! # fn main() -> Result<(), hivetrace::Error> {
//! // Tracer::from_env() reads OTEL_* and HH_*; with nothing set it writes a local file.
//! let tracer = Tracer::builder().project("demo").console_writer(std::io::sink()).build()?;
//! let span = tracer.span("chat").event_type(EventType::Model).start();
//! span.in_scope(|| {
//!     enrich_span(|e| {
//!         e.config("model", "gpt-4o").metrics("completion_tokens", 17);
//!     });
//! });
//! span.end();
//! tracer.shutdown()?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

#[doc(inline)]
pub use hivetrace_core::*;

/// Samplers: consistent (OTEP 235), keyed, allow-list, rate-limited, adaptive, rules, observed.
#[cfg(feature = "sampling")]
pub use hivetrace_sampling as sampling;

/// Traces a function: a span with its inputs, output, errors and timing.
/// See [`hivetrace_macros`](https://docs.rs/hivetrace-macros) for the options.
#[cfg(feature = "macros")]
pub use hivetrace_macros::__trace_facade as trace;

/// Traces the methods of an `impl` block.
/// See [`hivetrace_macros`](https://docs.rs/hivetrace-macros) for the options.
#[cfg(feature = "macros")]
pub use hivetrace_macros::__trace_impl_facade as trace_impl;
