//! What to retry, how often, and how long to wait.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hivetrace_core::clock::{Clock, SystemClock};

use super::backoff::Backoff;
use super::budget::RetryBudget;
use super::sleep::{Sleeper, default_sleeper};
use crate::error::{Error, Result};
use crate::outcome::AnyError;

/// A retry policy: at most `max_attempts` attempts (the first call included), waiting by
/// [`Backoff`] between them, retrying the results its classifier calls retryable failures,
/// honouring a server's hint up to a cap, and drawing on a shared [`RetryBudget`].
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::Outcome;
/// use hivetrace_resilience::retry::{Backoff, RetryBudget, RetryPolicy};
///
/// let policy = RetryPolicy::new(4)?
///     .backoff(Backoff::exponential(Duration::from_millis(50)).max_elapsed(Duration::from_secs(5)))
///     .max_hint(Duration::from_secs(10))
///     .budget(RetryBudget::new(10, 0.1)?)
///     // Only timeouts are worth retrying.
///     .classify(|r: &Result<String, std::io::Error>| match r {
///         Ok(_) => Outcome::Success,
///         Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Outcome::retryable_failure(),
///         Err(_) => Outcome::failure(),
///     });
/// assert_eq!(policy.max_attempts(), 4);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone)]
pub struct RetryPolicy<C = AnyError> {
    pub(crate) max_attempts: u32,
    pub(crate) backoff: Backoff,
    pub(crate) classify: C,
    pub(crate) max_hint: Duration,
    pub(crate) budget: Option<RetryBudget>,
    pub(crate) sleeper: Arc<dyn Sleeper>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) seed: Option<u64>,
}

impl<C> fmt::Debug for RetryPolicy<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryPolicy")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("max_hint", &self.max_hint)
            .field("budget", &self.budget)
            .field("sleeper", &self.sleeper)
            .finish_non_exhaustive()
    }
}

impl RetryPolicy<AnyError> {
    /// At most `max_attempts` attempts (1 means no retry), the default [`Backoff`], every
    /// error retryable, hints honoured up to 60 s, no budget.
    pub fn new(max_attempts: u32) -> Result<Self> {
        if max_attempts == 0 {
            return Err(Error::invalid(
                "max_attempts",
                0,
                "at least one attempt (the call itself) is needed",
            ));
        }
        Ok(RetryPolicy {
            max_attempts,
            backoff: Backoff::default(),
            classify: AnyError,
            max_hint: Duration::from_secs(60),
            budget: None,
            sleeper: default_sleeper(),
            clock: Arc::new(SystemClock::new()),
            seed: None,
        })
    }
}

impl<C> RetryPolicy<C> {
    /// The backoff between attempts. Its settings are checked here: a multiplier below 1 or
    /// a cap below the initial delay falls back to the default backoff (see
    /// [`try_backoff`](Self::try_backoff) for an error instead).
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = if backoff.validate().is_ok() {
            backoff
        } else {
            Backoff::default()
        };
        self
    }

    /// The backoff between attempts, or the error that makes it unusable.
    pub fn try_backoff(mut self, backoff: Backoff) -> Result<Self> {
        backoff.validate()?;
        self.backoff = backoff;
        Ok(self)
    }

    /// Which results are retried: failures marked retryable (see
    /// [`Outcome`](crate::Outcome)); their `retry_after` hints are honoured.
    pub fn classify<C2>(self, classify: C2) -> RetryPolicy<C2> {
        RetryPolicy {
            max_attempts: self.max_attempts,
            backoff: self.backoff,
            classify,
            max_hint: self.max_hint,
            budget: self.budget,
            sleeper: self.sleeper,
            clock: self.clock,
            seed: self.seed,
        }
    }

    /// The longest wait a server's hint may impose; a longer hint ends the retries (waiting
    /// that long is the caller's decision, not a retry's).
    pub fn max_hint(mut self, max: Duration) -> Self {
        self.max_hint = max;
        self
    }

    /// A budget shared with other callers of the same dependency.
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// How to wait between attempts.
    pub fn sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.sleeper = Arc::new(sleeper);
        self
    }

    /// The clock the elapsed-time cap is measured with.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Randomises jitter from `seed` (for reproducible tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The most attempts, the first call included.
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The budget, if any.
    pub fn retry_budget(&self) -> Option<&RetryBudget> {
        self.budget.as_ref()
    }
}
