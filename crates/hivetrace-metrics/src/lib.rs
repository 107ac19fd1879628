//! # hivetrace-metrics
//!
//! Tracing metrics for hivetrace: every ended span becomes counts, errors and latency
//! percentiles by endpoint (span name), exposed to Prometheus with exemplars that link a latency
//! bucket to a trace, plus the CPU time and memory a span used.
//!
//! - [`MetricsProcessor`]: an OpenTelemetry `SpanProcessor` (give a clone to
//!   `TracerBuilder::observer`, or `span_processor` on any provider). Counts, error rate and [error types](UNKNOWN_ERROR_TYPE),
//!   latency mean/p50/p95/p99 over the lifetime and a recent [window](MetricsProcessorBuilder::window),
//!   uptime; [`snapshot`](MetricsProcessor::snapshot) returns a serde-serializable
//!   [`MetricsSnapshot`], [`reset`](MetricsProcessor::reset) starts over.
//! - Percentiles come from DDSketch ([`window`]): within 1% of the exact value of the same
//!   rank, in bounded memory, not a sorted copy of recent values.
//! - Honest counts under sampling ([`weight`]): a span kept with probability `p` counts `1/p`,
//!   `p` read from its OTEP 235 threshold (`ot=th:<hex>` in `tracestate`) or configured
//!   ([`Weighting`]).
//! - Prometheus ([`MetricsCollector`], [`TracerCollector`]): `<ns>_traces_total{endpoint,status}`,
//!   `<ns>_trace_latency_seconds{endpoint}` with exemplars (`trace_id`, `span_id`),
//!   `<ns>_trace_errors_total{error_type}`, `<ns>_spans_dropped_total` and the other export
//!   counters, with a cardinality guard ([`OVERFLOW_LABEL`]). The namespace is `hivetrace`
//!   unless set (`honeyhive` matches HoneyHive's dashboards).
//! - `/metrics`: [`encode`] / [`encode_text`] to a string; with the `http` feature,
//!   `MetricsEndpoint`, an axum-compatible handler; with `server` (default), `MetricsServer`
//!   on tokio + hyper.
//! - [`resources`]: CPU time and RSS of a span, as attributes (opt-in; its
//!   [`ResourceGuard`](resources::ResourceGuard) is what `#[trace(resources)]` generates).
//!
//! ## Cost
//!
//! Recording a span takes one lookup in a read-mostly map (no lock, no shared write), one
//! uncontended lock of a per-thread shard, one sketch insertion and a few additions; nothing is
//! allocated for an endpoint already seen. The Prometheus histogram is brought up to date from
//! the shards by each scrape and by a background thread once a second.
//! `cargo bench -p hivetrace-metrics --bench processor` compares it with a raw
//! `prometheus_client` counter and histogram.
//!
//! ## Example
//!
//! ```
//! use hivetrace_core::Tracer;
//! use hivetrace_metrics::prometheus_client::registry::Registry;
//! use hivetrace_metrics::MetricsProcessor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let metrics = MetricsProcessor::builder().namespace("honeyhive").build()?;
//! let tracer = Tracer::builder()
//!     .console_writer(std::io::sink()) // or TracerBuilder::from_env()
//!     .observer(metrics.clone())
//!     .build()?;
//!
//! tracer.span("chat").start().end();
//! tracer.span("chat").start().record_error_message("RateLimited", "429");
//!
//! let stats = metrics.snapshot();
//! assert_eq!((stats.count, stats.error_rate), (2.0, 0.5));
//! assert_eq!(stats.endpoints["chat"].spans, 2);
//!
//! let mut registry = Registry::default();
//! metrics.register(&mut registry);
//! registry.register_collector(Box::new(metrics.tracer_collector(&tracer)));
//! let text = hivetrace_metrics::encode(&registry)?; // or MetricsServer::bind(addr, registry)
//! assert!(text.contains(r#"honeyhive_traces_total{endpoint="chat",status="error"} 1.0"#));
//! # tracer.shutdown()?; Ok(()) }
//! ```
//!
//! ## Features
//!
//! - `server` (default): `MetricsServer`, a `/metrics` server on tokio + hyper. Implies `http`.
//! - `http`: `MetricsEndpoint`, a `/metrics` response for your own server or axum router.
#![forbid(unsafe_code)]

mod builder;
mod collector;
mod encode;
mod endpoint;
#[cfg(feature = "http")]
mod endpoint_http;
mod error;
mod exemplar;
mod histogram_sync;
mod processor;
pub mod resources;
mod series;
#[cfg(feature = "server")]
mod server;
mod snapshot;
mod tracer_stats;
pub mod weight;
pub mod window;

pub use builder::{
    DEFAULT_BUCKETS, DEFAULT_MAX_SERIES, DEFAULT_NAMESPACE, DEFAULT_WINDOW, MetricsProcessorBuilder,
};
pub use collector::MetricsCollector;
pub use encode::{CONTENT_TYPE, TEXT_CONTENT_TYPE, encode, encode_text};
#[cfg(feature = "http")]
pub use endpoint_http::MetricsEndpoint;
pub use error::{Error, Result};
pub use processor::{MetricsProcessor, UNKNOWN_ERROR_TYPE};
pub use series::{MAX_LABEL_LEN, OVERFLOW_LABEL};
#[cfg(feature = "server")]
pub use server::{HEADER_READ_TIMEOUT, MetricsServer, SHUTDOWN_GRACE, WRITE_TIMEOUT};
pub use snapshot::{EndpointSnapshot, LatencySummary, MetricsSnapshot};
pub use tracer_stats::TracerCollector;
pub use weight::Weighting;

/// The `prometheus_client` crate this one builds on, re-exported for its `Registry`.
pub use prometheus_client;

/// The README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
