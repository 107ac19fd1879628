//! # hivetrace-correlation
//!
//! One trace across services, tasks and threads, and every span of a request or a session
//! findable by its id. Works with a hivetrace [`Tracer`](hivetrace_core::Tracer) and with any
//! OpenTelemetry setup.
//!
//! - **Propagation**, written to the W3C specs: Trace Context Level 2 ([`Traceparent`],
//!   [`tracestate`]) and Baggage ([`baggage`]). As OpenTelemetry propagators
//!   ([`TraceContextPropagator`], [`BaggagePropagator`], [`W3cPropagator`]) and as direct
//!   functions on [`http::HeaderMap`] ([`headers`]), faster than the SDK's propagators;
//!   [`baggage_header::BaggageHeader`] keeps baggage as it arrived (validated, indexed,
//!   decoded on read, forwarded without re-encoding) for services that pass it on.
//!   Malformed input never panics: an invalid `traceparent` starts a new trace, a malformed
//!   `tracestate` is discarded, invalid baggage members are dropped.
//! - **Context across tasks and threads**: [`spawn`], [`spawn_blocking`] (feature `tokio`),
//!   [`spawn_thread`], [`in_current_context`].
//! - **Request ids and sessions**: [`RequestId`] (a valid incoming `x-request-id`, else a
//!   UUIDv7), [`Session`] (id, name, user properties, numbered operations), both carried in
//!   baggage, and [`BaggageSpanProcessor`], which copies them (or any allowed baggage key) onto
//!   every span at start.
//! - **tower middleware** (feature `tower`): `ServerLayer` (extracts, opens the SERVER span
//!   with HTTP attributes, sets and echoes the request id, ends the span when the response body
//!   ends) and `ClientLayer` (a CLIENT span per request, headers injected).
//!
//! ## Example
//!
//! ```
//! use hivetrace_correlation::{headers, BaggageSpanProcessor, RequestId, Session};
//! use opentelemetry::Context;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tracer = hivetrace_core::Tracer::builder()
//!     .console_writer(std::io::sink())
//!     .observer(BaggageSpanProcessor::new()) // request.id, session.id on every span
//!     .build()?;
//!
//! // Server side: continue the caller's trace, with a request id and the user's session.
//! let mut incoming = http::HeaderMap::new();
//! incoming.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?);
//! let cx = headers::extract_with_context(&Context::new(), &incoming);
//! let cx = RequestId::from_headers_or_generate(&incoming).in_context(&cx);
//! let session = Session::builder().id("s-1")?.build();
//! let _attached = session.context(&cx).attach();
//!
//! let span = tracer.span("handle").start();
//! assert_eq!(span.span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
//!
//! // Client side: send the context on.
//! let mut outgoing = http::HeaderMap::new();
//! headers::inject_context(span.context(), &mut outgoing);
//! assert!(outgoing["baggage"].to_str()?.contains("session.id=s-1"));
//! # Ok(()) }
//! ```
//!
//! ## Features
//!
//! - `tokio` (default): [`spawn`] and [`spawn_blocking`].
//! - `tower`: `ServerLayer` and `ClientLayer`.
#![forbid(unsafe_code)]

pub mod baggage;
pub mod baggage_header;
mod error;
pub mod headers;
mod hex;
mod percent;
mod processor;
mod propagator;
mod request_id;
mod session;
mod spawn;
#[cfg(feature = "tower")]
pub mod tower;
pub mod traceparent;
pub mod tracestate;

pub use error::{Error, Result};
pub use processor::BaggageSpanProcessor;
pub use propagator::{BaggagePropagator, TraceContextPropagator, W3cPropagator};
pub use request_id::{MAX_REQUEST_ID_LEN, REQUEST_ID_HEADER, REQUEST_ID_KEY, RequestId};
pub use session::{
    Operation, SESSION_ID_KEY, SESSION_NAME_KEY, SESSION_OPERATION, SESSION_OPERATION_NUMBER,
    Session, SessionBuilder,
};
pub use spawn::{in_current_context, spawn_thread};
#[cfg(feature = "tokio")]
pub use spawn::{spawn, spawn_blocking};
pub use traceparent::Traceparent;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
