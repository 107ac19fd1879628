//! The usual composition: header, upstream decision, per-user rules, your rules, percentage.

use std::fmt;
use std::sync::Arc;

use crate::bucket::key_hash;
use crate::canary::Canary;
use crate::decision::Decision;
use crate::error::Result;
use crate::header::{HeaderRouter, TierNames};
use crate::propagation::UpstreamRouter;
use crate::router::{RouteRequest, Router};
use crate::tier::Tier;
use crate::user_rules::UserRules;

/// Decides a request's tier in a fixed order of precedence:
///
/// 1. the `X-Deployment-Tier` header ([`HeaderRouter`]; an unknown name means stable);
/// 2. the tier an upstream service decided, from baggage ([`UpstreamRouter`]);
/// 3. per-user rules ([`UserRules`]);
/// 4. your own routers, in the order added ([`TierRouter::router`]);
/// 5. the canary percentage ([`Canary`]): sticky by key, random without one.
///
/// Clones share the percentage, the rules and the counters. A decision with no header, a key
/// and no rule hashes the key once, reads the rules and the percentage without a lock, and
/// allocates nothing.
///
/// ```
/// use hivetrace_routing::{Canary, Percentage, RouteRequest, Router, Tier, TierRouter, TierSource};
///
/// let canary = Canary::new(Percentage::new(5.0)?);
/// let router = TierRouter::new(canary.clone()).tier(Tier::custom("shadow")?);
/// router.rules().set("beta-1", Tier::CANARY);
///
/// let by_header = router.decide(&RouteRequest::new().header("shadow").key("beta-1"));
/// assert_eq!((by_header.tier().as_str(), by_header.source()), ("shadow", TierSource::Header));
/// let by_rule = router.decide(&RouteRequest::new().key("beta-1"));
/// assert_eq!(by_rule.source(), TierSource::Rule);
/// let by_percentage = router.decide(&RouteRequest::new().key("user-42"));
/// assert_eq!(by_percentage.source(), TierSource::Percentage);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone)]
pub struct TierRouter {
    header: HeaderRouter,
    upstream: UpstreamRouter,
    rules: UserRules,
    custom: Vec<Arc<dyn Router>>,
    canary: Canary,
}

impl TierRouter {
    /// The header, upstream and rule routers in front of `canary`.
    pub fn new(canary: Canary) -> Self {
        TierRouter {
            header: HeaderRouter::new(),
            upstream: UpstreamRouter::new(),
            rules: UserRules::new(),
            custom: Vec::new(),
            canary,
        }
    }

    /// A router whose canary starts at `CANARY_PERCENTAGE` (0 when unset).
    pub fn from_env() -> Result<Self> {
        Ok(Self::new(Canary::from_env()?))
    }

    /// Accepts `tier` in the header and from upstream too.
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.header = HeaderRouter::with_names(self.header.names().clone().with(tier));
        self.upstream = UpstreamRouter::with_names(self.header.names().clone());
        self
    }

    /// Uses these rules (shared with the caller's clone) instead of empty ones.
    #[must_use]
    pub fn with_rules(mut self, rules: UserRules) -> Self {
        self.rules = rules;
        self
    }

    /// Adds a router of your own, consulted after the per-user rules and before the percentage.
    #[must_use]
    pub fn router(mut self, router: impl Router + 'static) -> Self {
        self.custom.push(Arc::new(router));
        self
    }

    /// The header router (for its count of unknown names).
    pub fn header(&self) -> &HeaderRouter {
        &self.header
    }

    /// The upstream router (for its count of unknown names).
    pub fn upstream(&self) -> &UpstreamRouter {
        &self.upstream
    }

    /// The per-user rules, to change at run time.
    pub fn rules(&self) -> &UserRules {
        &self.rules
    }

    /// The canary percentage, to read or move.
    pub fn canary(&self) -> &Canary {
        &self.canary
    }

    /// The tier names accepted from the header and upstream.
    pub fn names(&self) -> &TierNames {
        self.header.names()
    }
}

impl Router for TierRouter {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        if let Some(d) = self.header.route(request) {
            return Some(d);
        }
        if let Some(d) = self.upstream.route(request) {
            return Some(d);
        }
        // The key is hashed at most once, for the rules and the percentage both.
        let key = request.key_value();
        let mut hash = None;
        if let Some(key) = key
            && let Some(d) = self.rules.lookup(key, || *hash.insert(key_hash(key)))
        {
            return Some(d);
        }
        if let Some(d) = self.custom.iter().find_map(|r| r.route(request)) {
            return Some(d);
        }
        Some(
            self.canary
                .assign_hashed(key.map(|k| move || hash.unwrap_or_else(|| key_hash(k)))),
        )
    }
}

impl fmt::Debug for TierRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TierRouter")
            .field("header", &self.header)
            .field("upstream", &self.upstream)
            .field("rules", &self.rules)
            .field("custom", &self.custom.len())
            .field("canary", &self.canary)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decision::TierSource;
    use crate::percentage::Percentage;
    use crate::router::router_fn;

    #[test]
    fn precedence_is_header_upstream_rule_custom_percentage() {
        let router = TierRouter::new(Canary::new(Percentage::HUNDRED)).router(router_fn(
            |r: &RouteRequest<'_>| {
                (r.key_value()? == "vip")
                    .then(|| Decision::new(Tier::EXPERIMENTAL, TierSource::Custom))
            },
        ));
        router.rules().set("pinned", Tier::STABLE);
        let decide = |r: RouteRequest<'_>| {
            let d = router.decide(&r);
            (d.tier().as_str().to_owned(), d.source())
        };
        let all = RouteRequest::new()
            .header("experimental")
            .upstream("canary")
            .key("pinned");
        assert_eq!(decide(all), ("experimental".into(), TierSource::Header));
        assert_eq!(
            decide(all.with_header(None)),
            ("canary".into(), TierSource::Upstream)
        );
        assert_eq!(
            decide(all.with_header(None).with_upstream(None)),
            ("stable".into(), TierSource::Rule)
        );
        assert_eq!(
            decide(RouteRequest::new().key("vip")),
            ("experimental".into(), TierSource::Custom)
        );
        assert_eq!(
            decide(RouteRequest::new().key("anyone")),
            ("canary".into(), TierSource::Percentage)
        );
        assert_eq!(
            decide(RouteRequest::new()),
            ("canary".into(), TierSource::Random)
        );
        // An unknown header stops at stable; an unknown upstream tier falls through.
        assert_eq!(
            decide(RouteRequest::new().header("beta").key("anyone")),
            ("stable".into(), TierSource::UnknownHeader)
        );
        assert_eq!(
            decide(RouteRequest::new().upstream("beta").key("anyone")),
            ("canary".into(), TierSource::Percentage)
        );
        assert_eq!(router.header().unknown_count(), 1);
        assert_eq!(router.upstream().unknown_count(), 1);
    }

    #[test]
    fn configured_tiers_are_accepted_from_header_and_upstream() {
        let shadow = Tier::custom("shadow").unwrap();
        let router = TierRouter::new(Canary::new(Percentage::ZERO)).tier(shadow.clone());
        assert_eq!(
            router.decide(&RouteRequest::new().header("SHADOW")).tier(),
            &shadow
        );
        assert_eq!(
            router
                .decide(&RouteRequest::new().upstream("shadow"))
                .tier(),
            &shadow
        );
        assert_eq!(router.names().iter().count(), 4);
    }
}
