//! Helpers shared by the integration tests: hand-made ended spans, a plain HTTP GET, the
//! Prometheus binaries.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::borrow::Cow;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};

/// An ended span named `name` that lasted `latency`.
pub struct SpanSpec {
    pub name: &'static str,
    pub latency: Duration,
    pub error_type: Option<&'static str>,
    pub sampled: bool,
    pub ot: Option<&'static str>,
    pub id: u64,
    pub end: Option<SystemTime>,
}

impl SpanSpec {
    pub fn new(name: &'static str, latency: Duration) -> Self {
        SpanSpec {
            name,
            latency,
            error_type: None,
            sampled: true,
            ot: None,
            id: 1,
            end: None,
        }
    }

    /// Ends the span at `end` (default: 2026-01-01T00:00:00Z plus the latency).
    pub fn ending_at(mut self, end: SystemTime) -> Self {
        self.end = Some(end);
        self
    }

    pub fn error(mut self, error_type: &'static str) -> Self {
        self.error_type = Some(error_type);
        self
    }

    pub fn ot(mut self, ot: &'static str) -> Self {
        self.ot = Some(ot);
        self
    }

    pub fn unsampled(mut self) -> Self {
        self.sampled = false;
        self
    }

    pub fn id(mut self, id: u64) -> Self {
        self.id = id;
        self
    }

    pub fn build(self) -> SpanData {
        let state = match self.ot {
            Some(ot) => TraceState::from_key_value([("ot", ot)]).unwrap(),
            None => TraceState::default(),
        };
        let flags = if self.sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let start = match self.end {
            Some(end) => end - self.latency,
            None => SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600),
        };
        let mut attributes = vec![KeyValue::new("honeyhive_event_type", "tool")];
        let mut status = Status::Unset;
        if let Some(kind) = self.error_type {
            attributes.push(KeyValue::new("honeyhive_error", "it failed"));
            attributes.push(KeyValue::new("honeyhive_error_type", kind));
            status = Status::error("it failed");
        }
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(u128::from(self.id) << 64 | 0xabc),
                SpanId::from(self.id.max(1)),
                flags,
                false,
                state,
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(self.name),
            start_time: start,
            end_time: start + self.latency,
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }
}

/// A plain HTTP/1.1 GET on a local address, with an optional `Accept`: (status, head, body).
pub fn http_get(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{accept}Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Ok((status, head.to_owned(), body.to_owned()))
}

/// The path of a Prometheus binary (`promtool`, `prometheus`), or a panic saying how to get it.
pub fn prometheus_binary(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "`{name}` is not on PATH: these tests need the Prometheus binaries \
             (Debian/Ubuntu: `apt-get install prometheus`; CI installs it in .ci/run)"
        )
    })
}
