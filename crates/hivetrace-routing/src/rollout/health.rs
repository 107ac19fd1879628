//! The health signal a rollout is gated on: canary against stable.

use std::sync::Arc;
use std::time::Duration;

/// What one tier did in the current window.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_routing::rollout::TierHealth;
///
/// let h = TierHealth { requests: 200, errors: 3, p95_latency: Some(Duration::from_millis(180)) };
/// assert_eq!(h.error_rate(), 0.015);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct TierHealth {
    /// Requests observed.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// The 95th percentile latency, when known.
    pub p95_latency: Option<Duration>,
}

impl TierHealth {
    /// `errors / requests`; 0 without requests.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors.min(self.requests) as f64 / self.requests as f64
        }
    }
}

/// Canary and stable side by side, as a [`HealthSignal`] reports them.
///
/// ```
/// use hivetrace_routing::rollout::{HealthReport, TierHealth};
///
/// let report = HealthReport {
///     canary: TierHealth { requests: 50, errors: 5, p95_latency: None },
///     ..HealthReport::default()
/// };
/// assert!(report.canary.error_rate() > report.stable.error_rate());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HealthReport {
    /// The canary tier.
    pub canary: TierHealth,
    /// The stable tier.
    pub stable: TierHealth,
}

/// Where a [`RolloutPlan`](crate::RolloutPlan) reads health from: your metrics, a
/// Prometheus query, or the in-crate [`HealthRecorder`](crate::rollout::HealthRecorder).
///
/// The plan calls [`restart_window`](Self::restart_window) whenever a step starts, so that
/// each step is judged on traffic at its own percentage; a signal over a sliding window of its
/// own can ignore it.
///
/// ```
/// use hivetrace_routing::rollout::{HealthReport, HealthSignal, TierHealth};
///
/// /// Reads counts your service already keeps.
/// #[derive(Debug)]
/// struct FromMyMetrics;
///
/// impl HealthSignal for FromMyMetrics {
///     fn report(&self) -> HealthReport {
///         HealthReport {
///             canary: TierHealth { requests: 500, errors: 2, p95_latency: None },
///             stable: TierHealth { requests: 9_500, errors: 40, p95_latency: None },
///         }
///     }
/// }
/// assert_eq!(FromMyMetrics.report().canary.requests, 500);
/// ```
pub trait HealthSignal: Send + Sync + std::fmt::Debug {
    /// Canary and stable health since the window started.
    fn report(&self) -> HealthReport;

    /// Starts a new window; the default does nothing.
    fn restart_window(&self) {}
}

impl<S: HealthSignal + ?Sized> HealthSignal for Arc<S> {
    fn report(&self) -> HealthReport {
        (**self).report()
    }

    fn restart_window(&self) {
        (**self).restart_window()
    }
}
