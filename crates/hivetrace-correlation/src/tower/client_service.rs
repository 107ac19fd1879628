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
        let (address, port) = server_of(&req);
        if let Some(address) = address {
            attributes.push(KeyValue::new(SERVER_ADDRESS, address));
        }
        if let Some(port) = port {
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

/// `server.address` and `server.port` (both required by the semantic conventions): the URI's
/// host and port, or for a URI without a host (a request for a connection already made) the
/// `Host` header's; the port otherwise the scheme's default. IPv6 addresses without brackets.
fn server_of<B>(req: &http::Request<B>) -> (Option<String>, Option<u16>) {
    let bare = |host: &str| {
        host.strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned()
    };
    let uri = req.uri();
    let (address, port) = match uri.authority() {
        Some(authority) => (Some(bare(authority.host())), authority.port_u16()),
        None => match req
            .headers()
            .get(http::header::HOST)
            .and_then(|host| host.to_str().ok())
            .and_then(|host| host.parse::<http::uri::Authority>().ok())
        {
            Some(authority) => (Some(bare(authority.host())), authority.port_u16()),
            None => (None, None),
        },
    };
    let port = port.or(match uri.scheme_str() {
        Some("https") => Some(443),
        Some("http") => Some(80),
        _ => None,
    });
    (address, port)
}

/// `uri` as `url.full`: credentials in its user info become `REDACTED:REDACTED`, and the
/// values of signature parameters become `REDACTED` ([`super::redacted_query`]; semantic
/// conventions: `url.full` MUST NOT contain credentials). Otherwise the URI as it displays.
fn url_full(uri: &http::Uri) -> String {
    let authority = uri.authority().map(http::uri::Authority::as_str);
    let user_info = authority.and_then(|a| a.rfind('@'));
    let query = uri.query();
    if user_info.is_none() && !query.is_some_and(super::has_sensitive_values) {
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
        super::redacted_query(query, &mut out);
    }
    out
}
