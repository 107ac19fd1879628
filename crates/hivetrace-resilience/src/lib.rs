//! # hivetrace-resilience
//!
//! When the tracing backend fails, the application does not, and no span is lost. This crate
//! has the general tools (usable around any call, and as tower middleware) and uses them to
//! make span export survive outages.
//!
//! - [`CircuitBreaker`]: Resilience4j's semantics (count or time sliding window, failure-rate
//!   and slow-call-rate thresholds, minimum calls, bounded half-open trials, wait in open)
//!   plus waits that grow on repeated openings, server hints (`Retry-After`, gRPC
//!   `RetryInfo`) setting the open time, the Disabled / ForcedOpen / MetricsOnly states,
//!   observers and events on the current span, [`snapshot`](CircuitBreaker::snapshot), and a
//!   Prometheus collector (feature `prometheus`). The closed path takes no lock: a success
//!   in a healthy window is a few atomic loads.
//! - [`retry`]: exponential backoff with full, equal or decorrelated jitter, per-delay and
//!   total-time caps, hints honoured up to a cap, a shared [`retry::RetryBudget`], and
//!   [`retry::retry`], which records every attempt on the current span.
//! - [`exporter::ResilientExporter`]: wraps any `SpanExporter` with retry of the failures
//!   OTLP calls retryable, a breaker, a bounded memory buffer, a checksummed disk spool
//!   replayed in order (also after a restart), exact accounting, and a deadline per export.
//! - [`GuardedTracer`]: builds the tracer behind a breaker; the application runs untraced
//!   while it cannot be built or its backend is down.
//! - `tower` (feature `tower`): `CircuitBreakerLayer` and `RetryLayer`.
//! - [`Classify`] decides success / failure / ignored for breaker and retry alike; time goes
//!   through `hivetrace_core::clock::Clock`, so tests drive windows with a manual clock.
//!
//! ## Features
//!
//! - `tower`: the tower layers.
//! - `prometheus`: `BreakerCollector`, a `prometheus_client` collector.
//! - `tokio`: `retry::TokioSleeper`, the default sleeper inside a tokio runtime.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use hivetrace_resilience::exporter::ResilientExporter;
//! use hivetrace_resilience::{CircuitBreaker, SlidingWindow};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Any call: a breaker around an LLM provider.
//! let provider = CircuitBreaker::builder("llm-provider")
//!     .sliding_window(SlidingWindow::Count(50))
//!     .failure_rate_threshold(50.0)
//!     .wait_in_open(Duration::from_secs(30))
//!     .build()?;
//! let answer = provider.call(|| Ok::<_, std::io::Error>("42"));
//! assert_eq!(answer.ok(), Some("42"));
//!
//! // Span export that survives an outage (here around the console exporter).
//! let spool = tempfile::tempdir()?;
//! let inner = hivetrace_core::exporter::ConsoleExporter::new(std::io::sink());
//! let exporter = ResilientExporter::builder(inner).spool(spool.path()).build()?;
//! let handle = exporter.handle();
//! let tracer = hivetrace_core::Tracer::builder()
//!     .exporter(hivetrace_core::exporter::Exporter::custom(exporter))
//!     .build()?;
//! tracer.in_span("work", || ());
//! tracer.shutdown()?;
//! assert_eq!(handle.stats().exported, 1);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod breaker;
mod error;
pub mod exporter;
mod guarded;
pub mod hint;
mod outcome;
pub mod retry;
#[cfg(feature = "tower")]
pub mod tower;

#[cfg(feature = "prometheus")]
pub use breaker::BreakerCollector;
pub use breaker::{
    BreakerEvent, BreakerObserver, CallError, CircuitBreaker, CircuitBreakerBuilder, OwnedPermit,
    Permit, Reason, SlidingWindow, Snapshot, State, Transition,
};
pub use error::{Error, Rejected, Result};
pub use guarded::{GuardedTracer, GuardedTracerBuilder};
pub use outcome::{AnyError, Classify, Outcome};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
