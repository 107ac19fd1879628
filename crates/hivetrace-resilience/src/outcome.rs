//! How a call went, and the trait that decides it from a result.

use std::time::Duration;

/// How one call went, as the breaker and retry see it.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::Outcome;
/// let throttled = Outcome::retryable_failure().with_retry_after(Duration::from_secs(2));
/// assert!(throttled.is_failure() && throttled.is_retryable());
/// assert_eq!(throttled.retry_after(), Some(Duration::from_secs(2)));
/// assert!(!Outcome::Success.is_failure());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The dependency did its job.
    Success,
    /// The dependency failed.
    Failure {
        /// Whether trying again may succeed (a timeout, 503), as opposed to a failure that
        /// will repeat (a rejected payload).
        retryable: bool,
        /// How long the dependency asked callers to wait (`Retry-After`, gRPC `RetryInfo`).
        retry_after: Option<Duration>,
    },
    /// Neither: the result says nothing about the dependency's health (a caller's mistake,
    /// a cancelled call). Not counted by the breaker, not retried.
    Ignored,
}

impl Outcome {
    /// A failure that trying again will not fix.
    pub const fn failure() -> Self {
        Outcome::Failure {
            retryable: false,
            retry_after: None,
        }
    }

    /// A failure worth trying again.
    pub const fn retryable_failure() -> Self {
        Outcome::Failure {
            retryable: true,
            retry_after: None,
        }
    }

    /// This outcome with a server's hint of how long to wait; no effect on non-failures.
    pub const fn with_retry_after(self, delay: Duration) -> Self {
        match self {
            Outcome::Failure { retryable, .. } => Outcome::Failure {
                retryable,
                retry_after: Some(delay),
            },
            other => other,
        }
    }

    /// Whether this is a failure.
    pub const fn is_failure(&self) -> bool {
        matches!(self, Outcome::Failure { .. })
    }

    /// Whether this is a failure worth trying again.
    pub const fn is_retryable(&self) -> bool {
        matches!(
            self,
            Outcome::Failure {
                retryable: true,
                ..
            }
        )
    }

    /// The server's hint, for failures that carry one.
    pub const fn retry_after(&self) -> Option<Duration> {
        match self {
            Outcome::Failure { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Decides the [`Outcome`] of a call from its result: success, failure (retryable or not, with
/// a server's hint), or ignored.
///
/// Implemented for closures `Fn(&Result<T, E>) -> Outcome`, and by [`AnyError`] (every `Err`
/// is a retryable failure).
///
/// ```
/// use hivetrace_resilience::{Classify, Outcome};
/// // A 4xx is the caller's fault: ignore it; a 5xx is a failure.
/// let by_status = |r: &Result<u16, std::io::Error>| match r {
///     Ok(s) if *s >= 500 => Outcome::retryable_failure(),
///     Ok(s) if *s >= 400 => Outcome::Ignored,
///     Ok(_) => Outcome::Success,
///     Err(_) => Outcome::retryable_failure(),
/// };
/// assert_eq!(by_status.classify(&Ok(404)), Outcome::Ignored);
/// assert!(by_status.classify(&Ok(503)).is_failure());
/// ```
pub trait Classify<T, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, every `Err` a retryable failure.
///
/// ```
/// use hivetrace_resilience::{AnyError, Classify, Outcome};
/// assert_eq!(AnyError.classify(&Ok::<_, ()>(1)), Outcome::Success);
/// assert!(AnyError.classify(&Err::<(), _>("boom")).is_retryable());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct AnyError;

impl<T, E> Classify<T, E> for AnyError {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::retryable_failure(),
        }
    }
}
