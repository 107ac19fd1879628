//! Rollout transitions, and how they are announced: callbacks, logs, span events.

use std::fmt;
use std::time::Duration;

use opentelemetry::trace::TraceContextExt;
use opentelemetry::{Context, KeyValue};

use crate::percentage::Percentage;

/// The name of the span event a transition adds to the current span.
pub const ROLLOUT_SPAN_EVENT: &str = "rollout.transition";

/// What kind of transition happened.
///
/// ```
/// use hivetrace_routing::rollout::TransitionKind;
///
/// assert_eq!(TransitionKind::RolledBack.as_str(), "rolled_back");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransitionKind {
    /// The plan started at its first step.
    Started,
    /// Gates passed after the dwell time: on to the next step.
    Advanced,
    /// Promoted by hand to the next step (or to 100 %).
    Promoted,
    /// The canary is at 100 %: the rollout is done.
    Completed,
    /// A gate failed, or an operator rolled back: the canary is at 0 %.
    RolledBack,
    /// Paused by hand: the percentage stays, ticks do nothing.
    Paused,
    /// Resumed by hand: the step's dwell time and health window start again.
    Resumed,
}

impl TransitionKind {
    /// `started`, `advanced`, `promoted`, `completed`, `rolled_back`, `paused`, `resumed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransitionKind::Started => "started",
            TransitionKind::Advanced => "advanced",
            TransitionKind::Promoted => "promoted",
            TransitionKind::Completed => "completed",
            TransitionKind::RolledBack => "rolled_back",
            TransitionKind::Paused => "paused",
            TransitionKind::Resumed => "resumed",
        }
    }
}

/// One transition of a [`RolloutPlan`](crate::RolloutPlan).
///
/// ```
/// use hivetrace_routing::rollout::{HealthRecorder, TransitionKind};
/// use hivetrace_routing::{Canary, Percentage, RolloutPlan};
///
/// let plan = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new()).build()?;
/// let event = plan.start()?;
/// assert_eq!((event.kind, event.to.to_string()), (TransitionKind::Started, "5.00%".to_string()));
/// assert_eq!(event.to_string(), "started 0.00% -> 5.00% (manual): 4 steps ahead");
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutEvent {
    /// What happened.
    pub kind: TransitionKind,
    /// The canary percentage before.
    pub from: Percentage,
    /// The canary percentage after.
    pub to: Percentage,
    /// The step the plan is at afterwards (0-based), if it is at one.
    pub step: Option<usize>,
    /// Whether an operator asked for it (pause, resume, promote, roll back, start).
    pub manual: bool,
    /// Why: the gates' verdict, or the operator's reason.
    pub reason: String,
    /// When, on the plan's clock (time since the clock's origin).
    pub at: Duration,
}

impl fmt::Display for RolloutEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} -> {}{}: {}",
            self.kind.as_str(),
            self.from,
            self.to,
            if self.manual { " (manual)" } else { "" },
            self.reason
        )
    }
}

/// Something told of every transition.
///
/// Implemented for closures `Fn(&RolloutEvent)` and for `()` (nothing).
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use hivetrace_routing::rollout::{HealthRecorder, RolloutEvent};
/// use hivetrace_routing::{Canary, Percentage, RolloutPlan};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = seen.clone();
/// let plan = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new())
///     .on_transition(move |e: &RolloutEvent| sink.lock().unwrap().push(e.kind))
///     .build()?;
/// plan.start()?;
/// plan.roll_back("paged")?;
/// assert_eq!(seen.lock().unwrap().len(), 2);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
///
/// Listeners are told one transition at a time, in the order the transitions happened: one
/// made while they are being told of another (by a listener calling the plan, or on another
/// thread) is told after it, by the thread already telling them.
pub trait OnTransition: Send + Sync + 'static {
    /// Called after the transition, outside the plan's lock (so it may call the plan).
    fn on_transition(&self, event: &RolloutEvent);
}

impl<F: Fn(&RolloutEvent) + Send + Sync + 'static> OnTransition for F {
    fn on_transition(&self, event: &RolloutEvent) {
        self(event)
    }
}

impl OnTransition for () {
    fn on_transition(&self, _event: &RolloutEvent) {}
}

/// Logs the event through `tracing` (a warning for a rollback).
pub(crate) fn log(event: &RolloutEvent) {
    let (kind, from, to) = (event.kind.as_str(), event.from.as_f64(), event.to.as_f64());
    if event.kind == TransitionKind::RolledBack {
        tracing::warn!(target: "hivetrace_routing::rollout", kind, from, to, manual = event.manual, reason = %event.reason, "rollout rolled back");
    } else {
        tracing::info!(target: "hivetrace_routing::rollout", kind, from, to, manual = event.manual, reason = %event.reason, "rollout transition");
    }
}

/// Adds the event to the current span.
pub(crate) fn add_to_current_span(event: &RolloutEvent) {
    let cx = Context::current();
    let span = cx.span();
    if span.is_recording() {
        span.add_event(
            ROLLOUT_SPAN_EVENT,
            vec![
                KeyValue::new("rollout.kind", event.kind.as_str()),
                KeyValue::new("rollout.from_percentage", event.from.as_f64()),
                KeyValue::new("rollout.to_percentage", event.to.as_f64()),
                KeyValue::new("rollout.manual", event.manual),
                KeyValue::new("rollout.reason", event.reason.clone()),
            ],
        );
    }
}
