//! Permission for one call, and how it ends.

use std::fmt;
use std::time::Duration;

use super::{CircuitBreaker, Inner, State, code_of, nanos};
use crate::outcome::Outcome;

/// Permission from a [`CircuitBreaker`] for one call.
///
/// Record how the call went with [`record`](Permit::record) (or [`success`](Permit::success),
/// [`failure`](Permit::failure)). Dropped unrecorded, it records nothing and, in half-open,
/// gives its trial slot back.
///
/// ```
/// use hivetrace_resilience::{CircuitBreaker, Outcome};
/// let breaker = CircuitBreaker::builder("api").build()?;
/// let permit = breaker.try_acquire()?;
/// permit.record(Outcome::Success);
/// assert_eq!(breaker.snapshot().calls, 1);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[must_use = "record the call's outcome, or it is not counted"]
pub struct Permit<'a> {
    inner: &'a Inner,
    word: u64,
    started: u64,
    settled: bool,
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("breaker", &self.inner.name)
            .field("state", &State::from_code(code_of(self.word)))
            .finish()
    }
}

impl<'a> Permit<'a> {
    pub(super) fn new(inner: &'a Inner, word: u64, started: u64) -> Self {
        Permit {
            inner,
            word,
            started,
            settled: false,
        }
    }

    /// Records how the call went; its duration is measured from the permit (when slow calls
    /// are detected).
    #[inline]
    pub fn record(mut self, outcome: Outcome) {
        self.settled = true;
        self.inner.record(self.word, self.started, outcome, None);
    }

    /// Records how the call went and how long it took, as measured by the caller.
    pub fn record_elapsed(mut self, outcome: Outcome, elapsed: Duration) {
        self.settled = true;
        self.inner
            .record(self.word, self.started, outcome, Some(nanos(elapsed)));
    }

    /// Records a success.
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a (retryable) failure.
    pub fn failure(self) {
        self.record(Outcome::retryable_failure());
    }

    /// The state the permit was given in.
    pub fn state(&self) -> State {
        State::from_code(code_of(self.word))
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        if !self.settled {
            self.inner.release(self.word);
        }
    }
}

/// A [`Permit`] that owns a handle to its breaker, for `'static` futures (tower services).
///
/// ```
/// use hivetrace_resilience::CircuitBreaker;
/// let breaker = CircuitBreaker::builder("api").build()?;
/// let permit = breaker.try_acquire_owned()?;
/// std::thread::spawn(move || permit.success()).join().unwrap();
/// assert_eq!(breaker.snapshot().successful_total, 1);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[must_use = "record the call's outcome, or it is not counted"]
pub struct OwnedPermit {
    breaker: CircuitBreaker,
    word: u64,
    started: u64,
    settled: bool,
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("breaker", &self.breaker.inner.name)
            .field("state", &State::from_code(code_of(self.word)))
            .finish()
    }
}

impl OwnedPermit {
    pub(super) fn new(breaker: CircuitBreaker, word: u64, started: u64) -> Self {
        OwnedPermit {
            breaker,
            word,
            started,
            settled: false,
        }
    }

    /// Records how the call went.
    pub fn record(mut self, outcome: Outcome) {
        self.settled = true;
        self.breaker
            .inner
            .record(self.word, self.started, outcome, None);
    }

    /// Records how the call went and how long it took.
    pub fn record_elapsed(mut self, outcome: Outcome, elapsed: Duration) {
        self.settled = true;
        self.breaker
            .inner
            .record(self.word, self.started, outcome, Some(nanos(elapsed)));
    }

    /// Records a success.
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// Records a (retryable) failure.
    pub fn failure(self) {
        self.record(Outcome::retryable_failure());
    }
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        if !self.settled {
            self.breaker.inner.release(self.word);
        }
    }
}
