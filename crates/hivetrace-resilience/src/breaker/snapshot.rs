//! What a breaker knows at one moment.

use std::sync::Arc;
use std::time::Duration;

use super::State;

/// A breaker's state, window and totals at one moment, from
/// [`CircuitBreaker::snapshot`](super::CircuitBreaker::snapshot).
///
/// ```
/// use hivetrace_resilience::{CircuitBreaker, SlidingWindow};
/// let breaker = CircuitBreaker::builder("api")
///     .sliding_window(SlidingWindow::Count(10))
///     .minimum_calls(2)
///     .build()?;
/// breaker.try_acquire()?.success();
/// assert_eq!(breaker.snapshot().failure_rate, None); // fewer than 2 calls: not judged yet
/// breaker.try_acquire()?.success();
/// let snap = breaker.snapshot();
/// assert_eq!((snap.calls, snap.failure_rate), (2, Some(0.0)));
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Snapshot {
    /// The breaker's name.
    pub name: Arc<str>,
    /// Its state.
    pub state: State,
    /// Calls in the sliding window.
    pub calls: u32,
    /// Failed calls in the window.
    pub failures: u32,
    /// Slow calls in the window.
    pub slow_calls: u32,
    /// Failure rate in percent, once the window holds the minimum number of calls.
    pub failure_rate: Option<f64>,
    /// Slow-call rate in percent, when slow calls are detected and the window is judged.
    pub slow_call_rate: Option<f64>,
    /// Trial calls recorded so far in half-open.
    pub half_open_calls: u32,
    /// How long it stays open, when open.
    pub open_remaining: Option<Duration>,
    /// Openings since it last closed.
    pub consecutive_opens: u32,
    /// Successful calls since it was built.
    pub successful_total: u64,
    /// Failed calls since it was built.
    pub failed_total: u64,
    /// Slow calls since it was built.
    pub slow_total: u64,
    /// Calls whose outcome was ignored.
    pub ignored_total: u64,
    /// Calls refused.
    pub rejected_total: u64,
}
