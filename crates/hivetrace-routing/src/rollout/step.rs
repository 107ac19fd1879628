//! One step of a rollout plan.

use std::time::Duration;

use crate::percentage::Percentage;

/// The dwell time of each default step.
pub const DEFAULT_DWELL: Duration = Duration::from_secs(300);

/// One step of a rollout: a canary percentage held for at least a dwell time.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_routing::{rollout::Step, Percentage};
///
/// let step = Step::new(Percentage::new(25.0)?, Duration::from_secs(600));
/// assert_eq!(step.percentage().basis_points(), 2500);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub(super) percentage: Percentage,
    pub(super) min_dwell: Duration,
}

impl Step {
    /// Hold `percentage` for at least `min_dwell` before judging whether to advance.
    pub fn new(percentage: Percentage, min_dwell: Duration) -> Self {
        Step {
            percentage,
            min_dwell,
        }
    }

    /// The canary percentage.
    pub fn percentage(&self) -> Percentage {
        self.percentage
    }

    /// The minimum time at this step.
    pub fn min_dwell(&self) -> Duration {
        self.min_dwell
    }
}
