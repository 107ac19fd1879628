//! The client service: a CLIENT span per request, the context injected into its headers.

use std::task::{Context as TaskContext, Poll};

use hivetrace_core::{EventType, Tracer};
use opentelemetry::KeyValue;
use opentelemetry::trace::SpanKind;
use tower_service::Service;

use super::attributes::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, SERVER_ADDRESS, SERVER_PORT, URL_FULL,
};
use super::client_future::ClientResponseFuture;
use crate::headers;
use crate::request_id::{REQUEST_ID_HEADER, RequestId};

/// A client service traced by [`ClientLayer`](super::ClientLayer).
///
/// ```
/// use hivetrace_correlation::tower::{Client, ClientLayer};
/// use tower_layer::Layer;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// # let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// # #[derive(Clone)] struct HttpClient;
/// let traced: Client<HttpClient> = ClientLayer::new(tracer).layer(HttpClient);
/// # let _ = traced; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Client<S> {
    pub(crate) inner: S,
    pub(crate) tracer: Tracer,
}

impl<S> Client<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Client<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone,
    S::Error: std::fmt::Display,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let method = super::method_name(req.method());
        let mut attributes = Vec::with_capacity(5);
        // Semantic conventions: an unknown method names the span `HTTP`.
        let name = if method == "_OTHER" {
            attributes.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                req.method().as_str().to_owned(),
            ));
            std::borrow::Cow::Borrowed("HTTP")
        } else {
            method.clone()
        };
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method));
        attributes.push(KeyValue::new(URL_FULL, url_full(req.uri())));
        if let Some(host) = req.uri().host() {
            attributes.push(KeyValue::new(SERVER_ADDRESS, host.to_owned()));
        }
        if let Some(port) = req.uri().port_u16() {
            attributes.push(KeyValue::new(SERVER_PORT, i64::from(port)));
        }
        let span = self
            .tracer
            .span(name)
            .kind(SpanKind::Client)
            .event_type(EventType::Tool)
            .attributes(attributes)
            .start();
        headers::inject_context(span.context(), req.headers_mut());
        if let Some(id) = RequestId::from_context(span.context()) {
            // `try_entry`: `entry` panics on a map already as large as a header map can be.
            if let Ok(entry) = req.headers_mut().try_entry(REQUEST_ID_HEADER) {
                entry.or_insert_with(|| id.header_value());
            }
        }
        let future = {
            let _current = span.enter();
            inner.call(req)
        };
        ClientResponseFuture::new(future, span)
    }
}

/// Query parameters whose values semantic conventions redact from `url.full` by default:
/// the signatures of pre-signed S3, Azure and Google Cloud Storage URLs.
const SENSITIVE_QUERY_KEYS: [&str; 4] = ["AWSAccessKeyId", "Signature", "sig", "X-Goog-Signature"];

/// `uri` as `url.full`: credentials in its user info become `REDACTED:REDACTED`, and the
/// values of [`SENSITIVE_QUERY_KEYS`] become `REDACTED` (semantic conventions: `url.full`
/// MUST NOT contain credentials). Otherwise the URI as it displays.
fn url_full(uri: &http::Uri) -> String {
    let authority = uri.authority().map(http::uri::Authority::as_str);
    let user_info = authority.and_then(|a| a.rfind('@'));
    let query = uri.query();
    if user_info.is_none() && !query.is_some_and(|q| q.split('&').any(|p| sensitive(p).is_some())) {
        return uri.to_string();
    }
    let pq_len = uri.path_and_query().map_or(0, |pq| pq.as_str().len());
    let mut out = String::with_capacity(authority.map_or(0, str::len) + pq_len + 64);
    if let Some(scheme) = uri.scheme_str() {
        out.push_str(scheme);
        out.push_str("://");
    }
    if let Some(authority) = authority {
        match user_info {
            Some(at) => {
                out.push_str("REDACTED:REDACTED@");
                out.push_str(&authority[at + 1..]);
            }
            None => out.push_str(authority),
        }
    }
    out.push_str(uri.path());
    if let Some(query) = query {
        out.push('?');
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
    out
}

/// The key of a query `pair` whose value is to be redacted.
fn sensitive(pair: &str) -> Option<&str> {
    let (key, _value) = pair.split_once('=')?;
    SENSITIVE_QUERY_KEYS.contains(&key).then_some(key)
}
