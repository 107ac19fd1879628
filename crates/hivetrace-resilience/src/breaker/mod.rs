//! The circuit breaker: Resilience4j's state machine, lock-free while closed.
//!
//! While closed, asking for a permit is one atomic load, and recording an outcome one atomic
//! read-modify-write on a count window when it replaces an equal outcome (three otherwise;
//! no clock read unless slow calls or a time window are configured). Transitions and the
//! outcomes of half-open trials are rare and take a short lock.

mod call;
mod config;
mod machine;
mod observer;
mod permit;
#[cfg(feature = "prometheus")]
mod prometheus;
mod snapshot;
mod state;
mod tally;
mod trials;
mod window;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_utils::CachePadded;
use hivetrace_core::clock::Clock;

pub use call::CallError;
pub use config::{CircuitBreakerBuilder, SlidingWindow};
pub use observer::{BreakerEvent, BreakerObserver, Reason, Transition};
pub use permit::{OwnedPermit, Permit};
#[cfg(feature = "prometheus")]
pub use prometheus::BreakerCollector;
pub use snapshot::Snapshot;
pub use state::State;

use crate::error::Rejected;
use config::Config;
use observer::Reporter;
use trials::TrialSlots;
use window::{CountWindow, TimeWindow, Window};

const CLOSED: u8 = State::Closed as u8;
const OPEN: u8 = State::Open as u8;
const HALF_OPEN: u8 = State::HalfOpen as u8;
const DISABLED: u8 = State::Disabled as u8;
const FORCED_OPEN: u8 = State::ForcedOpen as u8;
const METRICS_ONLY: u8 = State::MetricsOnly as u8;

#[inline]
const fn code_of(word: u64) -> u8 {
    (word & 0xff) as u8
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A circuit breaker: stops calling a dependency that keeps failing, lets a few trial calls
/// through after a wait, and closes again when they succeed.
///
/// Resilience4j's semantics (count or time sliding window, failure-rate and slow-call-rate
/// thresholds, minimum calls, bounded half-open trials, wait in open) plus waits that grow
/// on repeated openings, server hints (`Retry-After`) setting the open time, the Disabled,
/// ForcedOpen and MetricsOnly states, observers, and events on the current span. Clones
/// share one breaker.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_core::clock::ManualClock;
/// use hivetrace_resilience::{CircuitBreaker, Outcome, SlidingWindow, State};
///
/// let clock = ManualClock::new();
/// let breaker = CircuitBreaker::builder("embeddings")
///     .sliding_window(SlidingWindow::Count(4))
///     .minimum_calls(4)
///     .failure_rate_threshold(50.0)
///     .wait_in_open(Duration::from_secs(10))
///     .half_open_permits(1)
///     .clock(clock.clone())
///     .build()?;
///
/// for ok in [true, false, true, false] {
///     let permit = breaker.try_acquire()?;
///     permit.record(if ok { Outcome::Success } else { Outcome::retryable_failure() });
/// }
/// assert_eq!(breaker.state(), State::Open); // 2 of 4 failed: 50 %
/// assert!(breaker.try_acquire().is_err());
///
/// clock.advance(Duration::from_secs(10));
/// breaker.try_acquire()?.success(); // the trial call
/// assert_eq!(breaker.state(), State::Closed);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Arc<Inner>,
}

impl fmt::Debug for CircuitBreaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreaker")
            .field("name", &self.inner.name)
            .field("state", &self.inner.current_state())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    /// `(generation << 8) | state code`: a new generation on every transition, so outcomes
    /// of calls permitted in an earlier state are not judged in the new one.
    state: CachePadded<AtomicU64>,
    window: Window,
    /// 0 when slow calls are not detected.
    slow_nanos: u64,
    /// Whether recording reads the clock (slow calls or a time window).
    needs_time: bool,
    /// Whether the closed window holds failures or slow calls that were not judged, for
    /// want of `minimum_calls`: a time window then judges successes too, until it has them.
    unjudged: AtomicBool,
    name: Arc<str>,
    config: Config,
    clock: Arc<dyn Clock>,
    /// The half-open trial permits in use, tied to their half-open period.
    trials: TrialSlots,
    /// The outcomes of the current half-open period's trials, packed as the windows'
    /// counts; changed only under `lock`, with the state checked, for the same reason.
    half_open_counts: AtomicU64,
    open_until: AtomicU64,
    consecutive_opens: AtomicU32,
    /// The latest server hint (nanoseconds + 1; 0 for none) since the breaker last opened.
    last_hint: AtomicU64,
    failures_total: CachePadded<AtomicU64>,
    successes: tally::Tally,
    slow_total: AtomicU64,
    ignored_total: AtomicU64,
    rejected_total: CachePadded<AtomicU64>,
    transitions: [[AtomicU64; 6]; 6],
    lock: Mutex<()>,
    reporter: Reporter,
}

impl CircuitBreaker {
    /// A builder for a breaker named `name` (the name shows in errors, events and metrics).
    pub fn builder(name: impl Into<Arc<str>>) -> CircuitBreakerBuilder {
        CircuitBreakerBuilder::new(name)
    }

    fn from_builder(b: CircuitBreakerBuilder) -> Self {
        let config = b.config;
        let window = match config.window {
            SlidingWindow::Count(n) => Window::Count(CountWindow::new(n)),
            SlidingWindow::Time { length, buckets } => {
                Window::Time(TimeWindow::new(nanos(length) / u64::from(buckets), buckets))
            }
        };
        let slow_nanos = config.slow_call_duration.map_or(0, |d| nanos(d).max(1));
        let needs_time = slow_nanos != 0 || matches!(window, Window::Time(_));
        CircuitBreaker {
            inner: Arc::new(Inner {
                state: CachePadded::new(AtomicU64::new(u64::from(CLOSED))),
                window,
                slow_nanos,
                needs_time,
                unjudged: AtomicBool::new(false),
                name: b.name,
                clock: b.clock,
                trials: TrialSlots::new(),
                half_open_counts: AtomicU64::new(0),
                open_until: AtomicU64::new(0),
                consecutive_opens: AtomicU32::new(0),
                last_hint: AtomicU64::new(0),
                failures_total: CachePadded::new(AtomicU64::new(0)),
                successes: tally::Tally::new(),
                slow_total: AtomicU64::new(0),
                ignored_total: AtomicU64::new(0),
                rejected_total: CachePadded::new(AtomicU64::new(0)),
                transitions: Default::default(),
                lock: Mutex::new(()),
                reporter: Reporter {
                    observers: b.observers,
                    span_events: config.span_events,
                },
                config,
            }),
        }
    }

    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Asks to make one call. The permit records how the call went (dropping it unrecorded
    /// gives a half-open trial slot back); the error says why the call is refused.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let word = self.inner.acquire()?;
        Ok(Permit::new(&self.inner, word, self.inner.start_time()))
    }

    /// Like [`try_acquire`](Self::try_acquire), with a permit that owns a handle to the
    /// breaker, for futures that must be `'static`.
    pub fn try_acquire_owned(&self) -> Result<OwnedPermit, Rejected> {
        let word = self.inner.acquire()?;
        Ok(OwnedPermit::new(
            self.clone(),
            word,
            self.inner.start_time(),
        ))
    }

    /// The current state. With automatic half-open, an open breaker whose wait is over turns
    /// half-open here.
    pub fn state(&self) -> State {
        self.inner.current_state()
    }

    /// Whether a call asking now would be let through, without asking (nothing changes):
    /// true when closed, half-open, disabled, metrics-only, or open with its wait over.
    pub fn is_call_permitted(&self) -> bool {
        let inner = &self.inner;
        match code_of(inner.state.load(Ordering::Acquire)) {
            OPEN => inner.clock.now_nanos() >= inner.open_until.load(Ordering::Acquire),
            FORCED_OPEN => false,
            _ => true,
        }
    }

    /// Opens the breaker until told otherwise: every call is refused.
    pub fn force_open(&self) {
        self.transition_to(State::ForcedOpen);
    }

    /// Lets every call through and records nothing, until told otherwise.
    pub fn disable(&self) {
        self.transition_to(State::Disabled);
    }

    /// Lets every call through and records outcomes, but never trips, until told otherwise.
    pub fn metrics_only(&self) {
        self.transition_to(State::MetricsOnly);
    }

    /// Closes the breaker with an empty window, from any state.
    pub fn reset(&self) {
        self.transition_to(State::Closed);
    }

    /// Moves the breaker to `state` by hand. To Open, it waits as if it had tripped.
    pub fn transition_to(&self, state: State) {
        let inner = &self.inner;
        loop {
            let word = inner.state.load(Ordering::Acquire);
            let open_for = (state == State::Open).then(|| inner.next_wait());
            if inner.transition(word, state, Reason::Manual, open_for) {
                return;
            }
        }
    }

    /// How many times the breaker went from `from` to `to`.
    pub fn transitions(&self, from: State, to: State) -> u64 {
        self.inner.transitions[from as usize][to as usize].load(Ordering::Relaxed)
    }

    /// What the breaker knows now: state, window counts and rates, totals.
    pub fn snapshot(&self) -> Snapshot {
        self.inner.snapshot()
    }
}
