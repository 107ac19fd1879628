//! `RoutingLayer`: the configuration, cloned into every service.

use std::fmt;
use std::sync::Arc;

use http::header::HeaderName;
use tower_layer::Layer;

use crate::deployment::DeploymentManager;
use crate::header::TIER_HEADER;
use crate::router::Router;
use crate::tower::service::Routing;

/// Decides each request's tier and records it: the [`Decision`](crate::Decision) (and, with a
/// [`DeploymentManager`], the tier's [`RoutedTracer`](crate::tower::RoutedTracer)) goes in the
/// request's extensions, `deployment.tier` in the baggage of the context the inner service
/// runs in, and the tier on the current span.
///
/// What the router sees: the `X-Deployment-Tier` header (name configurable), the key from
/// the [`KeyExtractor`](crate::tower::KeyExtractor), and the tier an upstream service
/// decided: from the current context's baggage (put there by a propagation layer in front of
/// this one), else from the request's W3C `baggage` header.
///
/// ```
/// use std::convert::Infallible;
/// use hivetrace_routing::{Canary, Decision, Percentage, Tier, TierRouter};
/// use hivetrace_routing::tower::{HeaderKey, RoutingLayer};
/// use tower::{Layer, Service, ServiceExt};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let router = TierRouter::new(Canary::new(Percentage::new(10.0)?));
/// let layer = RoutingLayer::new(router).key(HeaderKey::new("x-user-id")?);
/// let service = layer.layer(tower::service_fn(|req: http::Request<()>| async move {
///     let decision = req.extensions().get::<Decision>().cloned().unwrap_or_default();
///     Ok::<_, Infallible>(decision.tier().to_string())
/// }));
/// let request = http::Request::builder().header("x-deployment-tier", "canary").body(())?;
/// let tier = futures_executor::block_on(service.oneshot(request))?;
/// assert_eq!(tier, "canary");
/// # Ok(()) }
/// ```
pub struct RoutingLayer<R, K = ()> {
    pub(crate) router: Arc<R>,
    pub(crate) key: K,
    pub(crate) header: HeaderName,
    pub(crate) deployments: Option<DeploymentManager>,
}

impl<R: Router> RoutingLayer<R, ()> {
    /// A layer deciding with `router`, with no key (keyless requests get a random draw).
    pub fn new(router: R) -> Self {
        RoutingLayer {
            router: Arc::new(router),
            key: (),
            header: HeaderName::from_static(TIER_HEADER),
            deployments: None,
        }
    }
}

impl<R, K> RoutingLayer<R, K> {
    /// Where the sticky key comes from.
    pub fn key<K2>(self, key: K2) -> RoutingLayer<R, K2> {
        RoutingLayer {
            router: self.router,
            key,
            header: self.header,
            deployments: self.deployments,
        }
    }

    /// Reads the tier from this header instead of `x-deployment-tier`.
    #[must_use]
    pub fn header(mut self, name: HeaderName) -> Self {
        self.header = name;
        self
    }

    /// Puts the tier's tracer in the extensions, from
    /// [`DeploymentManager::tracer_for_tier`].
    #[must_use]
    pub fn deployments(mut self, manager: DeploymentManager) -> Self {
        self.deployments = Some(manager);
        self
    }
}

impl<R, K: Clone> Clone for RoutingLayer<R, K> {
    fn clone(&self) -> Self {
        RoutingLayer {
            router: Arc::clone(&self.router),
            key: self.key.clone(),
            header: self.header.clone(),
            deployments: self.deployments.clone(),
        }
    }
}

impl<R: fmt::Debug, K> fmt::Debug for RoutingLayer<R, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutingLayer")
            .field("router", &self.router)
            .field("header", &self.header)
            .field("deployments", &self.deployments)
            .finish_non_exhaustive()
    }
}

impl<S, R, K: Clone> Layer<S> for RoutingLayer<R, K> {
    type Service = Routing<S, R, K>;

    fn layer(&self, inner: S) -> Self::Service {
        Routing {
            inner,
            layer: self.clone(),
        }
    }
}
