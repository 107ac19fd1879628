//! A server's request to wait before retrying: HTTP `Retry-After` (seconds or an HTTP date)
//! and `retry-after-ms`.
//!
//! One parser for the OTLP exporter (which carries the hint in its error) and for
//! hivetrace-resilience (which turns it into a breaker's open time). Text from the network
//! that cannot be read is no hint, never a panic.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use hivetrace_core::exporter::retry_after;
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
//! assert_eq!(retry_after::parse_retry_after("120", now), Some(Duration::from_secs(120)));
//! assert_eq!(
//!     retry_after::parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
//!     Some(Duration::from_secs(30)),
//! );
//! assert_eq!(retry_after::parse_retry_after("soon", now), None);
//! assert_eq!(retry_after::parse_retry_after_ms("1.5"), Some(Duration::from_micros(1500)));
//! ```

use std::time::{Duration, SystemTime};

/// Parses an HTTP `Retry-After` value: delay-seconds, or an HTTP date (a date in the past is
/// a zero delay).
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses a `retry-after-ms` value (milliseconds, integer or decimal).
pub fn parse_retry_after_ms(value: &str) -> Option<Duration> {
    let ms: f64 = value.trim().parse().ok()?;
    (0.0..1e15)
        .contains(&ms)
        .then(|| Duration::from_secs_f64(ms / 1000.0))
}

/// The hint in HTTP response headers: `retry-after-ms` first (the more precise), then
/// `Retry-After`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use hivetrace_core::exporter::retry_after;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("retry-after", http::HeaderValue::from_static("3"));
/// assert_eq!(retry_after::from_headers(&headers, SystemTime::now()), Some(Duration::from_secs(3)));
/// ```
pub fn from_headers(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    text("retry-after-ms")
        .and_then(parse_retry_after_ms)
        .or_else(|| text("retry-after").and_then(|v| parse_retry_after(v, now)))
}
