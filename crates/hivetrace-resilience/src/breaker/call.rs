//! Running a call through the breaker.

use std::future::Future;

use super::CircuitBreaker;
use crate::error::Rejected;
use crate::outcome::{AnyError, Classify};

/// Why a call through the breaker failed: it was refused, or it ran and failed.
///
/// ```
/// use hivetrace_resilience::{CallError, CircuitBreaker};
/// let breaker = CircuitBreaker::builder("fs").build()?;
/// let err = breaker.call(|| std::fs::read("/no/such/file")).expect_err("missing");
/// assert!(matches!(err, CallError::Inner(_)));
/// breaker.force_open();
/// let err = breaker.call(|| std::fs::read("/no/such/file")).expect_err("refused");
/// assert!(err.is_rejected());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker refused the call; it did not run.
    #[error(transparent)]
    Rejected(Rejected),
    /// The call ran and returned this error.
    #[error("{0}")]
    Inner(E),
}

impl<E> CallError<E> {
    /// Whether the breaker refused the call.
    pub fn is_rejected(&self) -> bool {
        matches!(self, CallError::Rejected(_))
    }

    /// The call's own error, if it ran.
    pub fn into_inner(self) -> Option<E> {
        match self {
            CallError::Inner(e) => Some(e),
            CallError::Rejected(_) => None,
        }
    }
}

impl CircuitBreaker {
    /// Runs `f` if permitted; every `Err` counts as a failure.
    pub fn call<T, E>(&self, f: impl FnOnce() -> Result<T, E>) -> Result<T, CallError<E>> {
        self.call_with(&AnyError, f)
    }

    /// Runs `f` if permitted, its outcome decided by `classify`.
    pub fn call_with<T, E>(
        &self,
        classify: &impl Classify<T, E>,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, CallError<E>> {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f();
        permit.record(classify.classify(&result));
        result.map_err(CallError::Inner)
    }

    /// Runs the future `f` makes if permitted, its outcome decided by `classify`. A future
    /// dropped before it finishes records nothing (a cancelled call says nothing of the
    /// dependency).
    ///
    /// ```
    /// use hivetrace_resilience::{AnyError, CircuitBreaker};
    /// let breaker = CircuitBreaker::builder("llm").build()?;
    /// let answer = futures_executor::block_on(
    ///     breaker.run(&AnyError, || async { Ok::<_, std::io::Error>("42") }),
    /// );
    /// assert_eq!(answer.ok(), Some("42"));
    /// # Ok::<(), hivetrace_resilience::Error>(())
    /// ```
    pub async fn run<T, E, F, Fut>(
        &self,
        classify: &impl Classify<T, E>,
        f: F,
    ) -> Result<T, CallError<E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = f().await;
        permit.record(classify.classify(&result));
        result.map_err(CallError::Inner)
    }
}
