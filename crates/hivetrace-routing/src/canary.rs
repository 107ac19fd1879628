//! The canary percentage: sticky by key, monotonic, changed at run time without a lock.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::bucket::{bucket_of_hash, key_hash, random_bucket};
use crate::decision::{Decision, TierSource};
use crate::error::Result;
use crate::percentage::{BASIS_POINTS, Percentage};
use crate::router::{RouteRequest, Router};
use crate::tier::Tier;

/// The environment variable holding the initial canary percentage (`0` to `100`, two decimals).
pub const CANARY_PERCENTAGE: &str = "CANARY_PERCENTAGE";

/// Sends a percentage of keys to the canary tier: a key is in the canary when its
/// [bucket](crate::bucket) is below the percentage in basis points.
///
/// - Sticky: the same key gets the same tier while the percentage is unchanged, in every
///   process and language that implements [the documented hash](crate::bucket).
/// - Monotonic: raising the percentage only moves keys from stable to canary.
/// - A request without a key gets a random draw.
///
/// Clones share the percentage: give one to the router and one to a
/// [`RolloutPlan`](crate::RolloutPlan) that moves it. Deciding reads one atomic, hashes the
/// key and compares: no lock, no allocation.
///
/// ```
/// use hivetrace_routing::{Canary, Percentage, RouteRequest, Router, Tier};
///
/// let canary = Canary::new(Percentage::new(10.0)?);
/// let before = canary.decide(&RouteRequest::new().key("user-42"));
/// canary.set_percentage(Percentage::new(100.0)?);
/// assert_eq!(canary.decide(&RouteRequest::new().key("user-42")).tier(), &Tier::CANARY);
/// # let _ = before;
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone)]
pub struct Canary {
    basis_points: Arc<AtomicU16>,
}

impl Canary {
    /// A canary at `percentage`.
    pub fn new(percentage: Percentage) -> Self {
        Canary {
            basis_points: Arc::new(AtomicU16::new(percentage.basis_points())),
        }
    }

    /// A canary at `CANARY_PERCENTAGE`, or at 0 when the variable is unset or empty.
    ///
    /// An unparsable value is an error naming the variable and the value.
    pub fn from_env() -> Result<Self> {
        Self::from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    ///
    /// ```
    /// use hivetrace_routing::Canary;
    ///
    /// let canary = Canary::from_env_with(|_| Some("12.5".into()))?;
    /// assert_eq!(canary.percentage().basis_points(), 1250);
    /// let err = Canary::from_env_with(|_| Some("half".into())).unwrap_err();
    /// assert!(err.to_string().contains("CANARY_PERCENTAGE"));
    /// # Ok::<(), hivetrace_routing::Error>(())
    /// ```
    pub fn from_env_with(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        // Empty means unset, as the OpenTelemetry spec says of its variables.
        let percentage = match lookup(CANARY_PERCENTAGE).filter(|v| !v.trim().is_empty()) {
            Some(v) => Percentage::parse_setting(CANARY_PERCENTAGE, &v)?,
            None => Percentage::ZERO,
        };
        Ok(Canary::new(percentage))
    }

    /// The current percentage.
    pub fn percentage(&self) -> Percentage {
        // Only ever stored from a valid Percentage.
        Percentage::from_basis_points(self.basis_points.load(Ordering::Relaxed))
            .unwrap_or(Percentage::ZERO)
    }

    /// Changes the percentage; seen by the next decision on every thread.
    pub fn set_percentage(&self, percentage: Percentage) {
        self.basis_points
            .store(percentage.basis_points(), Ordering::Relaxed);
    }

    /// The tier for `key` at the current percentage (`None`: a random draw).
    #[inline]
    pub fn assign(&self, key: Option<&str>) -> Decision {
        self.assign_hashed(key.map(|k| move || key_hash(k)))
    }

    /// [`assign`](Self::assign) with the key's hash from the caller (computed once per request).
    #[inline]
    pub(crate) fn assign_hashed(&self, hash: Option<impl FnOnce() -> u64>) -> Decision {
        let bp = self.basis_points.load(Ordering::Relaxed);
        let source = if hash.is_some() {
            TierSource::Percentage
        } else {
            TierSource::Random
        };
        // The ends need no hash: every bucket is below 10,000 and none is below 0.
        let canary = match bp {
            0 => false,
            BASIS_POINTS => true,
            _ => {
                let b = match hash {
                    Some(hash) => bucket_of_hash(hash()),
                    None => random_bucket(),
                };
                b < bp
            }
        };
        let tier = if canary { Tier::CANARY } else { Tier::STABLE };
        Decision::new(tier, source)
    }
}

impl Router for Canary {
    /// Always decides: the key's bucket, or a random draw without a key.
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        Some(self.assign(request.key_value()))
    }
}

impl fmt::Debug for Canary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canary")
            .field("percentage", &self.percentage())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pct(p: f64) -> Percentage {
        Percentage::new(p).unwrap()
    }

    #[test]
    fn the_ends_are_all_or_nothing() {
        let canary = Canary::new(Percentage::ZERO);
        assert!((0..1000).all(|i| canary.assign(Some(&i.to_string())).tier().is_stable()));
        assert!((0..1000).all(|_| canary.assign(None).tier().is_stable()));
        canary.set_percentage(Percentage::HUNDRED);
        assert!((0..1000).all(|i| canary.assign(Some(&i.to_string())).tier().is_canary()));
        assert!((0..1000).all(|_| canary.assign(None).tier().is_canary()));
    }

    #[test]
    fn assignment_follows_the_documented_bucket() {
        // "user-42" is in bucket 6389 (see the bucket module's test vectors).
        let canary = Canary::new(Percentage::from_basis_points(6389).unwrap());
        assert!(canary.assign(Some("user-42")).tier().is_stable());
        canary.set_percentage(Percentage::from_basis_points(6390).unwrap());
        let d = canary.assign(Some("user-42"));
        assert_eq!(d, Decision::new(Tier::CANARY, TierSource::Percentage));
    }

    #[test]
    fn keyless_requests_are_random_at_the_percentage() {
        let canary = Canary::new(pct(25.0));
        let n = 40_000;
        let hits = (0..n)
            .filter(|_| {
                let d = canary.assign(None);
                assert_eq!(d.source(), TierSource::Random);
                d.tier().is_canary()
            })
            .count();
        let share = hits as f64 / n as f64;
        assert!((0.23..0.27).contains(&share), "{share}");
    }

    #[test]
    fn clones_share_the_percentage_and_env_is_read() {
        let a = Canary::new(pct(1.0));
        let b = a.clone();
        b.set_percentage(pct(33.33));
        assert_eq!(a.percentage().basis_points(), 3333);
        assert_eq!(
            Canary::from_env_with(|_| None).unwrap().percentage(),
            Percentage::ZERO
        );
        assert_eq!(
            Canary::from_env_with(|_| Some(" ".into()))
                .unwrap()
                .percentage(),
            Percentage::ZERO
        );
        let err = Canary::from_env_with(|_| Some("150".into()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("CANARY_PERCENTAGE") && err.contains("150"),
            "{err}"
        );
    }
}
