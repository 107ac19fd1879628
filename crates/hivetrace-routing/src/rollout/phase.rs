//! Where a rollout is, and what one tick of it found.

use std::time::Duration;

use crate::rollout::event::RolloutEvent;
use crate::rollout::gates::Verdict;

/// Where a rollout is.
///
/// ```
/// use hivetrace_routing::rollout::Phase;
///
/// assert_eq!(Phase::RolledBack.as_str(), "rolled back");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Built, not started: the canary percentage is untouched.
    NotStarted,
    /// At a step, advancing as gates pass.
    Running,
    /// At a step, frozen by an operator.
    Paused,
    /// At 100 %.
    Completed,
    /// At 0 %, after a failed gate or an operator's rollback.
    RolledBack,
}

impl Phase {
    /// `not started`, `running`, `paused`, `completed`, `rolled back`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::NotStarted => "not started",
            Phase::Running => "running",
            Phase::Paused => "paused",
            Phase::Completed => "completed",
            Phase::RolledBack => "rolled back",
        }
    }
}

/// What one [`RolloutPlan::tick`](crate::RolloutPlan::tick) found.
///
/// ```
/// use hivetrace_routing::rollout::{HealthRecorder, Phase, Tick};
/// use hivetrace_routing::{Canary, Percentage, RolloutPlan};
///
/// let plan = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new()).build()?;
/// assert_eq!(plan.tick(), Tick::Inactive(Phase::NotStarted));
/// plan.start()?;
/// assert!(matches!(plan.tick(), Tick::Holding(_))); // no traffic observed yet
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Tick {
    /// Not running (not started, paused, completed or rolled back): nothing judged.
    Inactive(Phase),
    /// Not enough data yet: holding at the current step.
    Holding(Verdict),
    /// Gates pass, but the step's dwell time has this much left.
    Dwelling(Duration),
    /// A transition happened (advance, completion, rollback).
    Transition(RolloutEvent),
}
