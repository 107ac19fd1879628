//! Servers' hints of how long to wait: HTTP `Retry-After` (seconds or date), `retry-after-ms`,
//! and gRPC's `google.rpc.RetryInfo` in `grpc-status-details-bin`.
//!
//! Every parser takes text from the network and returns `None` for anything it cannot read:
//! a malformed hint is no hint, never a panic.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use hivetrace_resilience::hint;
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600); // 2026-01-01
//! assert_eq!(hint::parse_retry_after("120", now), Some(Duration::from_secs(120)));
//! assert_eq!(
//!     hint::parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now),
//!     Some(Duration::from_secs(30)),
//! );
//! assert_eq!(hint::parse_retry_after("soon", now), None);
//! ```

use std::time::{Duration, SystemTime};

/// The gRPC trailer carrying a binary `google.rpc.Status` with details.
pub const GRPC_STATUS_DETAILS: &str = "grpc-status-details-bin";

const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

pub use hivetrace_core::exporter::retry_after::{parse_retry_after, parse_retry_after_ms};

/// The hint in HTTP response headers: `retry-after-ms` first (the more precise), then
/// `Retry-After` (both read by [`hivetrace_core::exporter::retry_after`]), then a gRPC
/// `RetryInfo`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let mut headers = http::HeaderMap::new();
/// headers.insert("retry-after", http::HeaderValue::from_static("3"));
/// assert_eq!(
///     hivetrace_resilience::hint::from_headers(&headers, SystemTime::now()),
///     Some(Duration::from_secs(3)),
/// );
/// ```
pub fn from_headers(headers: &http::HeaderMap, now: SystemTime) -> Option<Duration> {
    hivetrace_core::exporter::retry_after::from_headers(headers, now).or_else(|| {
        headers
            .get(GRPC_STATUS_DETAILS)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_status_details)
    })
}

/// Reads the `RetryInfo.retry_delay` from a base64 `grpc-status-details-bin` value (a
/// serialized `google.rpc.Status`).
///
/// A value that is not base64 or holds no `RetryInfo` is no hint:
///
/// ```
/// assert_eq!(hivetrace_resilience::hint::parse_grpc_status_details("not base64!"), None);
/// assert_eq!(hivetrace_resilience::hint::parse_grpc_status_details("CA4"), None); // code only
/// ```
pub fn parse_grpc_status_details(value: &str) -> Option<Duration> {
    retry_info_delay(&decode_base64(value.trim())?)
}

/// Reads the `RetryInfo.retry_delay` from a serialized `google.rpc.Status`.
pub fn retry_info_delay(status: &[u8]) -> Option<Duration> {
    // Status: 1 code, 2 message, 3 repeated Any details. Any: 1 type_url, 2 value.
    // RetryInfo: 1 retry_delay (Duration: 1 seconds, 2 nanos).
    for (field, value) in fields(status) {
        let (3, Field::Bytes(any)) = (field, value) else {
            continue;
        };
        let mut is_retry_info = false;
        let mut payload: &[u8] = &[];
        for (f, v) in fields(any) {
            match (f, v) {
                (1, Field::Bytes(url)) => is_retry_info = url == RETRY_INFO_TYPE.as_bytes(),
                (2, Field::Bytes(bytes)) => payload = bytes,
                _ => {}
            }
        }
        if !is_retry_info {
            continue;
        }
        for (f, v) in fields(payload) {
            if let (1, Field::Bytes(duration)) = (f, v) {
                let (mut secs, mut nanos) = (0u64, 0u64);
                for (f, v) in fields(duration) {
                    match (f, v) {
                        (1, Field::Varint(s)) => secs = s,
                        (2, Field::Varint(n)) => nanos = n,
                        _ => {}
                    }
                }
                // Negative protobuf int64s arrive as huge varints: not a usable delay.
                if secs > i64::MAX as u64 || nanos >= 1_000_000_000 {
                    return None;
                }
                return Some(Duration::new(secs, nanos as u32));
            }
        }
    }
    None
}

enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

/// The fields of a protobuf message, stopping quietly at the first malformed byte.
fn fields(mut buf: &[u8]) -> impl Iterator<Item = (u64, Field<'_>)> {
    std::iter::from_fn(move || {
        let key = varint(&mut buf)?;
        let field = match key & 7 {
            0 => Field::Varint(varint(&mut buf)?),
            1 => Field::Bytes(take(&mut buf, 8)?),
            2 => {
                let len = usize::try_from(varint(&mut buf)?).ok()?;
                Field::Bytes(take(&mut buf, len)?)
            }
            5 => Field::Bytes(take(&mut buf, 4)?),
            _ => return None,
        };
        Some((key >> 3, field))
    })
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if buf.len() < n {
        return None;
    }
    let (head, tail) = buf.split_at(n);
    *buf = tail;
    Some(head)
}

fn varint(buf: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = buf.split_first()?;
        *buf = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// Standard base64, padding optional (gRPC omits it in binary headers).
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in text.bytes() {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600)
    }

    #[test]
    fn retry_after_seconds_dates_and_garbage() {
        assert_eq!(parse_retry_after(" 0 ", now()), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("Wed, 31 Dec 2025 23:59:00 GMT", now()),
            Some(Duration::ZERO),
            "a date in the past means no wait"
        );
        assert_eq!(parse_retry_after("-5", now()), None);
        assert_eq!(parse_retry_after("", now()), None);
        assert_eq!(parse_retry_after("99999999999999999999999", now()), None);
    }

    #[test]
    fn retry_after_ms_accepts_decimals_and_rejects_junk() {
        assert_eq!(
            parse_retry_after_ms("1500"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after_ms("2.5"),
            Some(Duration::from_micros(2500))
        );
        assert_eq!(parse_retry_after_ms("-1"), None);
        assert_eq!(parse_retry_after_ms("NaN"), None);
        assert_eq!(parse_retry_after_ms("1e300"), None);
    }

    #[test]
    fn headers_prefer_milliseconds() {
        let mut headers = http::HeaderMap::new();
        headers.insert("retry-after", http::HeaderValue::from_static("3"));
        headers.insert("retry-after-ms", http::HeaderValue::from_static("250"));
        assert_eq!(
            from_headers(&headers, now()),
            Some(Duration::from_millis(250))
        );
        assert_eq!(from_headers(&http::HeaderMap::new(), now()), None);
    }

    fn encode(bytes: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))
                << (8 * (3 - chunk.len()));
            for i in 0..=chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    fn retry_info_status(secs: u8, type_url: &str) -> Vec<u8> {
        let duration = [0x08, secs];
        let mut retry_info = vec![0x0a, duration.len() as u8];
        retry_info.extend_from_slice(&duration);
        let mut any = vec![0x0a, type_url.len() as u8];
        any.extend_from_slice(type_url.as_bytes());
        any.extend_from_slice(&[0x12, retry_info.len() as u8]);
        any.extend_from_slice(&retry_info);
        let mut status = vec![0x08, 14]; // code UNAVAILABLE
        status.extend_from_slice(&[0x1a, any.len() as u8]);
        status.extend_from_slice(&any);
        status
    }

    #[test]
    fn grpc_retry_info_is_found_among_details() {
        let status = retry_info_status(7, RETRY_INFO_TYPE);
        assert_eq!(retry_info_delay(&status), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_grpc_status_details(&encode(&status)),
            Some(Duration::from_secs(7))
        );
        let other = retry_info_status(7, "type.googleapis.com/google.rpc.DebugInfo");
        assert_eq!(retry_info_delay(&other), None);
    }

    #[test]
    fn malformed_grpc_details_are_no_hint() {
        let status = retry_info_status(7, RETRY_INFO_TYPE);
        for cut in 0..status.len() {
            // Truncated anywhere: either no hint or (cut after the delay) the right one.
            let got = retry_info_delay(&status[..cut]);
            assert!(got.is_none() || got == Some(Duration::from_secs(7)));
        }
        assert_eq!(parse_grpc_status_details("not base64!"), None);
        assert_eq!(retry_info_delay(&[0xff; 16]), None);
    }
}
