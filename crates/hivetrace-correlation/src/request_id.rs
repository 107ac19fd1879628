//! Request ids: taken from a valid incoming `x-request-id`, else generated (UUIDv7), and
//! carried in the baggage so every span of the request can be found by it.

use std::fmt;
use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue};

use crate::error::{Error, Result, excerpt};

/// The `x-request-id` header.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The baggage key and the span attribute that carry the request id.
pub const REQUEST_ID_KEY: &str = "request.id";
/// The longest accepted id, in bytes.
pub const MAX_REQUEST_ID_LEN: usize = 128;

/// A request's id: 1 to 128 characters among `A-Z a-z 0-9 - _ . : / + = @`.
///
/// The bound keeps a client from writing arbitrary bytes into every span and log line; the
/// characters cover UUIDs, ULIDs, and the ids of common proxies and clouds, and need no
/// escaping in headers, baggage or logs.
///
/// ```
/// use hivetrace_correlation::RequestId;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("x-request-id", "req-7f3a".parse().unwrap());
/// assert_eq!(RequestId::from_headers_or_generate(&headers).as_str(), "req-7f3a");
///
/// headers.insert("x-request-id", "<script>".parse().unwrap());
/// let generated = RequestId::from_headers_or_generate(&headers);
/// assert_eq!(generated.as_str().len(), 36); // a UUIDv7
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(Arc<str>);

impl RequestId {
    /// A new id: a UUIDv7 (time-ordered, so ids sort by arrival).
    pub fn generate() -> RequestId {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buf);
        RequestId(Arc::from(&*text))
    }

    /// An id given as text, if it is within the bounds.
    pub fn parse(id: &str) -> Result<RequestId> {
        if is_valid_id(id.as_bytes()) {
            Ok(RequestId(Arc::from(id)))
        } else {
            Err(Error::InvalidRequestId {
                id: excerpt(id.as_bytes()),
            })
        }
    }

    /// The id of the first `x-request-id` header, if it is present and valid.
    pub fn from_headers(headers: &HeaderMap) -> Option<RequestId> {
        let value = headers.get(REQUEST_ID_HEADER)?.to_str().ok()?;
        RequestId::parse(value).ok()
    }

    /// The valid incoming id, else a generated one.
    pub fn from_headers_or_generate(headers: &HeaderMap) -> RequestId {
        RequestId::from_headers(headers).unwrap_or_else(RequestId::generate)
    }

    /// The id in the baggage of `cx`, if any (and valid).
    pub fn from_context(cx: &Context) -> Option<RequestId> {
        let value = cx.baggage().get(REQUEST_ID_KEY)?;
        RequestId::parse(value.as_str()).ok()
    }

    /// The id in the current context's baggage.
    pub fn current() -> Option<RequestId> {
        Context::map_current(RequestId::from_context)
    }

    /// `cx` with this id added to its baggage, so it reaches every span started under it (through
    /// [`BaggageSpanProcessor`](crate::BaggageSpanProcessor)) and every downstream service.
    pub fn in_context(&self, cx: &Context) -> Context {
        crate::baggage::with_entries(cx, [(REQUEST_ID_KEY, self.0.clone())])
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id as a header value, for `x-request-id` on a response or an outgoing request.
    pub fn header_value(&self) -> HeaderValue {
        // The accepted characters are all valid in a header; the fallback is unreachable.
        HeaderValue::from_str(&self.0).unwrap_or(HeaderValue::from_static("invalid"))
    }

    /// The `request.id` span attribute.
    pub fn attribute(&self) -> KeyValue {
        KeyValue::new(REQUEST_ID_KEY, self.0.clone())
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RequestId").field(&&*self.0).finish()
    }
}

impl std::str::FromStr for RequestId {
    type Err = Error;

    fn from_str(s: &str) -> Result<RequestId> {
        RequestId::parse(s)
    }
}

/// Whether `id` is 1 to [`MAX_REQUEST_ID_LEN`] bytes of `A-Z a-z 0-9 - _ . : / + = @`.
pub(crate) fn is_valid_id(id: &[u8]) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id.iter().all(|&b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b':' | b'/' | b'+' | b'=' | b'@')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_length_and_charset() {
        assert!(RequestId::parse("a").is_ok());
        assert!(RequestId::parse(&"a".repeat(128)).is_ok());
        assert!(RequestId::parse("Root=1-5f84c7a3-abc;Parent=x").is_err());
        for bad in ["", " ", "a b", "a\u{e9}", "<x>", "a,b", "a\"b"] {
            let err = RequestId::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("invalid request id"));
        }
        assert!(RequestId::parse(&"a".repeat(129)).is_err());
    }

    #[test]
    fn generated_ids_are_uuid_v7_and_distinct() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        let uuid = uuid::Uuid::parse_str(a.as_str()).expect("a uuid");
        assert_eq!(uuid.get_version_num(), 7);
        assert!(RequestId::parse(a.as_str()).is_ok());
    }

    #[test]
    fn headers_with_invalid_ids_get_a_generated_one() {
        let mut headers = HeaderMap::new();
        assert_eq!(RequestId::from_headers(&headers), None);
        headers.insert(
            REQUEST_ID_HEADER,
            HeaderValue::from_bytes(b"caf\xc3\xa9").expect("opaque bytes"),
        );
        assert_eq!(RequestId::from_headers(&headers), None);
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("abc-123"));
        assert_eq!(
            RequestId::from_headers(&headers).map(|id| id.to_string()),
            Some("abc-123".to_owned())
        );
    }

    #[test]
    fn travels_in_baggage() {
        let id = RequestId::parse("r-1").expect("valid");
        let cx = id.in_context(&Context::new());
        assert_eq!(RequestId::from_context(&cx), Some(id.clone()));
        let _guard = cx.attach();
        assert_eq!(RequestId::current(), Some(id));
    }
}
