//! A health signal you feed by hand: one call per finished request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::rollout::health::{HealthReport, HealthSignal, TierHealth};
use crate::rollout::latency::LatencyHistogram;
use crate::tier::Tier;

/// A [`HealthSignal`] fed one observation per request: its tier, latency and outcome.
///
/// Lock-free; clones share the counts. Requests on tiers other than canary and stable are not
/// counted. The p95 comes from a log-linear histogram, within 12.5 % of the true value.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_routing::Tier;
/// use hivetrace_routing::rollout::{HealthRecorder, HealthSignal};
///
/// let health = HealthRecorder::new();
/// health.record(&Tier::CANARY, Duration::from_millis(120), true);
/// health.record(&Tier::CANARY, Duration::from_millis(900), false);
/// health.record(&Tier::STABLE, Duration::from_millis(100), true);
/// let report = health.report();
/// assert_eq!((report.canary.requests, report.canary.errors), (2, 1));
/// assert_eq!(report.stable.error_rate(), 0.0);
/// ```
#[derive(Clone)]
pub struct HealthRecorder {
    canary: Arc<TierCounts>,
    stable: Arc<TierCounts>,
}

#[derive(Debug)]
struct TierCounts {
    requests: AtomicU64,
    errors: AtomicU64,
    latency: LatencyHistogram,
}

impl TierCounts {
    fn new() -> Self {
        TierCounts {
            requests: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            latency: LatencyHistogram::new(),
        }
    }

    fn health(&self) -> TierHealth {
        TierHealth {
            requests: self.requests.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            p95_latency: self.latency.quantile(0.95),
        }
    }

    fn reset(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.errors.store(0, Ordering::Relaxed);
        self.latency.reset();
    }
}

impl HealthRecorder {
    /// An empty recorder.
    pub fn new() -> Self {
        HealthRecorder {
            canary: Arc::new(TierCounts::new()),
            stable: Arc::new(TierCounts::new()),
        }
    }

    /// Records one finished request.
    pub fn record(&self, tier: &Tier, latency: Duration, ok: bool) {
        let counts = if tier.is_canary() {
            &self.canary
        } else if tier.is_stable() {
            &self.stable
        } else {
            return;
        };
        counts.requests.fetch_add(1, Ordering::Relaxed);
        if !ok {
            counts.errors.fetch_add(1, Ordering::Relaxed);
        }
        counts.latency.record(latency);
    }
}

impl Default for HealthRecorder {
    fn default() -> Self {
        Self::new()
    }
}

impl HealthSignal for HealthRecorder {
    fn report(&self) -> HealthReport {
        HealthReport {
            canary: self.canary.health(),
            stable: self.stable.health(),
        }
    }

    fn restart_window(&self) {
        self.canary.reset();
        self.stable.reset();
    }
}

impl fmt::Debug for HealthRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HealthRecorder")
            .field("report", &self.report())
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn other_tiers_are_ignored_and_restart_clears() {
        let h = HealthRecorder::new();
        let clone = h.clone();
        h.record(&Tier::EXPERIMENTAL, Duration::from_millis(1), false);
        assert_eq!(clone.report(), HealthReport::default());
        h.record(&Tier::STABLE, Duration::from_millis(10), false);
        let r = clone.report();
        assert_eq!((r.stable.requests, r.stable.errors), (1, 1));
        assert!(r.stable.p95_latency.unwrap() >= Duration::from_millis(10));
        clone.restart_window();
        assert_eq!(h.report(), HealthReport::default());
    }
}
