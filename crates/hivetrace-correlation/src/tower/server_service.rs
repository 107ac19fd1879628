//! The server service: opens the SERVER span for each request.

use std::borrow::Cow;
use std::task::{Context as TaskContext, Poll};

use hivetrace_core::EventType;
use opentelemetry::trace::SpanKind;
use opentelemetry::{Context, KeyValue};
use tower_service::Service;

use super::attributes::{
    HTTP_REQUEST_METHOD, HTTP_REQUEST_METHOD_ORIGINAL, HTTP_ROUTE, URL_PATH, URL_QUERY, URL_SCHEME,
};
use super::server_future::ServerResponseFuture;
use super::server_layer::ServerLayer;
use crate::headers;
use crate::request_id::RequestId;

/// A service traced by [`ServerLayer`].
///
/// ```
/// use hivetrace_correlation::tower::{Server, ServerLayer};
/// use tower_layer::Layer;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// # let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// # #[derive(Clone)] struct MyService;
/// let traced: Server<MyService> = ServerLayer::new(tracer).layer(MyService);
/// # let _ = traced; Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Server<S> {
    pub(crate) inner: S,
    pub(crate) layer: ServerLayer,
}

impl<S> Server<S> {
    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Server<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone,
    S::Error: std::fmt::Display,
    ResBody: http_body::Body,
{
    type Response = http::Response<super::TracedBody<ResBody>>;
    type Error = S::Error;
    type Future = ServerResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
        // The clone is not ready; the ready one, driven by poll_ready, serves this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);

        let parent = Context::map_current(|cx| headers::extract_with_context(cx, req.headers()));
        // The caller's `x-request-id`, else the one its baggage carries, else a new one.
        let request_id = RequestId::from_headers(req.headers())
            .or_else(|| RequestId::from_context(&parent))
            .unwrap_or_else(RequestId::generate);
        let cx = request_id.in_context(&parent);

        let method = super::method_name(req.method());
        let route = self
            .layer
            .route
            .as_ref()
            .and_then(|route| route(req.method(), req.uri()));
        // Semantic conventions: an unknown method names the span `HTTP`.
        let known = method != "_OTHER";
        let name: Cow<'static, str> = match (&route, known) {
            (Some(route), true) => format!("{method} {route}").into(),
            (Some(route), false) => format!("HTTP {route}").into(),
            (None, true) => method.clone(),
            (None, false) => Cow::Borrowed("HTTP"),
        };
        let mut attributes = Vec::with_capacity(7);
        attributes.push(KeyValue::new(HTTP_REQUEST_METHOD, method));
        if !known {
            attributes.push(KeyValue::new(
                HTTP_REQUEST_METHOD_ORIGINAL,
                req.method().as_str().to_owned(),
            ));
        }
        attributes.push(KeyValue::new(URL_PATH, req.uri().path().to_owned()));
        // Required by the semantic conventions; an HTTP/1 request URI rarely carries it.
        let scheme = match req.uri().scheme_str() {
            Some(scheme) => Cow::Owned(scheme.to_owned()),
            None => self.layer.scheme.clone(),
        };
        attributes.push(KeyValue::new(URL_SCHEME, scheme));
        if let Some(query) = req.uri().query() {
            let query = if super::has_sensitive_values(query) {
                let mut redacted = String::with_capacity(query.len());
                super::redacted_query(query, &mut redacted);
                redacted
            } else {
                query.to_owned()
            };
            attributes.push(KeyValue::new(URL_QUERY, query));
        }
        if let Some(route) = route {
            attributes.push(KeyValue::new(HTTP_ROUTE, route));
        }
        let span = self
            .layer
            .tracer
            .span(name)
            .kind(SpanKind::Server)
            .event_type(EventType::Chain)
            .attributes(attributes)
            .parent(&cx)
            .start();
        req.extensions_mut().insert(request_id.clone());
        let method = req.method().clone();

        let future = {
            let _current = span.enter();
            inner.call(req)
        };
        let echo = self.layer.echo_request_id.then_some(request_id);
        ServerResponseFuture::new(future, span, echo, method)
    }
}
