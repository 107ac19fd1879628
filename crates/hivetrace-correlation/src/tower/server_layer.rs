//! The server layer: configuration, cheap to clone.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use hivetrace_core::Tracer;
use tower_layer::Layer;

use super::server_service::Server;

/// Finds the route template (`/users/{id}`) of a request, for `http.route` and the span name.
pub type RouteFn =
    Arc<dyn Fn(&http::Method, &http::Uri) -> Option<Cow<'static, str>> + Send + Sync>;

/// Traces incoming HTTP requests; see the [module docs](super).
///
/// ```
/// use hivetrace_correlation::tower::ServerLayer;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// let layer = ServerLayer::new(tracer).route(|_, uri| {
///     uri.path().starts_with("/users/").then_some("/users/{id}".into())
/// });
/// # let _ = layer; Ok(()) }
/// ```
#[derive(Clone)]
pub struct ServerLayer {
    pub(crate) tracer: Tracer,
    pub(crate) route: Option<RouteFn>,
    pub(crate) echo_request_id: bool,
    pub(crate) scheme: Cow<'static, str>,
}

impl fmt::Debug for ServerLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerLayer")
            .field("tracer", &self.tracer)
            .field("route", &self.route.is_some())
            .field("echo_request_id", &self.echo_request_id)
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl ServerLayer {
    /// A layer that starts its spans with `tracer`.
    pub fn new(tracer: Tracer) -> Self {
        ServerLayer {
            tracer,
            route: None,
            echo_request_id: true,
            scheme: Cow::Borrowed("http"),
        }
    }

    /// How to find a request's route template. Without it, spans are named after the method
    /// alone and carry no `http.route` (a raw path would make span names high-cardinality).
    pub fn route<F>(mut self, route: F) -> Self
    where
        F: Fn(&http::Method, &http::Uri) -> Option<Cow<'static, str>> + Send + Sync + 'static,
    {
        self.route = Some(Arc::new(route));
        self
    }

    /// The `url.scheme` of requests whose URI has none, which is how HTTP/1 requests arrive:
    /// `"https"` behind TLS. Default `"http"`.
    pub fn scheme(mut self, scheme: impl Into<Cow<'static, str>>) -> Self {
        self.scheme = scheme.into();
        self
    }

    /// Whether responses carry `x-request-id` (default yes; a handler's own value is kept).
    pub fn echo_request_id(mut self, echo: bool) -> Self {
        self.echo_request_id = echo;
        self
    }
}

impl<S> Layer<S> for ServerLayer {
    type Service = Server<S>;

    fn layer(&self, inner: S) -> Server<S> {
        Server {
            inner,
            layer: self.clone(),
        }
    }
}
