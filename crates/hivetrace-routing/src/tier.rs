//! Deployment tiers: which build of a service a request is served by.

use std::fmt;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A deployment tier: `stable`, `canary`, `experimental`, or a name you configure.
///
/// Cloning a built-in tier copies a tag; cloning a configured one bumps a reference count, so
/// deciding a tier never allocates.
///
/// ```
/// use hivetrace_routing::Tier;
///
/// assert_eq!(Tier::CANARY.as_str(), "canary");
/// let shadow = Tier::custom("shadow")?;
/// assert_eq!(shadow.as_str(), "shadow");
/// assert_eq!(Tier::custom("Canary")?, Tier::CANARY); // names are lowercase
/// assert!(Tier::custom("no spaces").is_err());
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Tier(Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Repr {
    Stable,
    Canary,
    Experimental,
    Custom(Arc<str>),
}

/// The longest tier name accepted: it travels in a header and in baggage.
pub const MAX_TIER_NAME_LEN: usize = 64;

impl Tier {
    /// The build most traffic goes to.
    pub const STABLE: Tier = Tier(Repr::Stable);
    /// The build being rolled out.
    pub const CANARY: Tier = Tier(Repr::Canary);
    /// A build only chosen on request (a header, a per-user rule).
    pub const EXPERIMENTAL: Tier = Tier(Repr::Experimental);

    /// A tier by name. The built-in names give the built-in tiers.
    ///
    /// Names are 1 to [`MAX_TIER_NAME_LEN`] characters of ASCII letters, digits, `-`, `_` and
    /// `.`, and are lowercased, so that they can travel in headers and baggage unchanged.
    pub fn custom(name: &str) -> Result<Tier> {
        if name.is_empty() || name.len() > MAX_TIER_NAME_LEN {
            return Err(Error::invalid(
                "tier name",
                name,
                format!("expected 1 to {MAX_TIER_NAME_LEN} characters"),
            ));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        {
            return Err(Error::invalid(
                "tier name",
                name,
                "expected only ASCII letters, digits, '-', '_' and '.'",
            ));
        }
        let lower = name.to_ascii_lowercase();
        Ok(Tier::builtin(&lower).unwrap_or_else(|| Tier(Repr::Custom(Arc::from(lower)))))
    }

    /// The built-in tier with this name (ASCII case-insensitive), if any.
    pub fn builtin(name: &str) -> Option<Tier> {
        [Tier::STABLE, Tier::CANARY, Tier::EXPERIMENTAL]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// The tier's name, lowercase.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Stable => "stable",
            Repr::Canary => "canary",
            Repr::Experimental => "experimental",
            Repr::Custom(name) => name,
        }
    }

    /// Whether this is [`Tier::STABLE`].
    pub fn is_stable(&self) -> bool {
        matches!(self.0, Repr::Stable)
    }

    /// Whether this is [`Tier::CANARY`].
    pub fn is_canary(&self) -> bool {
        matches!(self.0, Repr::Canary)
    }

    /// The name as an OpenTelemetry value, shared rather than copied for configured tiers.
    pub(crate) fn to_value(&self) -> opentelemetry::Value {
        match &self.0 {
            Repr::Custom(name) => {
                opentelemetry::Value::from(opentelemetry::StringValue::from(Arc::clone(name)))
            }
            _ => opentelemetry::Value::from(self.static_name()),
        }
    }

    fn static_name(&self) -> &'static str {
        match self.0 {
            Repr::Stable => "stable",
            Repr::Canary => "canary",
            Repr::Experimental => "experimental",
            Repr::Custom(_) => "",
        }
    }
}

impl Default for Tier {
    fn default() -> Self {
        Tier::STABLE
    }
}

impl fmt::Debug for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tier({})", self.as_str())
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Tier {
    type Err = Error;

    fn from_str(s: &str) -> Result<Tier> {
        Tier::custom(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn builtin_names_map_to_builtin_tiers_in_any_case() {
        assert_eq!(Tier::custom("STABLE").unwrap(), Tier::STABLE);
        assert_eq!(Tier::custom("Experimental").unwrap(), Tier::EXPERIMENTAL);
        assert!(Tier::custom("canary").unwrap().is_canary());
        assert_eq!(Tier::builtin("nope"), None);
    }

    #[test]
    fn custom_names_are_lowercased_and_validated() {
        let t = Tier::custom("Shadow-2").unwrap();
        assert_eq!(t.as_str(), "shadow-2");
        assert_eq!(t.to_string(), "shadow-2");
        assert_eq!(t.to_value().as_str(), "shadow-2");
        assert!(Tier::custom("").is_err());
        assert!(Tier::custom(&"x".repeat(65)).is_err());
        let err = Tier::custom("a,b").unwrap_err().to_string();
        assert!(err.contains("\"a,b\""), "{err}");
    }

    #[test]
    fn builtin_values_are_static_names() {
        assert_eq!(Tier::CANARY.to_value().as_str(), "canary");
        assert_eq!(Tier::default(), Tier::STABLE);
    }
}
