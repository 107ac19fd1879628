//! # hivetrace
//!
//! Tracing for LLM applications on OpenTelemetry: the facade over hivetrace's crates.
//! Depend on this crate and pick features; everything is re-exported from here.
//!
//! It re-exports [`hivetrace-core`](hivetrace_core) at the top: the [`Tracer`], spans with
//! [`EventType`]s, [`enrich_span`] / [`enrich_session`], the conventions, the exporters. Each
//! layer-1 crate joins as a module behind a feature of the same name.
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` (default) | `#[trace]`, `#[trace_impl]` |
//! | `sampling` | `hivetrace::sampling`: consistent (OTEP 235), keyed, allow-list, rate-limited, adaptive, rules, observed |
//! | `correlation` | `hivetrace::correlation`: W3C propagation, request ids, sessions, context across tasks |
//! | `resilience` | `hivetrace::resilience`: circuit breaker, retry, resilient exporter, guarded start |
//! | `metrics` | `hivetrace::metrics`: span metrics, Prometheus families, `encode` for `/metrics`, resource usage |
//! | `metrics-server` | `metrics`, plus `MetricsServer` (tokio + hyper) and `MetricsEndpoint` for your own server |
//! | `routing` | `hivetrace::routing`: blue-green, canary, header tiers, rollout plans |
//! | `tower` | the tower layers of every enabled crate |
//! | `prometheus` | `prometheus_client` collectors of every enabled crate that owns state (the breaker's `BreakerCollector`, with `resilience`) |
//! | `tokio` | retry delays on the tokio timer (`hivetrace::resilience::retry::TokioSleeper`, with `resilience`) |
//! | `grpc` | OTLP over gRPC (plaintext `http://` endpoints; use `http/protobuf` for `https://`) |
//! | `testing` | the SDK's in-memory exporter |
//!
//! ```
//! # #[cfg(feature = "macros")] {
//! // The macros use the global tracer unless given `tracer = ...`.
//! #[hivetrace::trace(event_type = model, fields(user.id = user))]
//! fn complete(user: &str, prompt: &str) -> String {
//!     format!("echo: {prompt}")
//! }
//! # assert_eq!(complete("u-1", "hi"), "echo: hi");
//! # }
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

/// W3C trace context and baggage, request ids, sessions, context across tasks and services.
#[cfg(feature = "correlation")]
pub use hivetrace_correlation as correlation;

/// Circuit breaker, traced retry with backoff and budget, span export that survives outages.
#[cfg(feature = "resilience")]
pub use hivetrace_resilience as resilience;

/// Tracing metrics: Prometheus families with exemplars, `/metrics`, percentiles, resource usage.
#[cfg(feature = "metrics")]
pub use hivetrace_metrics as metrics;

/// Deployment routing: blue-green environments, sticky canary, header tiers, rollout plans.
#[cfg(feature = "routing")]
pub use hivetrace_routing as routing;

/// Traces a function: a span with its inputs, output, errors and timing.
/// See [`hivetrace_macros`](https://docs.rs/hivetrace-macros) for the options.
#[cfg(feature = "macros")]
pub use hivetrace_macros::__trace_facade as trace;

/// Traces the methods of an `impl` block.
/// See [`hivetrace_macros`](https://docs.rs/hivetrace-macros) for the options.
#[cfg(feature = "macros")]
pub use hivetrace_macros::__trace_impl_facade as trace_impl;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The workspace README's example (the crate map's front page), compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct WorkspaceReadmeDoctests;
