//! Running a call with retries, recorded on the current span.

use std::future::Future;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::get_active_span;

use super::policy::RetryPolicy;
use crate::outcome::{Classify, Outcome};

/// Why retrying stopped without a success; recorded as `retry.exhausted` on the span.
///
/// ```
/// assert_eq!(hivetrace_resilience::retry::GiveUp::Budget.as_str(), "budget");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GiveUp {
    /// The last attempt's failure is not worth retrying.
    NotRetryable,
    /// Every attempt was made.
    MaxAttempts,
    /// The next delay would pass the backoff's total elapsed-time cap.
    MaxElapsed,
    /// The retry budget is spent.
    Budget,
    /// The server asked for a longer wait than the policy's `max_hint`.
    HintTooLong,
}

impl GiveUp {
    /// The reason in snake case.
    pub const fn as_str(self) -> &'static str {
        match self {
            GiveUp::NotRetryable => "not_retryable",
            GiveUp::MaxAttempts => "max_attempts",
            GiveUp::MaxElapsed => "max_elapsed",
            GiveUp::Budget => "budget",
            GiveUp::HintTooLong => "hint_too_long",
        }
    }
}

/// What the next step of a retry loop is, after an attempt's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Next {
    Done,
    Retry(Duration),
    GiveUp(GiveUp),
}

/// One retry loop's decisions: attempts, delays, budget, elapsed time.
#[derive(Debug)]
pub(crate) struct Attempts<'p, C> {
    policy: &'p RetryPolicy<C>,
    delays: super::backoff::Delays,
    started: u64,
    pub(crate) attempt: u32,
}

impl<'p, C> Attempts<'p, C> {
    pub(crate) fn new(policy: &'p RetryPolicy<C>) -> Self {
        let delays = match policy.seed {
            Some(seed) => policy.backoff.delays_seeded(seed),
            None => policy.backoff.delays(),
        };
        Attempts {
            policy,
            delays,
            started: policy.clock.now_nanos(),
            attempt: 0,
        }
    }

    /// Decides what follows an attempt that ended with `outcome`.
    pub(crate) fn after(&mut self, outcome: Outcome) -> Next {
        self.attempt += 1;
        let p = self.policy;
        match outcome {
            Outcome::Success => {
                if let Some(b) = &p.budget {
                    b.on_success();
                }
                return Next::Done;
            }
            Outcome::Ignored => return Next::Done,
            Outcome::Failure { .. } => {
                if let Some(b) = &p.budget {
                    b.on_failure();
                }
            }
        }
        if !outcome.is_retryable() {
            return Next::GiveUp(GiveUp::NotRetryable);
        }
        if self.attempt >= p.max_attempts {
            return Next::GiveUp(GiveUp::MaxAttempts);
        }
        if p.budget.as_ref().is_some_and(|b| !b.can_retry()) {
            return Next::GiveUp(GiveUp::Budget);
        }
        let backoff = self.delays.next().unwrap_or(p.backoff.max_delay);
        let delay = match outcome.retry_after() {
            Some(hint) if hint > p.max_hint => return Next::GiveUp(GiveUp::HintTooLong),
            // The server's wait is a minimum: jitter on top keeps clients apart.
            Some(hint) => hint.max(backoff),
            None => backoff,
        };
        if let Some(max) = p.backoff.max_elapsed {
            let elapsed = Duration::from_nanos(p.clock.now_nanos().saturating_sub(self.started));
            // A server's hint can be as long as a `Duration` holds: past the end of time is
            // past the cap too.
            if elapsed.checked_add(delay).is_none_or(|total| total > max) {
                return Next::GiveUp(GiveUp::MaxElapsed);
            }
        }
        Next::Retry(delay)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs `f` until it succeeds, fails in a way not worth retrying, or the policy gives up;
/// returns the last result.
///
/// On the current OpenTelemetry span it records `retry.max_attempts`, one `retry.attempt`
/// event per failed attempt (`retry.attempt`, `error.type`, `retry.backoff_ms` when another
/// attempt follows, `retry.give_up` when none does), then `retry.attempts` and either
/// `retry.succeeded_attempt` or `retry.exhausted` with the reason.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use hivetrace_core::clock::ManualClock;
/// use hivetrace_resilience::retry::{retry, ManualSleeper, RetryPolicy};
///
/// let clock = ManualClock::new();
/// let policy = RetryPolicy::new(3)?.sleeper(ManualSleeper::new(clock.clone())).clock(clock);
/// let calls = AtomicU32::new(0);
/// let result = futures_executor::block_on(retry(&policy, || async {
///     match calls.fetch_add(1, Ordering::Relaxed) {
///         0 => Err("timeout"),
///         _ => Ok("answer"),
///     }
/// }));
/// assert_eq!(result, Ok("answer"));
/// assert_eq!(calls.load(Ordering::Relaxed), 2);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub async fn retry<T, E, C, F, Fut>(policy: &RetryPolicy<C>, mut f: F) -> Result<T, E>
where
    C: Classify<T, E>,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempts = Attempts::new(policy);
    attempts.announce();
    loop {
        let result = f().await;
        let outcome = policy.classify.classify(&result);
        let next = attempts.after(outcome);
        attempts.note::<E>(outcome, next);
        match next {
            Next::Retry(delay) => policy.sleeper.sleep(delay).await,
            Next::Done | Next::GiveUp(_) => return result,
        }
    }
}

impl<C> Attempts<'_, C> {
    /// Records the policy's maximum attempts on the current span.
    pub(crate) fn announce(&self) {
        let max = i64::from(self.policy.max_attempts);
        record(|| vec![KeyValue::new("retry.max_attempts", max)]);
    }

    /// Records an attempt that ended with `outcome` and what follows it on the current span:
    /// an event for a failure, and the final attributes when no attempt follows.
    pub(crate) fn note<E>(&self, outcome: Outcome, next: Next) {
        let attempt = i64::from(self.attempt);
        if outcome.is_failure() {
            event(|| {
                let mut attrs = vec![
                    KeyValue::new("retry.attempt", attempt),
                    KeyValue::new("error.type", std::any::type_name::<E>()),
                ];
                match next {
                    Next::Retry(d) => attrs.push(KeyValue::new("retry.backoff_ms", millis(d))),
                    Next::GiveUp(g) => attrs.push(KeyValue::new("retry.give_up", g.as_str())),
                    Next::Done => {}
                }
                if let Some(h) = outcome.retry_after() {
                    attrs.push(KeyValue::new("retry.server_hint_ms", millis(h)));
                }
                attrs
            });
        }
        match next {
            Next::Retry(_) => {}
            Next::Done => record(|| {
                let mut attrs = vec![KeyValue::new("retry.attempts", attempt)];
                if outcome == Outcome::Success {
                    attrs.push(KeyValue::new("retry.succeeded_attempt", attempt));
                }
                attrs
            }),
            Next::GiveUp(reason) => record(|| {
                vec![
                    KeyValue::new("retry.attempts", attempt),
                    KeyValue::new("retry.exhausted", reason.as_str()),
                ]
            }),
        }
    }
}

fn record(attrs: impl FnOnce() -> Vec<KeyValue>) {
    get_active_span(|span| {
        if span.is_recording() {
            span.set_attributes(attrs());
        }
    });
}

fn event(attrs: impl FnOnce() -> Vec<KeyValue>) {
    get_active_span(|span| {
        if span.is_recording() {
            span.add_event("retry.attempt", attrs());
        }
    });
}
