//! # hivetrace-core
//!
//! The tracer every hivetrace crate builds on: OpenTelemetry tracing for LLM applications,
//! written in HoneyHive's vocabulary (and, switchable, OpenInference's and OpenTelemetry
//! GenAI's), exported over OTLP or to a local file, and correct where the OpenTelemetry SDK's
//! defaults are not.
//!
//! - [`Tracer`]: built with [`Tracer::builder`] or [`Tracer::from_env`] (`OTEL_*` and `HH_*`
//!   variables); a cheap handle that owns its provider. Several may live in one process.
//! - [`Span`]: started with an [`EventType`] and the attributes a sampler should see; current
//!   while entered; ends on drop; records errors and panics.
//! - [`enrich_span`] / [`enrich_session`]: HoneyHive's sections (`metadata`, `metrics`,
//!   `config`, `feedback`, `inputs`, `outputs`, `user_properties`, `error`), flattened, and
//!   free when nothing is recording.
//! - [`Instrument`]: spans across `.await`.
//! - [`TracerBuilder::observer`]: span hooks ([`SpanObserver`]) run inside hivetrace's own
//!   processor, with no copy of the span (the SDK copies each span for every extra processor).
//! - [`clock`]: injectable time for the crates whose behaviour depends on it.
//! - [`capture`]: how the macros turn arguments into attributes, only when recording.
//! - [`exporter`]: OTLP (http/protobuf, http/json, gRPC behind `grpc`), the local OTLP JSON
//!   lines file (the default), a console tree printer, the SDK's in-memory exporter (`testing`).
//!
//! What it fixes in the SDK: unsampled spans are never exported; queue-full drops and export
//! failures are counted ([`Tracer::stats`]); flush and shutdown are bounded, idempotent and
//! safe inside a tokio runtime; dropping the last handle flushes; every export has a deadline;
//! secrets never reach `Debug` or errors; attribute values are bounded.
//!
//! ## Example
//!
//! ```
//! use hivetrace_core::{enrich_span, EventType, Instrument, Tracer};
//!
//! # fn main() -> Result<(), hivetrace_core::Error> {
//! let tracer = Tracer::builder()
//!     .project("support-bot")
//!     .console_writer(std::io::sink()) // or .file(...), .endpoint(...), Tracer::from_env()
//!     .build()?;
//!
//! let chain = tracer.span("answer_question").event_type(EventType::Chain).start();
//! chain.in_scope(|| {
//!     let model = tracer.span("chat").event_type(EventType::Model).start();
//!     model.in_scope(|| {
//!         enrich_span(|e| {
//!             e.config("model", "gpt-4o").metrics("prompt_tokens", 42);
//!         });
//!     });
//! });
//! drop(chain);
//!
//! // Across .await: the span is current only while the future runs.
//! let fut = async { "done" }.instrument(tracer.span("async_step").start());
//! assert_eq!(futures_executor::block_on(fut), "done");
//!
//! tracer.shutdown()?;
//! assert_eq!(tracer.stats().exported, 3);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

#[doc(hidden)]
pub mod __private;
pub mod capture;
pub mod clock;
mod config;
pub mod conventions;
mod enrich;
mod env;
mod error;
mod event_type;
pub mod exporter;
mod finish;
mod global;
mod instrument;
mod observer;
mod processor;
mod secret;
mod span;
mod stats;
mod tracer;
mod truncate;

pub use config::{
    DEFAULT_EXPORT_TIMEOUT, DEFAULT_HONEYHIVE_URL, DEFAULT_SOURCE, HONEYHIVE_TRACES_PATH,
    MAX_DURATION, MAX_QUEUE_SIZE, MIN_SCHEDULED_DELAY, TracerBuilder, vars,
};
pub use conventions::{Conventions, Section};
pub use enrich::{EnrichKey, EnrichValue, Enrichment, enrich_session, enrich_span};
pub use error::{Error, Result};
pub use event_type::{EventType, ParseEventTypeError};
pub use exporter::FileRotation;
pub use instrument::{Instrument, Instrumented, WithContext};
pub use observer::SpanObserver;
pub use processor::BatchConfig;
pub use secret::Secret;
pub use span::{Span, SpanBuilder, SpanGuard, error_type_name};
pub use stats::TracerStats;
pub use tracer::{Destination, Tracer};
pub use truncate::{DEFAULT_MAX_ATTRIBUTE_LEN, TRUNCATION_MARKER};

/// The OpenTelemetry crates hivetrace is built on, re-exported so users and the macros name
/// one version.
pub mod otel {
    pub use opentelemetry;
    pub use opentelemetry_sdk;
}

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
