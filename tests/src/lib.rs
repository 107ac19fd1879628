//! # hivetrace-tests
//!
//! Support for hivetrace's end-to-end tests: an in-process OTLP/HTTP receiver that records
//! what exporters send and answers from a script, so retries, headers, endpoints and both
//! encodings can be checked against the real exporter and the real network stack.
//!
//! - [`Receiver`]: the fake collector, on `127.0.0.1` with an ephemeral port, on its own
//!   thread and tokio runtime, so synchronous tests can use it; stopped when dropped.
//! - [`Reply`]: one scripted answer (a status, optionally `Retry-After`).
//! - [`RecordedRequest`]: what arrived, with the body decoded as an
//!   `ExportTraceServiceRequest` (protobuf or JSON).
//! - [`attributes`]: lookups in OTLP attribute lists.
//! - [`closed_port`]: a local port nothing listens on, for unreachable endpoints.
//! - [`fake_env`]: a variable lookup for `TracerBuilder::from_env_with`.
//!
//! The behaviour tests themselves live in `tests/`.
//!
//! ```
//! use std::time::Duration;
//! use hivetrace_tests::Receiver;
//!
//! let receiver = Receiver::with_responses([503, 200]);
//! assert!(receiver.url().starts_with("http://127.0.0.1:"));
//! assert!(receiver.requests().is_empty());
//! let err = receiver
//!     .wait_for_spans(1, Duration::from_millis(10))
//!     .expect_err("nothing was sent");
//! assert_eq!(err.got(), 0);
//! ```
#![forbid(unsafe_code)]

pub mod attributes;
pub mod fake_env;
mod port;
mod receiver;
mod reply;
mod request;

pub use port::closed_port;
pub use receiver::{Receiver, WaitTimeout};
pub use reply::Reply;
pub use request::{Encoding, RecordedRequest};

/// The OTLP protobuf types the receiver decodes into, re-exported so tests name one version.
pub mod proto {
    pub use opentelemetry_proto::tonic::collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
    };
    pub use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    pub use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
}
