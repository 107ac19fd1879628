//! What a breaker tells the world: transitions and rejections, to observers and to the
//! current OpenTelemetry span.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::get_active_span;

use super::State;
use crate::error::Rejected;

/// Why a breaker changed state.
///
/// ```
/// assert_eq!(hivetrace_resilience::Reason::TrialsFailed.as_str(), "trials_failed");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reason {
    /// The failure rate reached its threshold.
    FailureRate,
    /// The slow-call rate reached its threshold.
    SlowCallRate,
    /// A failure carried a server's hint and the breaker opens on hints.
    ServerHint,
    /// The wait in open is over.
    WaitElapsed,
    /// The half-open trial calls went well.
    TrialsSucceeded,
    /// The half-open trial calls failed.
    TrialsFailed,
    /// A method call asked for it (`force_open`, `reset`, ...).
    Manual,
}

impl Reason {
    /// The reason in snake case.
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::FailureRate => "failure_rate",
            Reason::SlowCallRate => "slow_call_rate",
            Reason::ServerHint => "server_hint",
            Reason::WaitElapsed => "wait_elapsed",
            Reason::TrialsSucceeded => "trials_succeeded",
            Reason::TrialsFailed => "trials_failed",
            Reason::Manual => "manual",
        }
    }
}

/// A change of state.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Transition {
    /// The breaker's name.
    pub name: Arc<str>,
    /// The state left.
    pub from: State,
    /// The state entered.
    pub to: State,
    /// Why.
    pub reason: Reason,
    /// For a transition to open: how long it stays open.
    pub open_for: Option<Duration>,
}

/// Something a breaker reports.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum BreakerEvent {
    /// It changed state.
    Transition(Transition),
    /// It refused a call.
    Rejected(Rejected),
}

/// Receives a breaker's transitions and rejections, on the thread that caused them.
///
/// Implemented for closures taking a [`BreakerEvent`].
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use hivetrace_resilience::{BreakerEvent, CircuitBreaker, State};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = Arc::clone(&seen);
/// let breaker = CircuitBreaker::builder("db")
///     .observer(move |event: &BreakerEvent| {
///         if let BreakerEvent::Transition(t) = event {
///             log.lock().unwrap().push((t.from, t.to));
///         }
///     })
///     .build()?;
/// breaker.force_open();
/// assert_eq!(*seen.lock().unwrap(), [(State::Closed, State::ForcedOpen)]);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub trait BreakerObserver: Send + Sync + 'static {
    /// Called once per event; keep it short, it runs on the caller's thread.
    fn on_event(&self, event: &BreakerEvent);
}

impl<F: Fn(&BreakerEvent) + Send + Sync + 'static> BreakerObserver for F {
    fn on_event(&self, event: &BreakerEvent) {
        self(event)
    }
}

/// The observers of one breaker, and whether span events are on.
pub(crate) struct Reporter {
    pub(crate) observers: Vec<Arc<dyn BreakerObserver>>,
    pub(crate) span_events: bool,
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("observers", &self.observers.len())
            .field("span_events", &self.span_events)
            .finish()
    }
}

impl Reporter {
    pub(crate) fn transition(&self, t: Transition) {
        if self.span_events {
            get_active_span(|span| {
                if span.is_recording() {
                    let mut attrs = vec![
                        KeyValue::new("circuit_breaker.name", t.name.to_string()),
                        KeyValue::new("circuit_breaker.from", t.from.as_str()),
                        KeyValue::new("circuit_breaker.to", t.to.as_str()),
                        KeyValue::new("circuit_breaker.reason", t.reason.as_str()),
                    ];
                    if let Some(d) = t.open_for {
                        attrs.push(KeyValue::new(
                            "circuit_breaker.open_for_ms",
                            i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
                        ));
                    }
                    span.add_event("circuit_breaker.transition", attrs);
                }
            });
        }
        if !self.observers.is_empty() {
            let event = BreakerEvent::Transition(t);
            self.observers.iter().for_each(|o| o.on_event(&event));
        }
    }

    pub(crate) fn rejected(&self, r: &Rejected) {
        if self.span_events {
            get_active_span(|span| {
                if span.is_recording() {
                    span.add_event(
                        "circuit_breaker.rejected",
                        vec![
                            KeyValue::new("circuit_breaker.name", r.name.to_string()),
                            KeyValue::new("circuit_breaker.state", r.state.as_str()),
                        ],
                    );
                }
            });
        }
        if !self.observers.is_empty() {
            let event = BreakerEvent::Rejected(r.clone());
            self.observers.iter().for_each(|o| o.on_event(&event));
        }
    }
}
