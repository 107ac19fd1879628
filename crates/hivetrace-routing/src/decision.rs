//! What a router decided: the tier, and why.

use std::fmt;

use crate::tier::Tier;

/// Why a request got its tier; recorded next to the tier as `deployment.tier.source`.
///
/// ```
/// use hivetrace_routing::{HeaderRouter, RouteRequest, Router, TierSource};
///
/// let d = HeaderRouter::new().decide(&RouteRequest::new().header("nightly"));
/// assert_eq!(d.source(), TierSource::UnknownHeader);
/// assert_eq!(d.source().as_str(), "unknown_header");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TierSource {
    /// The `X-Deployment-Tier` header named a known tier.
    Header,
    /// The header named no known tier: the request fell back to stable (and was counted).
    UnknownHeader,
    /// An upstream service already decided: the tier came in the `deployment.tier` baggage.
    Upstream,
    /// A per-user rule.
    Rule,
    /// The canary percentage, by the key's bucket (sticky).
    Percentage,
    /// The canary percentage, by a random draw: the request had no key.
    Random,
    /// A router of your own.
    Custom,
    /// No router decided: the stable tier.
    Default,
}

impl TierSource {
    /// The name written on spans: `header`, `unknown_header`, `upstream`, `rule`,
    /// `percentage`, `random`, `custom` or `default`.
    pub fn as_str(self) -> &'static str {
        match self {
            TierSource::Header => "header",
            TierSource::UnknownHeader => "unknown_header",
            TierSource::Upstream => "upstream",
            TierSource::Rule => "rule",
            TierSource::Percentage => "percentage",
            TierSource::Random => "random",
            TierSource::Custom => "custom",
            TierSource::Default => "default",
        }
    }
}

impl fmt::Display for TierSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A routing decision: the tier a request goes to and the rule that chose it.
///
/// ```
/// use hivetrace_routing::{Decision, Tier, TierSource};
///
/// let d = Decision::new(Tier::CANARY, TierSource::Percentage);
/// assert_eq!((d.tier().as_str(), d.source().as_str()), ("canary", "percentage"));
/// assert_eq!(Decision::default().tier(), &Tier::STABLE);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Decision {
    tier: Tier,
    source: TierSource,
}

impl Decision {
    /// A decision for `tier`, made by `source`.
    pub fn new(tier: Tier, source: TierSource) -> Self {
        Decision { tier, source }
    }

    /// The tier.
    pub fn tier(&self) -> &Tier {
        &self.tier
    }

    /// Why this tier.
    pub fn source(&self) -> TierSource {
        self.source
    }
}

impl Default for Decision {
    /// Stable, because nothing decided.
    fn default() -> Self {
        Decision::new(Tier::STABLE, TierSource::Default)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (by {})", self.tier, self.source)
    }
}
