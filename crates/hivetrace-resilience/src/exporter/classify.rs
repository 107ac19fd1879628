//! Which export failures are worth retrying, read from the SDK's error.

use hivetrace_core::exporter::RETRY_AFTER_MARKER;
use opentelemetry_sdk::error::OTelSdkError;

use crate::outcome::Outcome;

/// HTTP statuses the OTLP specification calls retryable.
pub const RETRYABLE_HTTP: [u16; 4] = [429, 502, 503, 504];

/// gRPC status names the OTLP specification calls retryable.
pub const RETRYABLE_GRPC: [&str; 6] = [
    "Cancelled",
    "DeadlineExceeded",
    "Aborted",
    "OutOfRange",
    "Unavailable",
    "DataLoss",
];

/// The default classification of an export error, from what the OpenTelemetry exporters
/// put in it.
///
/// OTLP/HTTP errors read `HTTP export failed with status code: 503`: retryable for 429, 502,
/// 503 and 504, not for other statuses. A network error (refused, reset) and a timeout are
/// retryable; so are the retryable gRPC codes by name (`Unavailable`, `DeadlineExceeded`,
/// ...). Anything else (a rejected payload, a shut-down exporter) is a failure not worth
/// retrying. The SDK's error carries only a message: hivetrace-core's OTLP exporter ends it
/// with `(retry after <N> ms)` ([`RETRY_AFTER_MARKER`]) when the server sent `Retry-After` or
/// `retry-after-ms`, which becomes the outcome's hint. Another exporter that knows more can
/// supply its own classifier
/// ([`ResilientExporterBuilder::classify`](super::ResilientExporterBuilder::classify)).
///
/// ```
/// use opentelemetry_sdk::error::OTelSdkError;
/// use hivetrace_resilience::exporter::classify_export_error;
///
/// let busy = OTelSdkError::InternalFailure("HTTP export failed with status code: 503".into());
/// assert!(classify_export_error(&busy).is_retryable());
/// let bad = OTelSdkError::InternalFailure("HTTP export failed with status code: 400".into());
/// assert!(!classify_export_error(&bad).is_retryable());
/// let hinted = OTelSdkError::InternalFailure(
///     "HTTP export failed with status code: 429 (retry after 7000 ms)".into(),
/// );
/// let o = classify_export_error(&hinted);
/// assert_eq!(o.retry_after(), Some(std::time::Duration::from_secs(7)));
/// ```
pub fn classify_export_error(error: &OTelSdkError) -> Outcome {
    match error {
        OTelSdkError::Timeout(_) => Outcome::retryable_failure(),
        OTelSdkError::AlreadyShutdown => Outcome::failure(),
        OTelSdkError::InternalFailure(message) => {
            let outcome = classify_message(message);
            match core_hint(message) {
                Some(hint) if outcome.is_failure() => outcome.with_retry_after(hint),
                _ => outcome,
            }
        }
    }
}

/// The hint hivetrace-core's OTLP exporter appends: `(retry after <N> ms)`.
fn core_hint(message: &str) -> Option<std::time::Duration> {
    let (_, rest) = message.rsplit_once(RETRY_AFTER_MARKER)?;
    let ms: u64 = rest.strip_suffix(" ms)")?.parse().ok()?;
    Some(std::time::Duration::from_millis(ms))
}

fn classify_message(message: &str) -> Outcome {
    if let Some(status) = http_status(message) {
        return if RETRYABLE_HTTP.contains(&status) {
            Outcome::retryable_failure()
        } else {
            Outcome::failure()
        };
    }
    let lower = message.to_ascii_lowercase();
    let transient = [
        "network error",
        "connection",
        "timed out",
        "timeout",
        "did not finish within",
    ];
    if transient.iter().any(|t| lower.contains(t))
        || RETRYABLE_GRPC.iter().any(|code| message.contains(code))
    {
        return Outcome::retryable_failure();
    }
    Outcome::failure()
}

/// The status in `... status code: NNN` (opentelemetry-otlp's wording).
fn http_status(message: &str) -> Option<u16> {
    let (_, rest) = message.split_once("status code: ")?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// A hint classification for HTTP exporters that see the response: the status and the
/// response's `Retry-After` / `retry-after-ms` headers.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use hivetrace_resilience::exporter::classify_http_response;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("retry-after", http::HeaderValue::from_static("7"));
/// let o = classify_http_response(503, &headers, SystemTime::now());
/// assert_eq!(o.retry_after(), Some(Duration::from_secs(7)));
/// ```
pub fn classify_http_response(
    status: u16,
    headers: &http::HeaderMap,
    now: std::time::SystemTime,
) -> Outcome {
    if (200..300).contains(&status) {
        return Outcome::Success;
    }
    let outcome = if RETRYABLE_HTTP.contains(&status) {
        Outcome::retryable_failure()
    } else {
        Outcome::failure()
    };
    match crate::hint::from_headers(headers, now) {
        Some(hint) => outcome.with_retry_after(hint),
        None => outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn failure(msg: &str) -> Outcome {
        classify_export_error(&OTelSdkError::InternalFailure(msg.into()))
    }

    #[test]
    fn otlp_retryable_statuses_only() {
        for code in [429, 502, 503, 504] {
            assert!(
                failure(&format!("HTTP export failed with status code: {code}")).is_retryable()
            );
        }
        for code in [400, 401, 404, 413, 500] {
            let o = failure(&format!("HTTP export failed with status code: {code}"));
            assert!(o.is_failure() && !o.is_retryable(), "{code}");
        }
    }

    #[test]
    fn the_core_exporters_hint_is_read_and_malformed_ones_ignored() {
        let o = failure("HTTP export failed with status code: 503 (retry after 1500 ms)");
        assert!(o.is_retryable());
        assert_eq!(o.retry_after(), Some(Duration::from_millis(1500)));
        for malformed in [
            "status code: 503 (retry after soon ms)",
            "status code: 503 (retry after 15",
            "status code: 503 (retry after -1 ms)",
        ] {
            assert_eq!(failure(malformed).retry_after(), None, "{malformed}");
        }
    }

    #[test]
    fn transport_failures_and_grpc_codes() {
        assert!(failure("HTTP export failed: network error").is_retryable());
        assert!(failure("the custom export did not finish within 1s").is_retryable());
        assert!(failure("grpc status: Unavailable, connection refused").is_retryable());
        assert!(failure("status: InvalidArgument").is_failure());
        assert!(!failure("status: InvalidArgument").is_retryable());
        assert!(
            classify_export_error(&OTelSdkError::Timeout(Duration::from_secs(1))).is_retryable()
        );
        assert!(!classify_export_error(&OTelSdkError::AlreadyShutdown).is_retryable());
    }
}
