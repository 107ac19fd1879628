//! The `Router` trait: one rule that may choose a tier, and how rules compose.

use std::sync::Arc;

use crate::decision::Decision;

/// What a router looks at: the tier header, the user's key and the upstream tier.
///
/// Borrowed, so building one costs nothing.
///
/// ```
/// use hivetrace_routing::RouteRequest;
///
/// let request = RouteRequest::new().key("user-42").header("canary");
/// assert_eq!(request.key_value(), Some("user-42"));
/// assert_eq!(request.upstream_value(), None);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RouteRequest<'a> {
    header: Option<&'a str>,
    key: Option<&'a str>,
    upstream: Option<&'a str>,
}

impl<'a> RouteRequest<'a> {
    /// A request with no header, no key and no upstream tier.
    pub fn new() -> Self {
        RouteRequest::default()
    }

    /// The value of the `X-Deployment-Tier` header.
    pub fn header(mut self, value: &'a str) -> Self {
        self.header = Some(value);
        self
    }

    /// The sticky key: a user id, an account id.
    pub fn key(mut self, key: &'a str) -> Self {
        self.key = Some(key);
        self
    }

    /// The tier an upstream service decided (the `deployment.tier` baggage entry).
    pub fn upstream(mut self, tier: &'a str) -> Self {
        self.upstream = Some(tier);
        self
    }

    /// Sets or clears the header value.
    pub fn with_header(mut self, value: Option<&'a str>) -> Self {
        self.header = value;
        self
    }

    /// Sets or clears the key.
    pub fn with_key(mut self, key: Option<&'a str>) -> Self {
        self.key = key;
        self
    }

    /// Sets or clears the upstream tier.
    pub fn with_upstream(mut self, tier: Option<&'a str>) -> Self {
        self.upstream = tier;
        self
    }

    /// The tier header's value, if any.
    pub fn header_value(&self) -> Option<&'a str> {
        self.header
    }

    /// The key, if any.
    pub fn key_value(&self) -> Option<&'a str> {
        self.key
    }

    /// The upstream tier, if any.
    pub fn upstream_value(&self) -> Option<&'a str> {
        self.upstream
    }
}

/// One routing rule: it chooses a tier for a request, or passes (`None`) to the next rule.
///
/// Implement it for your own rules (a tenant list, a region, a feature flag) and compose with
/// [`Router::or`] or in a [`TierRouter`](crate::TierRouter). Implementations are called on
/// every request: they should not block, lock or allocate.
///
/// ```
/// use hivetrace_routing::{Canary, Decision, Percentage, RouteRequest, Router, Tier, TierSource};
///
/// /// Internal users always get the experimental build.
/// struct Staff;
///
/// impl Router for Staff {
///     fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
///         let key = request.key_value()?;
///         key.ends_with("@example.com")
///             .then(|| Decision::new(Tier::EXPERIMENTAL, TierSource::Custom))
///     }
/// }
///
/// let router = Staff.or(Canary::new(Percentage::new(10.0)?));
/// let d = router.decide(&RouteRequest::new().key("ana@example.com"));
/// assert_eq!(d.tier(), &Tier::EXPERIMENTAL);
/// let d = router.decide(&RouteRequest::new().key("user-7"));
/// assert_eq!(d.source(), TierSource::Percentage);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
pub trait Router: Send + Sync {
    /// The tier for this request, or `None` to let the next router decide.
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision>;

    /// The tier for this request: this router's choice, else stable ([`Decision::default`]).
    fn decide(&self, request: &RouteRequest<'_>) -> Decision {
        self.route(request).unwrap_or_default()
    }

    /// This router, then `next` when this one passes.
    fn or<R: Router>(self, next: R) -> Or<Self, R>
    where
        Self: Sized,
    {
        Or {
            first: self,
            second: next,
        }
    }
}

/// Two routers in order: the second decides when the first passes. From [`Router::or`].
///
/// ```
/// use hivetrace_routing::{HeaderRouter, RouteRequest, Router, Tier, UserRules};
///
/// let rules = UserRules::new();
/// rules.set("user-1", Tier::CANARY);
/// let router = HeaderRouter::new().or(rules);
/// assert_eq!(router.decide(&RouteRequest::new().key("user-1")).tier(), &Tier::CANARY);
/// let header_wins = RouteRequest::new().key("user-1").header("stable");
/// assert_eq!(router.decide(&header_wins).tier(), &Tier::STABLE);
/// ```
#[derive(Clone, Debug)]
pub struct Or<A, B> {
    first: A,
    second: B,
}

impl<A: Router, B: Router> Router for Or<A, B> {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        self.first
            .route(request)
            .or_else(|| self.second.route(request))
    }
}

/// A router from a closure. From [`router_fn`].
#[derive(Clone, Copy, Debug)]
pub struct RouterFn<F>(F);

/// Wraps a closure as a [`Router`].
///
/// ```
/// use hivetrace_routing::{router_fn, Decision, RouteRequest, Router, Tier, TierSource};
///
/// let eu = router_fn(|r: &RouteRequest<'_>| {
///     r.key_value()?.starts_with("eu-").then(|| Decision::new(Tier::STABLE, TierSource::Custom))
/// });
/// assert_eq!(eu.decide(&RouteRequest::new().key("eu-9")).source(), TierSource::Custom);
/// ```
pub fn router_fn<F>(f: F) -> RouterFn<F>
where
    F: Fn(&RouteRequest<'_>) -> Option<Decision> + Send + Sync,
{
    RouterFn(f)
}

impl<F> Router for RouterFn<F>
where
    F: Fn(&RouteRequest<'_>) -> Option<Decision> + Send + Sync,
{
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        (self.0)(request)
    }
}

impl<R: Router + ?Sized> Router for Arc<R> {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        (**self).route(request)
    }
}

impl<R: Router + ?Sized> Router for Box<R> {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        (**self).route(request)
    }
}

impl<R: Router + ?Sized> Router for &R {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        (**self).route(request)
    }
}

/// Routers tried in order; the first that decides wins.
impl<R: Router> Router for Vec<R> {
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        self.iter().find_map(|r| r.route(request))
    }
}
