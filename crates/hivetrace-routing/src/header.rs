//! The `X-Deployment-Tier` header: a client or an edge proxy picks the tier.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::decision::{Decision, TierSource};
use crate::router::{RouteRequest, Router};
use crate::tier::Tier;

/// The request header that selects a tier.
pub const TIER_HEADER: &str = "x-deployment-tier";

/// The tiers a header or an upstream service may name: the built-in three and any you add.
///
/// ```
/// use hivetrace_routing::{Tier, TierNames};
///
/// let names = TierNames::new().with(Tier::custom("shadow")?);
/// assert_eq!(names.find(" Shadow "), Some(&Tier::custom("shadow")?));
/// assert_eq!(names.find("CANARY"), Some(&Tier::CANARY));
/// assert_eq!(names.find("beta"), None);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TierNames(Arc<[Tier]>);

impl TierNames {
    /// `stable`, `canary` and `experimental`.
    pub fn new() -> Self {
        TierNames(Arc::from([Tier::STABLE, Tier::CANARY, Tier::EXPERIMENTAL]))
    }

    /// These names and `tier`.
    #[must_use]
    pub fn with(self, tier: Tier) -> Self {
        if self.0.contains(&tier) {
            return self;
        }
        let mut tiers = self.0.to_vec();
        tiers.push(tier);
        TierNames(Arc::from(tiers))
    }

    /// The tier named `value`: surrounding whitespace ignored, ASCII case-insensitive.
    #[inline]
    pub fn find(&self, value: &str) -> Option<&Tier> {
        let value = value.trim_ascii();
        self.0
            .iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(value))
    }

    /// Every name, built-in ones first.
    pub fn iter(&self) -> impl Iterator<Item = &Tier> {
        self.0.iter()
    }
}

impl Default for TierNames {
    fn default() -> Self {
        Self::new()
    }
}

/// Chooses the tier the `X-Deployment-Tier` header names.
///
/// A known name decides; an empty or absent header passes to the next router; an unknown name
/// falls back to stable (it does not fall through to the percentage: a client that asked for a
/// tier gets a predictable one) and is counted in [`unknown_count`](Self::unknown_count).
///
/// ```
/// use hivetrace_routing::{HeaderRouter, RouteRequest, Router, Tier, TierSource};
///
/// let router = HeaderRouter::new().tier(Tier::custom("shadow")?);
/// let d = router.decide(&RouteRequest::new().header("shadow"));
/// assert_eq!(d.tier().as_str(), "shadow");
/// let d = router.decide(&RouteRequest::new().header("beta"));
/// assert_eq!((d.tier(), d.source()), (&Tier::STABLE, TierSource::UnknownHeader));
/// assert_eq!(router.unknown_count(), 1);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone)]
pub struct HeaderRouter {
    names: TierNames,
    unknown: Arc<AtomicU64>,
}

impl HeaderRouter {
    /// A router accepting `stable`, `canary` and `experimental`.
    pub fn new() -> Self {
        Self::with_names(TierNames::new())
    }

    /// A router accepting these names.
    pub fn with_names(names: TierNames) -> Self {
        HeaderRouter {
            names,
            unknown: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Also accepts `tier`.
    #[must_use]
    pub fn tier(mut self, tier: Tier) -> Self {
        self.names = self.names.with(tier);
        self
    }

    /// The names accepted.
    pub fn names(&self) -> &TierNames {
        &self.names
    }

    /// How many requests named an unknown tier (shared by clones).
    pub fn unknown_count(&self) -> u64 {
        self.unknown.load(Ordering::Relaxed)
    }
}

impl Default for HeaderRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl Router for HeaderRouter {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        let value = request.header_value()?;
        if value.trim_ascii().is_empty() {
            return None;
        }
        Some(match self.names.find(value) {
            Some(tier) => Decision::new(tier.clone(), TierSource::Header),
            None => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
                Decision::new(Tier::STABLE, TierSource::UnknownHeader)
            }
        })
    }
}

impl fmt::Debug for HeaderRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HeaderRouter")
            .field("names", &self.names)
            .field("unknown", &self.unknown_count())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_names_decide_in_any_case_and_spacing() {
        let router = HeaderRouter::new();
        for (value, tier) in [
            ("stable", Tier::STABLE),
            ("Canary", Tier::CANARY),
            ("  EXPERIMENTAL\t", Tier::EXPERIMENTAL),
        ] {
            let d = router.route(&RouteRequest::new().header(value)).unwrap();
            assert_eq!(d, Decision::new(tier, TierSource::Header));
        }
        assert_eq!(router.unknown_count(), 0);
    }

    #[test]
    fn absent_or_blank_headers_pass() {
        let router = HeaderRouter::new();
        assert_eq!(router.route(&RouteRequest::new()), None);
        assert_eq!(router.route(&RouteRequest::new().header("  ")), None);
        assert_eq!(router.unknown_count(), 0);
    }

    #[test]
    fn unknown_names_fall_back_to_stable_and_are_counted_across_clones() {
        let router = HeaderRouter::new();
        let clone = router.clone();
        for v in ["beta", "canary2", "shadow"] {
            let d = clone.route(&RouteRequest::new().header(v)).unwrap();
            assert_eq!(d, Decision::new(Tier::STABLE, TierSource::UnknownHeader));
        }
        assert_eq!(router.unknown_count(), 3);
    }
}
