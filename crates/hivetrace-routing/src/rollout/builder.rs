//! Configuring a rollout plan.

use std::fmt;
use std::time::Duration;

use hivetrace_core::clock::Clock;

use crate::canary::Canary;
use crate::error::{Error, Result};
use crate::percentage::Percentage;
use crate::rollout::event::OnTransition;
use crate::rollout::gates::Gates;
use crate::rollout::health::HealthSignal;
use crate::rollout::plan::RolloutPlan;
use crate::rollout::step::Step;

/// Configures a [`RolloutPlan`]. From [`RolloutPlan::builder`].
///
/// ```
/// use std::time::Duration;
/// use hivetrace_routing::rollout::{HealthRecorder, Step};
/// use hivetrace_routing::{Canary, Percentage, RolloutPlan};
///
/// let plan = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new())
///     .steps([1.0, 10.0, 100.0].map(|p| Step::new(Percentage::new(p).unwrap(), Duration::ZERO)))
///     .min_dwell(Duration::from_secs(900))
///     .build()?;
/// assert_eq!(plan.steps().len(), 3);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
pub struct RolloutPlanBuilder {
    pub(super) canary: Canary,
    pub(super) signal: Box<dyn HealthSignal>,
    pub(super) clock: Box<dyn Clock>,
    pub(super) steps: Vec<Step>,
    pub(super) gates: Gates,
    pub(super) listeners: Vec<Box<dyn OnTransition>>,
}

impl fmt::Debug for RolloutPlanBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RolloutPlanBuilder")
            .field("steps", &self.steps)
            .field("gates", &self.gates)
            .finish_non_exhaustive()
    }
}

impl RolloutPlanBuilder {
    /// The steps, in order; percentages must rise strictly and be above 0.
    #[must_use]
    pub fn steps(mut self, steps: impl IntoIterator<Item = Step>) -> Self {
        self.steps = steps.into_iter().collect();
        self
    }

    /// Sets the dwell time of every step given so far.
    #[must_use]
    pub fn min_dwell(mut self, dwell: Duration) -> Self {
        for s in &mut self.steps {
            s.min_dwell = dwell;
        }
        self
    }

    /// The gates; default [`Gates::default`].
    #[must_use]
    pub fn gates(mut self, gates: Gates) -> Self {
        self.gates = gates;
        self
    }

    /// The clock; default [`SystemClock`](hivetrace_core::clock::SystemClock).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Also tells `listener` of every transition.
    #[must_use]
    pub fn on_transition(mut self, listener: impl OnTransition) -> Self {
        self.listeners.push(Box::new(listener));
        self
    }

    /// Builds the plan, checking the steps. The canary is not touched until
    /// [`RolloutPlan::start`].
    pub fn build(self) -> Result<RolloutPlan> {
        if self.steps.is_empty() {
            return Err(Error::invalid(
                "steps",
                "[]",
                "a rollout needs at least one step",
            ));
        }
        let mut previous = Percentage::ZERO;
        for s in &self.steps {
            if s.percentage <= previous {
                let shown: Vec<String> = self
                    .steps
                    .iter()
                    .map(|s| s.percentage.to_string())
                    .collect();
                return Err(Error::invalid(
                    "steps",
                    shown.join(" -> "),
                    "percentages must be above 0 and rise strictly",
                ));
            }
            previous = s.percentage;
        }
        Ok(RolloutPlan::from_parts(
            self.canary,
            self.signal,
            self.clock,
            self.steps,
            self.gates,
            self.listeners,
        ))
    }
}
