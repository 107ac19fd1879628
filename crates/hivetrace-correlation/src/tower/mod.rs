//! tower middleware (feature `tower`): one trace across HTTP services.
//!
//! - [`ServerLayer`]: continues the caller's trace from the request headers, starts a SERVER
//!   span with OpenTelemetry's HTTP attributes (`http.request.method`, `url.path`,
//!   `http.route` when known, `http.response.status_code`, `error.type`), sets the request id
//!   (a valid `x-request-id`, else a valid `request.id` in the incoming baggage, else a
//!   UUIDv7) in the baggage and in the request's extensions,
//!   echoes it on the response, keeps the span current while the inner service runs and while
//!   the response body is polled, and ends the span when the body ends (streamed bodies
//!   included).
//! - [`ClientLayer`]: a CLIENT span per request (ended when the response head arrives, with
//!   `http.response.status_code`, and `error.type` for 4xx and above), `traceparent`/`tracestate`/
//!   `baggage` and `x-request-id` injected.
//!
//! A request that does not complete (its response future, or a server's response body before
//! its end, dropped: the peer went away, a timeout layer gave up) ends its span with status
//! Error and `error.type` `cancelled`.
//!
//! ```
//! use hivetrace_correlation::tower::{ClientLayer, ServerLayer};
//! use tower::{Layer, ServiceExt};
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
//! let handler = tower::service_fn(|_req: http::Request<String>| async {
//!     Ok::<_, std::convert::Infallible>(http::Response::new(String::from("ok")))
//! });
//! let server = ServerLayer::new(tracer.clone())
//!     .route(|_method, uri| (uri.path() == "/chat").then_some("/chat".into()))
//!     .layer(handler);
//! let response = server.oneshot(http::Request::new(String::new())).await?;
//! assert!(response.headers().contains_key("x-request-id"));
//!
//! // Outgoing: wrap the HTTP client service the same way.
//! let client_layer = ClientLayer::new(tracer);
//! # let _ = client_layer;
//! # Ok(()) }
//! ```

mod body;
mod client_future;
mod client_layer;
mod client_service;
mod in_flight;
mod server_future;
mod server_layer;
mod server_service;

pub use body::TracedBody;
pub use client_future::ClientResponseFuture;
pub use client_layer::ClientLayer;
pub use client_service::Client;
pub use server_future::ServerResponseFuture;
pub use server_layer::{RouteFn, ServerLayer};
pub use server_service::Server;

/// OpenTelemetry's HTTP semantic-convention keys written by the layers.
pub mod attributes {
    /// The request method (`_OTHER` for a method not in RFC 9110).
    pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
    /// The method as sent, when it is not a standard one.
    pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
    /// The response status code.
    pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
    /// The matched route template, low-cardinality.
    pub const HTTP_ROUTE: &str = "http.route";
    /// The path of the request.
    pub const URL_PATH: &str = "url.path";
    /// The scheme: the request URI's, else the server layer's setting (`http` by default).
    pub const URL_SCHEME: &str = "url.scheme";
    /// The query string of a server request, when there is one, signature parameters
    /// redacted.
    pub const URL_QUERY: &str = "url.query";
    /// The full URL of a client request, credentials and signature parameters redacted.
    pub const URL_FULL: &str = "url.full";
    /// The server's host name, on client spans: the URI's host, else the `Host` header's.
    pub const SERVER_ADDRESS: &str = "server.address";
    /// The server's port, on client spans: the URI's (or `Host` header's) port, else the
    /// scheme's default (80 for `http`, 443 for `https`).
    pub const SERVER_PORT: &str = "server.port";
    /// The class of error: the status code from 500 (server) or 400 (client) up, the type
    /// of the service's error, or `cancelled` for a request that did not complete.
    pub const ERROR_TYPE: &str = hivetrace_core::conventions::otel::ERROR_TYPE;
}

/// Query parameters whose values semantic conventions redact from `url.full` and `url.query`
/// by default: the signatures of pre-signed S3, Azure and Google Cloud Storage URLs.
const SENSITIVE_QUERY_KEYS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// Whether `query` has a parameter whose value [`redacted_query`] hides.
pub(crate) fn has_sensitive_values(query: &str) -> bool {
    query.split('&').any(|pair| sensitive(pair).is_some())
}

/// Appends `query` with the values of [`SENSITIVE_QUERY_KEYS`] replaced by `REDACTED`.
pub(crate) fn redacted_query(query: &str, out: &mut String) {
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match sensitive(pair) {
            Some(key) => {
                out.push_str(key);
                out.push_str("=REDACTED");
            }
            None => out.push_str(pair),
        }
    }
}

/// The key of a query `pair` whose value is to be redacted.
fn sensitive(pair: &str) -> Option<&str> {
    let (key, _value) = pair.split_once('=')?;
    SENSITIVE_QUERY_KEYS.contains(&key).then_some(key)
}

/// The method as a `'static` string when it is a standard one, so span names and attributes
/// of ordinary requests cost no allocation.
pub(crate) fn method_name(method: &http::Method) -> std::borrow::Cow<'static, str> {
    use http::Method;
    let name = match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        // Semantic conventions: an unknown method is reported as `_OTHER`, so a client cannot
        // create unbounded span names.
        _ => "_OTHER",
    };
    std::borrow::Cow::Borrowed(name)
}
