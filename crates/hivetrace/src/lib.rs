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
//! Features: `grpc` (OTLP over gRPC), `testing` (the SDK's in-memory exporter).
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
