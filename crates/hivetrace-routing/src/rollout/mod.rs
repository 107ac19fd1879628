//! Staged rollouts: steps, dwell times, health gates, automatic rollback.
//!
//! A [`RolloutPlan`] moves a [`Canary`](crate::Canary)'s percentage
//! through [`Step`]s, judging a [`HealthSignal`] (canary against stable) with [`Gates`].
//! [`HealthRecorder`] is a signal you feed one observation per request, by hand or through
//! [`HealthSpanProcessor`] from the request spans a service already makes.

mod builder;
mod event;
mod gates;
mod health;
mod latency;
mod phase;
mod plan;
mod recorder;
mod span_health;
mod step;

pub use builder::RolloutPlanBuilder;
pub use event::{OnTransition, ROLLOUT_SPAN_EVENT, RolloutEvent, TransitionKind};
pub use gates::{Gates, Verdict};
pub use health::{HealthReport, HealthSignal, TierHealth};
pub use phase::{Phase, Tick};
pub use plan::RolloutPlan;
pub use recorder::HealthRecorder;
pub use span_health::HealthSpanProcessor;
pub use step::{DEFAULT_DWELL, Step};
