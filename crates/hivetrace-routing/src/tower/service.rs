//! `Routing<S>`: the service deciding each request's tier.

use std::fmt;
use std::task::{Context as TaskContext, Poll};

use hivetrace_core::Tracer;
use opentelemetry::Context;
use tower_service::Service;

use crate::propagation::{tier_in_baggage_header, upstream_tier};
use crate::router::{RouteRequest, Router};
use crate::tower::future::ResponseFuture;
use crate::tower::key::KeyExtractor;
use crate::tower::layer::RoutingLayer;

/// The W3C baggage header.
const BAGGAGE_HEADER: &str = "baggage";

/// What a header that is not text counts as: an unknown tier name.
const NOT_TEXT: &str = "\u{fffd}";

/// The tracer of the request's tier, in its extensions when [`RoutingLayer::deployments`] is
/// set.
///
/// ```
/// use hivetrace_routing::tower::RoutedTracer;
///
/// fn handle(request: &http::Request<()>) {
///     if let Some(RoutedTracer(tracer)) = request.extensions().get::<RoutedTracer>() {
///         let _span = tracer.span("handle").start(); // exported with the tier's settings
///     }
/// }
/// # handle(&http::Request::new(()));
/// ```
#[derive(Clone, Debug)]
pub struct RoutedTracer(pub Tracer);

/// The service [`RoutingLayer`] wraps around yours: it decides the tier, records it, and calls
/// yours (which must be ready: `poll_ready` is yours).
pub struct Routing<S, R, K> {
    pub(crate) inner: S,
    pub(crate) layer: RoutingLayer<R, K>,
}

impl<S: Clone, R, K: Clone> Clone for Routing<S, R, K> {
    fn clone(&self) -> Self {
        Routing {
            inner: self.inner.clone(),
            layer: self.layer.clone(),
        }
    }
}

impl<S: fmt::Debug, R: fmt::Debug, K> fmt::Debug for Routing<S, R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routing")
            .field("inner", &self.inner)
            .field("layer", &self.layer)
            .finish()
    }
}

impl<S, R, K, B> Service<http::Request<B>> for Routing<S, R, K>
where
    S: Service<http::Request<B>> + Clone,
    R: Router,
    K: KeyExtractor<B>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        let parent = Context::current();
        let decision = {
            let header = request
                .headers()
                .get(&self.layer.header)
                .map(|v| v.to_str().unwrap_or(NOT_TEXT));
            let route = RouteRequest::new()
                .with_header(header)
                .with_key(self.layer.key.key(&request))
                .with_upstream(upstream_tier(&parent).or_else(|| {
                    // No propagation layer in front: read the W3C header itself.
                    tier_in_baggage_headers(request.headers())
                }));
            self.layer.router.decide(&route)
        };
        decision.record_in(&parent);
        let cx = decision.with_baggage(&parent);
        if let Some(manager) = &self.layer.deployments {
            match manager.tracer_for_tier(decision.tier()) {
                Ok(tracer) => {
                    request.extensions_mut().insert(RoutedTracer(tracer));
                }
                Err(error) => {
                    tracing::warn!(target: "hivetrace_routing::tower", %error, tier = %decision.tier(), "no tracer for the request's tier");
                }
            }
        }
        request.extensions_mut().insert(decision);

        // `poll_ready` readied `self.inner`, not its clone: call the ready one and keep the
        // clone for the next `poll_ready`.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let future = {
            let _attached = cx.clone().attach();
            inner.call(request)
        };
        ResponseFuture::new(future, cx)
    }
}

/// The `deployment.tier` entry of a request's `baggage` headers: the spec lets baggage come in
/// several header lines, read as one list, so the last line that names a tier counts (as the
/// last member does within a line). Lines that are not text are skipped.
fn tier_in_baggage_headers(headers: &http::HeaderMap) -> Option<&str> {
    headers
        .get_all(BAGGAGE_HEADER)
        .iter()
        .rev()
        .filter_map(|value| value.to_str().ok())
        .find_map(tier_in_baggage_header)
}

#[cfg(test)]
mod tests {
    use super::tier_in_baggage_headers;

    #[test]
    fn every_baggage_line_is_read_and_the_last_tier_counts() {
        let mut headers = http::HeaderMap::new();
        assert_eq!(tier_in_baggage_headers(&headers), None);
        headers.append(
            "baggage",
            "deployment.tier=stable".parse().expect("valid header"),
        );
        headers.append(
            "baggage",
            "user.id=u-1,deployment.tier=stable,deployment.tier=canary"
                .parse()
                .expect("valid header"),
        );
        headers.append("baggage", "region=eu".parse().expect("valid header"));
        headers.append(
            "baggage",
            http::HeaderValue::from_bytes(b"a=\xff").expect("valid header"),
        );
        assert_eq!(tier_in_baggage_headers(&headers), Some("canary"));
    }
}
