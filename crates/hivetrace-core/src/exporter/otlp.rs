//! OTLP export: HTTP (protobuf or JSON) by default, gRPC behind the `grpc` feature.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::error::{Error, Result};
use crate::secret::{Secret, redact_url};

/// The OTLP transport and encoding.
///
/// ```
/// use hivetrace_core::exporter::Protocol;
/// assert_eq!("http/json".parse::<Protocol>().ok(), Some(Protocol::HttpJson));
/// assert_eq!("HTTP/JSON".parse::<Protocol>().ok(), Some(Protocol::HttpJson));
/// assert_eq!(Protocol::default(), Protocol::HttpProtobuf);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `http/protobuf`: the default.
    #[default]
    HttpProtobuf,
    /// `http/json`.
    HttpJson,
    /// `grpc`: needs the `grpc` feature, and an `http://` endpoint (no TLS is built in for
    /// gRPC; an `https://` collector is reached with `http/protobuf`).
    Grpc,
}

impl Protocol {
    /// The name the OpenTelemetry spec gives the protocol.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
            Protocol::Grpc => "grpc",
        }
    }
}

/// Parses a protocol name, ignoring case and surrounding blanks: the OpenTelemetry spec says
/// enum values are read case-insensitively.
impl FromStr for Protocol {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        [Protocol::HttpProtobuf, Protocol::HttpJson, Protocol::Grpc]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| "expected http/protobuf, http/json or grpc".into())
    }
}

/// The OpenTelemetry OTLP exporter, wrapped so its `Debug` never prints headers (bearer tokens).
pub struct OtlpExporter {
    inner: opentelemetry_otlp::SpanExporter,
    endpoint: String,
    protocol: Protocol,
    /// The server's last `Retry-After` / `retry-after-ms` on a refused request, in
    /// milliseconds plus one (0: none), written by the HTTP client.
    retry_after: Arc<AtomicU64>,
    /// gRPC needs a tokio runtime to build and to export; it is owned here so a tracer works
    /// from any thread, inside a runtime or not.
    #[cfg(feature = "grpc")]
    runtime: Option<tokio::runtime::Runtime>,
}

impl fmt::Debug for OtlpExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpExporter")
            .field("endpoint", &self.endpoint)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl OtlpExporter {
    /// Builds an exporter to `endpoint` (used verbatim: for HTTP, the full traces URL).
    ///
    /// Retries follow the OTLP spec (429, 502, 503, 504 and the retryable gRPC codes, honouring
    /// `Retry-After`), all within `timeout`, which bounds each export call.
    ///
    /// When an HTTP export fails and the server's last answer carried `Retry-After` (in
    /// seconds) or `retry-after-ms`, the error message ends with
    /// `` (retry after <N> ms)`` ([`RETRY_AFTER_MARKER`]), so a wrapper such as
    /// hivetrace-resilience's `ResilientExporter` can honour the hint (the SDK's error type
    /// carries only a message).
    ///
    /// Over http/json, a double that is NaN or infinite is sent as a string (`"NaN"`,
    /// `"Infinity"`, `"-Infinity"`): the OTLP JSON encoder would write `null`, which receivers
    /// refuse along with the whole request.
    ///
    /// gRPC export is plaintext only: an endpoint that is not `http://` is an
    /// [`Error::ExporterBuild`] saying to use OTLP over HTTP, which supports `https://`.
    /// Errors never show the endpoint's credentials.
    pub fn new(
        endpoint: &str,
        protocol: Protocol,
        headers: &[(String, Secret)],
        timeout: Duration,
    ) -> Result<Self> {
        // opentelemetry-otlp's messages quote the endpoint verbatim, credentials included.
        let build_err = |e: &dyn fmt::Display| Error::ExporterBuild {
            exporter: "otlp",
            reason: without_credentials(e.to_string(), endpoint),
        };
        match protocol {
            Protocol::HttpProtobuf | Protocol::HttpJson => {
                let otlp_protocol = if protocol == Protocol::HttpJson {
                    opentelemetry_otlp::Protocol::HttpJson
                } else {
                    opentelemetry_otlp::Protocol::HttpBinary
                };
                let client = ResolvedHeadersClient::new(headers, timeout)?;
                let retry_after = Arc::clone(&client.retry_after);
                let inner = opentelemetry_otlp::SpanExporter::builder()
                    .with_http()
                    .with_http_client(client)
                    .with_endpoint(endpoint)
                    .with_protocol(otlp_protocol)
                    .with_timeout(timeout)
                    .build()
                    .map_err(|e| build_err(&e))?;
                Ok(OtlpExporter {
                    inner,
                    endpoint: redact_url(endpoint),
                    protocol,
                    retry_after,
                    #[cfg(feature = "grpc")]
                    runtime: None,
                })
            }
            #[cfg(feature = "grpc")]
            Protocol::Grpc => {
                use opentelemetry_otlp::WithTonicConfig;
                if !is_plaintext(endpoint) {
                    return Err(Error::ExporterBuild {
                        exporter: "otlp",
                        reason: format!(
                            "gRPC export needs an http:// endpoint, got {}: hivetrace builds \
                             gRPC without TLS; for an https:// collector use OTLP over HTTP \
                             (protocol http/protobuf, the default), or reach it through a local \
                             collector or TLS-terminating proxy over http://",
                            redact_url(endpoint)
                        ),
                    });
                }
                let map = header_map(headers, "gRPC metadata")?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .thread_name("hivetrace-grpc")
                    .build()
                    .map_err(|e| build_err(&e))?;
                // As for HTTP: opentelemetry-otlp merges the process environment's headers into
                // the metadata, so an interceptor (which runs after that) removes the ones
                // hivetrace did not choose and sets its own last.
                let unchosen = unchosen_env_headers(&map);
                let chosen = std::sync::Arc::new(map);
                let unchosen = std::sync::Arc::new(unchosen);
                let interceptor = move |mut request: tonic::Request<()>| {
                    let metadata = request.metadata_mut();
                    for name in unchosen.iter() {
                        metadata.remove(name.as_str());
                    }
                    for (name, value) in chosen.iter() {
                        if let (Ok(key), Ok(value)) = (
                            tonic::metadata::MetadataKey::from_bytes(name.as_str().as_bytes()),
                            tonic::metadata::MetadataValue::try_from(value.as_bytes()),
                        ) {
                            metadata.insert(key, value);
                        }
                    }
                    Ok(request)
                };
                let built = {
                    let _entered = runtime.enter();
                    opentelemetry_otlp::SpanExporter::builder()
                        .with_tonic()
                        .with_endpoint(endpoint)
                        .with_timeout(timeout)
                        .with_interceptor(interceptor)
                        .build()
                };
                match built {
                    Ok(inner) => Ok(OtlpExporter {
                        inner,
                        endpoint: redact_url(endpoint),
                        protocol,
                        // gRPC's RetryInfo stays inside tonic's status; its message names the code.
                        retry_after: Arc::new(AtomicU64::new(0)),
                        runtime: Some(runtime),
                    }),
                    Err(e) => {
                        // Dropping a runtime blocks, which panics inside another runtime (a
                        // tracer built in `#[tokio::main]`).
                        runtime.shutdown_background();
                        Err(build_err(&e))
                    }
                }
            }
            #[cfg(not(feature = "grpc"))]
            Protocol::Grpc => Err(Error::FeatureDisabled {
                protocol: "grpc",
                feature: "grpc",
            }),
        }
    }

    /// The endpoint spans are sent to, credentials redacted.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }
}

/// Dropping the gRPC runtime blocks, which panics inside another runtime: the exporter may be
/// dropped in async code (a tracer that failed to build, or one built by hand), so its runtime
/// is shut down without waiting.
#[cfg(feature = "grpc")]
impl Drop for OtlpExporter {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl SpanExporter for OtlpExporter {
    async fn export(&self, mut batch: Vec<SpanData>) -> OTelSdkResult {
        #[cfg(feature = "grpc")]
        if let Some(runtime) = &self.runtime {
            return runtime.block_on(self.inner.export(batch));
        }
        if self.protocol == Protocol::HttpJson {
            super::non_finite_doubles_as_strings(&mut batch);
        }
        self.retry_after.store(0, Ordering::Relaxed);
        let result = self.inner.export(batch).await;
        match (result, self.retry_after.load(Ordering::Relaxed)) {
            (Err(OTelSdkError::InternalFailure(message)), hint) if hint > 0 => Err(
                OTelSdkError::InternalFailure(with_retry_after(message, hint - 1)),
            ),
            (result, _) => result,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        #[cfg(feature = "grpc")]
        if let Some(runtime) = &self.runtime {
            let _entered = runtime.enter();
            return self.inner.shutdown_with_timeout(timeout);
        }
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// `message` with every copy of `endpoint` shown with its credentials redacted.
fn without_credentials(message: String, endpoint: &str) -> String {
    if endpoint.is_empty() {
        return message;
    }
    message.replace(endpoint, &redact_url(endpoint))
}

/// Whether `endpoint` has the `http` scheme: tonic without a TLS feature cannot reach anything
/// else (opentelemetry-otlp gives a scheme-less endpoint `https://`).
#[cfg(feature = "grpc")]
fn is_plaintext(endpoint: &str) -> bool {
    endpoint
        .trim()
        .split_once("://")
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("http"))
}

/// The HTTP client behind OTLP/HTTP export: the blocking reqwest client, with hivetrace's
/// resolved headers set on every request last.
///
/// opentelemetry-otlp lays `OTEL_EXPORTER_OTLP_HEADERS` from the process environment over the
/// headers it is given, which would let the environment beat an explicit `.header(...)` or API
/// key and bypass `from_env_with`. Setting them here makes hivetrace's resolution final.
struct ResolvedHeadersClient {
    client: reqwest::blocking::Client,
    /// See [`OtlpExporter::retry_after`].
    retry_after: Arc<AtomicU64>,
    headers: http::HeaderMap,
    /// Headers opentelemetry-otlp adds from the process environment that hivetrace's own
    /// resolution did not choose: removed from every request.
    unchosen: Vec<http::HeaderName>,
}

impl fmt::Debug for ResolvedHeadersClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.headers.keys().map(http::HeaderName::as_str).collect();
        f.debug_struct("ResolvedHeadersClient")
            .field("header_names", &names)
            .finish_non_exhaustive()
    }
}

impl ResolvedHeadersClient {
    fn new(headers: &[(String, Secret)], timeout: Duration) -> Result<Self> {
        let map = header_map(headers, "HTTP header")?;
        // Built on a thread of its own: the blocking client starts a runtime, which panics
        // when done from inside one (a tracer built in `#[tokio::main]`).
        //
        // Redirects are not followed: an OTLP receiver has no reason to send one, and reqwest
        // would resend the body with every header but `authorization` to whatever host the
        // `Location` names (an API key in `x-api-key`, say). A redirect is a failed export.
        let client = std::thread::Builder::new()
            .name("hivetrace-http-init".into())
            .spawn(move || {
                reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .build()
            })
            .map_err(|e| Error::ExporterBuild {
                exporter: "otlp",
                reason: format!("could not start a thread to build the HTTP client: {e}"),
            })?
            .join()
            .map_err(|_| Error::ExporterBuild {
                exporter: "otlp",
                reason: "building the HTTP client panicked".into(),
            })?
            .map_err(|e| Error::ExporterBuild {
                exporter: "otlp",
                reason: format!("could not build the HTTP client: {e}"),
            })?;
        let unchosen = unchosen_env_headers(&map);
        Ok(ResolvedHeadersClient {
            client,
            retry_after: Arc::new(AtomicU64::new(0)),
            headers: map,
            unchosen,
        })
    }
}

#[async_trait::async_trait]
impl HttpClient for ResolvedHeadersClient {
    async fn send_bytes(&self, mut request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        let headers = request.headers_mut();
        for name in &self.unchosen {
            headers.remove(name);
        }
        for (name, value) in &self.headers {
            headers.insert(name.clone(), value.clone());
        }
        let response = self.client.send_bytes(request).await?;
        let hint = if response.status().is_success() {
            None
        } else {
            super::retry_after::from_headers(response.headers(), std::time::SystemTime::now())
                .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        };
        self.retry_after
            .store(hint.map_or(0, |ms| ms.saturating_add(1)), Ordering::Relaxed);
        Ok(response)
    }
}

/// What ends an export error's message when the server asked for a pause: `(retry after `,
/// the milliseconds, ` ms)`.
pub const RETRY_AFTER_MARKER: &str = "(retry after ";

fn with_retry_after(mut message: String, ms: u64) -> String {
    use fmt::Write as _;
    let _ = write!(message, " {RETRY_AFTER_MARKER}{ms} ms)");
    message
}

/// hivetrace's resolved headers as a map, values marked sensitive (never shown by `Debug`).
fn header_map(headers: &[(String, Secret)], what: &str) -> Result<http::HeaderMap> {
    let mut map = http::HeaderMap::new();
    for (k, v) in headers {
        let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|_| {
            Error::invalid(
                "headers",
                crate::env::shown_header_name(k),
                format!("not a valid {what} name"),
            )
        })?;
        let mut value = http::HeaderValue::from_str(v.expose()).map_err(|_| {
            Error::invalid(
                "headers",
                format!("{k}=<redacted>"),
                format!(
                    "not a valid {what} value: it contains characters the protocol does not allow"
                ),
            )
        })?;
        value.set_sensitive(true);
        map.insert(name, value);
    }
    Ok(map)
}

/// The headers opentelemetry-otlp adds from the process environment that are not in `chosen`.
fn unchosen_env_headers(chosen: &http::HeaderMap) -> Vec<http::HeaderName> {
    process_env_header_names()
        .into_iter()
        .filter(|name| !chosen.contains_key(name))
        .collect()
}

/// The header names in the process's `OTEL_EXPORTER_OTLP_(TRACES_)HEADERS`, read leniently
/// (members that are not `key=value` are ignored, as opentelemetry-otlp ignores them).
fn process_env_header_names() -> Vec<http::HeaderName> {
    use crate::config::vars::{OTEL_EXPORTER_OTLP_HEADERS, OTEL_EXPORTER_OTLP_TRACES_HEADERS};
    [
        OTEL_EXPORTER_OTLP_TRACES_HEADERS,
        OTEL_EXPORTER_OTLP_HEADERS,
    ]
    .iter()
    .filter_map(|var| std::env::var(var).ok())
    .flat_map(|list| {
        list.split(',')
            .filter_map(|member| member.split_once('='))
            .filter_map(|(k, _)| {
                let key = percent_encoding::percent_decode_str(k.trim())
                    .decode_utf8()
                    .ok()?;
                http::HeaderName::from_bytes(key.as_bytes()).ok()
            })
            .collect::<Vec<_>>()
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(1);

    fn build_error(endpoint: &str, protocol: Protocol) -> String {
        match OtlpExporter::new(endpoint, protocol, &[], TIMEOUT) {
            Ok(exporter) => panic!("{endpoint} built: {exporter:?}"),
            Err(e) => format!("{e} {e:?}"),
        }
    }

    #[test]
    fn http_build_errors_never_show_credentials() {
        let shown = build_error(
            "http://user:s3cr3t@collector:4318/a b",
            Protocol::HttpProtobuf,
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>@collector"), "{shown}");
    }

    #[test]
    fn a_header_name_holding_a_credential_is_not_shown() {
        let headers = [(
            "Authorization: Bearer sk-live-123".to_owned(),
            Secret::new(""),
        )];
        match OtlpExporter::new(
            "http://127.0.0.1:4318/v1/traces",
            Protocol::HttpProtobuf,
            &headers,
            TIMEOUT,
        ) {
            Ok(exporter) => panic!("built: {exporter:?}"),
            Err(e) => {
                let shown = format!("{e} {e:?}");
                assert!(!shown.contains("sk-live"), "{shown}");
            }
        }
    }

    /// A one-shot HTTP server on 127.0.0.1 that answers `response` and hands back the request.
    fn serve_once(response: String) -> (std::net::SocketAddr, std::thread::JoinHandle<String>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let addr = listener.local_addr().expect("the port");
        let handle = std::thread::spawn(move || {
            let Ok((mut stream, _)) = listener.accept() else {
                return String::new();
            };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buf = [0u8; 8192];
            // Headers, then as much body as Content-Length says.
            while let Ok(n) = stream.read(&mut buf) {
                request.extend_from_slice(&buf[..n]);
                if n == 0 || request_complete(&request) {
                    break;
                }
            }
            let _ = stream.write_all(response.as_bytes());
            String::from_utf8_lossy(&request).into_owned()
        });
        (addr, handle)
    }

    /// Whether `request` holds its headers and the whole body they announce.
    fn request_complete(request: &[u8]) -> bool {
        let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") else {
            return false;
        };
        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
        let body_len = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        request.len() >= end + 4 + body_len
    }

    #[test]
    fn http_json_sends_non_finite_doubles_a_receiver_can_read() {
        use opentelemetry::{KeyValue, Value};
        let (addr, server) = serve_once("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_owned());
        let exporter = OtlpExporter::new(
            &format!("http://{addr}/v1/traces"),
            Protocol::HttpJson,
            &[],
            Duration::from_secs(5),
        )
        .expect("the exporter builds");
        let span = SpanData {
            span_context: opentelemetry::trace::SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: opentelemetry::trace::SpanKind::Internal,
            name: "scores".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes: vec![
                KeyValue::new("nan", f64::NAN),
                KeyValue::new("inf", f64::INFINITY),
                KeyValue::new("fine", Value::F64(0.5)),
            ],
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: opentelemetry::trace::Status::Unset,
            instrumentation_scope: Default::default(),
        };
        let exported = vec![span];
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let result = crate::exporter::block_on_until(exporter.export(exported), deadline);
        let request = server.join().unwrap_or_default();
        assert!(matches!(result, Some(Ok(()))), "{result:?}");
        // `"doubleValue": null` makes an OTLP/JSON receiver refuse the whole request.
        let body = request.split_once("\r\n\r\n").map_or("", |(_, body)| body);
        let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
        let value = |key: &str| crate::exporter::first_span_attribute(&json, key);
        assert_eq!(value("nan"), serde_json::json!({"stringValue": "NaN"}));
        assert_eq!(value("inf"), serde_json::json!({"stringValue": "Infinity"}));
        assert_eq!(value("fine"), serde_json::json!({"doubleValue": 0.5}));
    }

    #[test]
    fn a_redirect_is_not_followed_with_the_headers() {
        // The collector that spans would be redirected to: it must never be reached.
        let elsewhere = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
        let elsewhere_addr = elsewhere.local_addr().expect("the port");
        elsewhere
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let (addr, server) = serve_once(format!(
            "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{elsewhere_addr}/v1/traces\r\n\
             Content-Length: 0\r\n\r\n"
        ));
        let headers = [("x-api-key".to_owned(), Secret::new("sk-live-123"))];
        let exporter = OtlpExporter::new(
            &format!("http://{addr}/v1/traces"),
            Protocol::HttpProtobuf,
            &headers,
            Duration::from_secs(2),
        )
        .expect("the exporter builds");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let result = crate::exporter::block_on_until(exporter.export(Vec::new()), deadline);
        let request = server.join().unwrap_or_default();
        assert!(request.contains("x-api-key: sk-live-123"), "{request}");
        assert!(
            matches!(result, Some(Err(ref e)) if e.to_string().contains("307")),
            "a redirect is a failed export: {result:?}"
        );
        assert!(
            elsewhere.accept().is_err(),
            "the redirect was followed to {elsewhere_addr}"
        );
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_rejects_https_saying_what_to_do_without_credentials() {
        for endpoint in [
            "https://user:s3cr3t@collector.example:4317",
            "HTTPS://collector.example:4317",
            "collector.example:4317",
        ] {
            let shown = build_error(endpoint, Protocol::Grpc);
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains("http/protobuf"), "{shown}");
        }
    }

    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_build_errors_never_show_credentials() {
        let shown = build_error("http://user:s3cr3t@collector:4317/a b", Protocol::Grpc);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>@collector"), "{shown}");
    }

    /// A tracer built in `#[tokio::main]`: neither a failed build nor dropping the exporter
    /// may drop its runtime in a blocking way.
    #[cfg(feature = "grpc")]
    #[test]
    fn grpc_builds_and_drops_inside_a_runtime_without_panicking() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        runtime.block_on(async {
            let shown = build_error("http://collector:4317/a b", Protocol::Grpc);
            assert!(shown.contains("invalid endpoint"), "{shown}");
            let exporter = OtlpExporter::new("http://127.0.0.1:4317", Protocol::Grpc, &[], TIMEOUT)
                .expect("a plaintext endpoint builds without connecting");
            drop(exporter);
        });
    }
}
