//! The `/metrics` response, for a server of your own (axum, hyper, ...).

use std::future::Ready;
use std::sync::Arc;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use prometheus_client::registry::Registry;

use crate::encode::{CONTENT_TYPE, TEXT_CONTENT_TYPE, encode, openmetrics_to_text};

/// A registry served as `/metrics`: OpenMetrics text (with exemplars) to clients that accept
/// it, as Prometheus does; Prometheus's classic text format to the others (`curl`, older
/// scrapers).
///
/// [`handler`](MetricsEndpoint::handler) is an async function of the request headers returning
/// `http::Response<String>`, which is an axum handler as it is (`HeaderMap` is an axum
/// extractor): `Router::new().route("/metrics", get(endpoint.handler()))`. No axum dependency
/// is needed.
///
/// ```
/// use hivetrace_metrics::{MetricsEndpoint, MetricsProcessor};
/// use prometheus_client::registry::Registry;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = MetricsProcessor::builder().build()?;
/// let mut registry = Registry::default();
/// metrics.register(&mut registry);
/// let endpoint = MetricsEndpoint::new(registry);
///
/// let response = endpoint.response();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["content-type"], hivetrace_metrics::CONTENT_TYPE);
/// assert!(response.body().ends_with("# EOF\n"));
///
/// let handler = endpoint.handler(); // `get(handler)` in an axum router
/// let response = futures_executor::block_on(handler(http::HeaderMap::new()));
/// assert_eq!(response.headers()["content-type"], hivetrace_metrics::TEXT_CONTENT_TYPE);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct MetricsEndpoint {
    registry: Arc<Registry>,
}

impl From<Registry> for MetricsEndpoint {
    fn from(registry: Registry) -> Self {
        MetricsEndpoint::new(registry)
    }
}

impl From<Arc<Registry>> for MetricsEndpoint {
    fn from(registry: Arc<Registry>) -> Self {
        MetricsEndpoint { registry }
    }
}

impl MetricsEndpoint {
    /// Serves `registry`. Register everything before: the registry is shared read-only.
    pub fn new(registry: Registry) -> Self {
        MetricsEndpoint {
            registry: Arc::new(registry),
        }
    }

    /// The registry served.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// `200` with the OpenMetrics exposition, or `500` with the reason if a collector failed.
    pub fn response(&self) -> Response<String> {
        self.respond(true)
    }

    /// The response for a request with this `Accept` header: OpenMetrics when it accepts
    /// `application/openmetrics-text` (in any case, with a `q` above zero) at least as much as
    /// `text/plain`, the classic text format otherwise. The response carries `Vary: Accept`,
    /// so that a cache on the way keeps the two formats apart.
    pub fn response_for(&self, accept: Option<&str>) -> Response<String> {
        let mut response = self.respond(accept.is_some_and(prefers_openmetrics));
        response
            .headers_mut()
            .insert(header::VARY, HeaderValue::from_static("accept"));
        response
    }

    fn respond(&self, openmetrics: bool) -> Response<String> {
        match encode(&self.registry) {
            Ok(text) => {
                let (body, content_type) = if openmetrics {
                    (text, CONTENT_TYPE)
                } else {
                    (openmetrics_to_text(&text), TEXT_CONTENT_TYPE)
                };
                let mut response = Response::new(body);
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                response
            }
            Err(e) => {
                let mut response = Response::new(format!("{e}\n"));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
                response
            }
        }
    }

    /// An async function of the request headers that answers with
    /// [`response_for`](Self::response_for) their `Accept`: an axum handler, or anything that
    /// calls a closure per request.
    pub fn handler(
        &self,
    ) -> impl Fn(HeaderMap) -> Ready<Response<String>> + Clone + Send + Sync + 'static {
        let endpoint = self.clone();
        move |headers: HeaderMap| {
            let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
            std::future::ready(endpoint.response_for(accept))
        }
    }
}

/// Whether an `Accept` header's best quality (`q`, default 1) for
/// `application/openmetrics-text` is above zero and at least its best for `text/plain`. Media
/// types compare without regard to case; a range with an unreadable `q` counts for nothing.
fn prefers_openmetrics(accept: &str) -> bool {
    let (mut openmetrics, mut text) = (0.0f64, 0.0f64);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media_type = parts.next().unwrap_or_default().trim();
        let q = match parts
            .filter_map(|param| param.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("q"))
        {
            Some((_, q)) => match q.trim().parse::<f64>() {
                Ok(q) if (0.0..=1.0).contains(&q) => q,
                _ => continue,
            },
            None => 1.0,
        };
        if media_type.eq_ignore_ascii_case("application/openmetrics-text") {
            openmetrics = openmetrics.max(q);
        } else if media_type.eq_ignore_ascii_case("text/plain") {
            text = text.max(q);
        }
    }
    openmetrics > 0.0 && openmetrics >= text
}
