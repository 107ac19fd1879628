//! What the receiver recorded of one request, and how its body is decoded.

use std::time::Instant;

use bytes::Bytes;
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE};
use hyper::{HeaderMap, Method};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// How an OTLP/HTTP body is encoded, judged by its `Content-Type`.
///
/// ```
/// use hivetrace_tests::Encoding;
/// assert_eq!(Encoding::from_content_type(Some("application/x-protobuf")), Encoding::Protobuf);
/// assert_eq!(Encoding::from_content_type(Some("application/json; charset=utf-8")), Encoding::Json);
/// assert_eq!(Encoding::from_content_type(None), Encoding::Unknown);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// `application/x-protobuf`: OTLP's binary encoding.
    Protobuf,
    /// `application/json`: OTLP's JSON encoding.
    Json,
    /// Anything else, or no `Content-Type`.
    Unknown,
}

impl Encoding {
    /// The encoding a `Content-Type` value names; parameters such as `charset` are ignored.
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        let Some(value) = content_type else {
            return Encoding::Unknown;
        };
        let media_type = value.split(';').next().unwrap_or_default().trim();
        if media_type.eq_ignore_ascii_case("application/x-protobuf") {
            Encoding::Protobuf
        } else if media_type.eq_ignore_ascii_case("application/json") {
            Encoding::Json
        } else {
            Encoding::Unknown
        }
    }
}

/// One request the [`Receiver`](crate::Receiver) received, with the status it answered.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_tests::{Encoding, Receiver};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let receiver = Receiver::start();
/// let tracer = hivetrace::Tracer::builder().endpoint(receiver.traces_url()).build()?;
/// tracer.span("work").start().end();
/// tracer.force_flush()?;
///
/// let request = &receiver.wait_for_requests(1, Duration::from_secs(10))?[0];
/// assert_eq!(request.path(), "/v1/traces");
/// assert_eq!(request.encoding(), Encoding::Protobuf);
/// assert_eq!(request.decoded()?.resource_spans.len(), 1);
/// assert_eq!(request.spans().count(), 1);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Bytes,
    encoding: Encoding,
    decoded: Result<ExportTraceServiceRequest, String>,
    status: u16,
    received_at: Instant,
}

impl RecordedRequest {
    /// Records a request whose body has been read, decoding the body as OTLP. Until
    /// [`answered`](Self::answered), its status is 0.
    pub(crate) fn new(method: Method, uri: &hyper::Uri, headers: HeaderMap, body: Bytes) -> Self {
        let received_at = Instant::now();
        let content_type = headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let encoding = Encoding::from_content_type(content_type.as_deref());
        let content_encoding = headers
            .get(CONTENT_ENCODING)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        let decoded = decode(encoding, content_type.as_deref(), content_encoding, &body);
        RecordedRequest {
            method,
            path: uri.path().to_owned(),
            query: uri.query().map(str::to_owned),
            headers,
            body,
            encoding,
            decoded,
            status: 0,
            received_at,
        }
    }

    /// Notes the status the receiver answered with.
    pub(crate) fn answered(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// The HTTP method (OTLP exporters use `POST`).
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request path, without the query.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The query string, if any.
    pub fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    /// Every header as received (names are lowercase).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// A header's value, if present and readable as text. Names are case-insensitive.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The `Content-Type` header.
    pub fn content_type(&self) -> Option<&str> {
        self.header(CONTENT_TYPE.as_str())
    }

    /// The encoding the `Content-Type` names.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The raw body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body decoded as an `ExportTraceServiceRequest`, or why it could not be.
    pub fn decoded(&self) -> Result<&ExportTraceServiceRequest, &str> {
        self.decoded.as_ref().map_err(String::as_str)
    }

    /// The spans in the body, in order; none if the body could not be decoded.
    pub fn spans(&self) -> impl Iterator<Item = &Span> {
        self.decoded
            .iter()
            .flat_map(|r| &r.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
    }

    /// The status code the receiver answered with.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Whether the receiver accepted the request (answered 2xx).
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// When the receiver had read the whole request.
    pub fn received_at(&self) -> Instant {
        self.received_at
    }
}

fn decode(
    encoding: Encoding,
    content_type: Option<&str>,
    content_encoding: Option<String>,
    body: &[u8],
) -> Result<ExportTraceServiceRequest, String> {
    if let Some(coding) = content_encoding.filter(|c| !c.eq_ignore_ascii_case("identity")) {
        return Err(format!(
            "Content-Encoding {coding:?} is not supported by the test receiver"
        ));
    }
    match encoding {
        Encoding::Protobuf => ExportTraceServiceRequest::decode(body)
            .map_err(|e| format!("not an OTLP protobuf ExportTraceServiceRequest: {e}")),
        Encoding::Json => serde_json::from_slice(body)
            .map_err(|e| format!("not an OTLP JSON ExportTraceServiceRequest: {e}")),
        Encoding::Unknown => Err(format!(
            "Content-Type {content_type:?} is neither application/x-protobuf nor application/json"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

    fn request_with_span() -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![Span {
                        name: "work".into(),
                        trace_id: vec![1; 16],
                        span_id: vec![2; 8],
                        ..Span::default()
                    }],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn recorded(content_type: &str, body: Vec<u8>) -> RecordedRequest {
        let mut headers = HeaderMap::new();
        let value = HeaderValue::from_str(content_type).expect("a valid header value");
        headers.insert(CONTENT_TYPE, value);
        let uri: hyper::Uri = "/v1/traces?x=1".parse().expect("a valid URI");
        RecordedRequest::new(Method::POST, &uri, headers, Bytes::from(body)).answered(200)
    }

    #[test]
    fn protobuf_bodies_are_decoded() {
        let r = recorded(
            "application/x-protobuf",
            request_with_span().encode_to_vec(),
        );
        assert_eq!(r.encoding(), Encoding::Protobuf);
        assert_eq!(r.path(), "/v1/traces");
        assert_eq!(r.query(), Some("x=1"));
        let names: Vec<&str> = r.spans().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["work"]);
    }

    #[test]
    fn json_bodies_are_decoded_with_hex_ids() {
        let json = serde_json::to_vec(&request_with_span()).expect("serializable");
        assert!(String::from_utf8_lossy(&json).contains("\"0202020202020202\""));
        let r = recorded("application/json", json);
        let span = r.spans().next().expect("one span");
        assert_eq!(span.span_id, vec![2; 8]);
    }

    #[test]
    fn undecodable_bodies_say_why() {
        let r = recorded("application/x-protobuf", vec![0xff, 0xff, 0xff]);
        assert!(r.decoded().is_err());
        assert_eq!(r.spans().count(), 0);
        let r = recorded("text/plain", b"hello".to_vec());
        let err = r.decoded().expect_err("text is not OTLP");
        assert!(err.contains("text/plain"), "{err}");
    }
}
