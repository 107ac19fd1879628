//! How a circuit breaker is configured.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hivetrace_core::clock::{Clock, SystemClock};

use super::CircuitBreaker;
use super::observer::BreakerObserver;
use super::window::{MAX_COUNT_WINDOW, MAX_HALF_OPEN_PERMITS};

// The error for a count window too large names this number.
const _: () = assert!(MAX_COUNT_WINDOW == 1_047_552);
use crate::error::{Error, Result};

/// Which recent calls the closed breaker judges.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::SlidingWindow;
/// let last_100 = SlidingWindow::Count(100);
/// let last_minute = SlidingWindow::time(Duration::from_secs(60)); // 10 buckets of 6 s
/// assert_ne!(last_100, last_minute);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `n` calls.
    Count(u32),
    /// The calls of the last `length`, aggregated in `buckets` equal buckets (the window moves
    /// a bucket at a time). Rates are judged when a failure or a slow call is recorded, and
    /// when a success brings the window to `minimum_calls` with failures or slow calls in it
    /// (otherwise a success cannot raise them); each bucket counts up to 2,097,151 calls
    /// exactly.
    Time {
        /// How far back the window reaches.
        length: Duration,
        /// How many buckets it is divided into.
        buckets: u32,
    },
}

impl SlidingWindow {
    /// A time window of `length` in 10 buckets.
    pub const fn time(length: Duration) -> Self {
        SlidingWindow::Time {
            length,
            buckets: 10,
        }
    }
}

impl Default for SlidingWindow {
    /// The last 100 calls, as Resilience4j.
    fn default() -> Self {
        SlidingWindow::Count(100)
    }
}

/// The settings of a breaker, validated by [`CircuitBreakerBuilder::build`].
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) window: SlidingWindow,
    pub(crate) failure_rate_threshold: f64,
    pub(crate) slow_call_duration: Option<Duration>,
    pub(crate) slow_call_rate_threshold: f64,
    pub(crate) minimum_calls: u32,
    pub(crate) half_open_permits: u32,
    pub(crate) wait_in_open: Duration,
    pub(crate) wait_multiplier: f64,
    pub(crate) max_wait_in_open: Duration,
    pub(crate) automatic_half_open: bool,
    pub(crate) max_hint: Duration,
    pub(crate) open_on_hint: bool,
    pub(crate) span_events: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            window: SlidingWindow::default(),
            failure_rate_threshold: 50.0,
            slow_call_duration: None,
            slow_call_rate_threshold: 100.0,
            minimum_calls: 100,
            half_open_permits: 10,
            wait_in_open: Duration::from_secs(60),
            wait_multiplier: 1.0,
            max_wait_in_open: Duration::from_secs(60),
            automatic_half_open: false,
            max_hint: Duration::from_secs(300),
            open_on_hint: false,
            span_events: true,
        }
    }
}

/// Builds a [`CircuitBreaker`]. The defaults are Resilience4j's: the last 100 calls, a 50 %
/// failure-rate threshold, judged from 100 calls on, 10 trial calls in half-open, 60 s open.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::{CircuitBreaker, SlidingWindow};
///
/// let breaker = CircuitBreaker::builder("llm-provider")
///     .sliding_window(SlidingWindow::time(Duration::from_secs(30)))
///     .failure_rate_threshold(25.0)
///     .slow_call(Duration::from_secs(10), 80.0)
///     .minimum_calls(20)
///     .half_open_permits(3)
///     .wait_in_open(Duration::from_secs(5))
///     .wait_growth(2.0, Duration::from_secs(120)) // 5 s, 10 s, 20 s ... while it keeps failing
///     .build()?;
/// assert_eq!(breaker.name(), "llm-provider");
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub struct CircuitBreakerBuilder {
    pub(crate) name: Arc<str>,
    pub(crate) config: Config,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observers: Vec<Arc<dyn BreakerObserver>>,
}

impl fmt::Debug for CircuitBreakerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CircuitBreakerBuilder")
            .field("name", &self.name)
            .field("window", &self.config.window)
            .field(
                "failure_rate_threshold",
                &self.config.failure_rate_threshold,
            )
            .field("observers", &self.observers.len())
            .finish_non_exhaustive()
    }
}

impl CircuitBreakerBuilder {
    pub(crate) fn new(name: impl Into<Arc<str>>) -> Self {
        CircuitBreakerBuilder {
            name: name.into(),
            config: Config::default(),
            clock: Arc::new(SystemClock::new()),
            observers: Vec::new(),
        }
    }

    /// The calls judged while closed.
    pub fn sliding_window(mut self, window: SlidingWindow) -> Self {
        self.config.window = window;
        self
    }

    /// The failure rate, in percent (0, 100], at or above which the breaker opens.
    pub fn failure_rate_threshold(mut self, percent: f64) -> Self {
        self.config.failure_rate_threshold = percent;
        self
    }

    /// Calls taking `duration` or longer are slow; at or above `rate_percent` slow calls the
    /// breaker opens. Off by default (no clock is read per call then).
    pub fn slow_call(mut self, duration: Duration, rate_percent: f64) -> Self {
        self.config.slow_call_duration = Some(duration);
        self.config.slow_call_rate_threshold = rate_percent;
        self
    }

    /// How many calls the window must hold before rates are judged (at most the count
    /// window's size).
    pub fn minimum_calls(mut self, calls: u32) -> Self {
        self.config.minimum_calls = calls;
        self
    }

    /// How many trial calls pass in half-open; their outcomes decide whether it closes.
    /// Between 1 and 2,097,151 (the trials are counted in 21 bits).
    pub fn half_open_permits(mut self, permits: u32) -> Self {
        self.config.half_open_permits = permits;
        self
    }

    /// How long the breaker stays open before letting trial calls through.
    pub fn wait_in_open(mut self, wait: Duration) -> Self {
        self.config.wait_in_open = wait;
        self.config.max_wait_in_open = self.config.max_wait_in_open.max(wait);
        self
    }

    /// Each consecutive opening (half-open trials failed again) waits `multiplier` times the
    /// previous wait, up to `max`. A successful close starts again from the base wait.
    pub fn wait_growth(mut self, multiplier: f64, max: Duration) -> Self {
        self.config.wait_multiplier = multiplier;
        self.config.max_wait_in_open = max;
        self
    }

    /// `true`: the breaker turns half-open as soon as the wait is over (seen by
    /// [`state`](CircuitBreaker::state), snapshots and observers). `false` (the default): it
    /// stays open until the next call asks.
    pub fn automatic_half_open(mut self, automatic: bool) -> Self {
        self.config.automatic_half_open = automatic;
        self
    }

    /// The longest open duration a server's hint may set (default 5 min).
    pub fn max_hint(mut self, max: Duration) -> Self {
        self.config.max_hint = max;
        self
    }

    /// `true`: a failure carrying a server's hint (`Retry-After`) opens the breaker at once,
    /// for the hinted time, whatever the rates. `false` (the default): the hint only sets the
    /// open duration when the rates open it.
    pub fn open_on_hint(mut self, open: bool) -> Self {
        self.config.open_on_hint = open;
        self
    }

    /// Whether transitions and rejections are added as events to the current OpenTelemetry
    /// span (default `true`).
    pub fn span_events(mut self, record: bool) -> Self {
        self.config.span_events = record;
        self
    }

    /// The clock for windows and waits (a `ManualClock` in tests).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Adds an observer of transitions and rejections.
    pub fn observer(mut self, observer: impl BreakerObserver) -> Self {
        self.observers.push(Arc::new(observer));
        self
    }

    /// Builds the breaker, closed. Fails with the setting's name when a value is out of range.
    pub fn build(mut self) -> Result<CircuitBreaker> {
        let c = &mut self.config;
        let percent = |v: f64| v.is_finite() && v > 0.0 && v <= 100.0;
        if !percent(c.failure_rate_threshold) {
            return Err(Error::invalid(
                "failure_rate_threshold",
                c.failure_rate_threshold,
                "expected a percentage above 0 and at most 100",
            ));
        }
        if !percent(c.slow_call_rate_threshold) {
            return Err(Error::invalid(
                "slow_call rate",
                c.slow_call_rate_threshold,
                "expected a percentage above 0 and at most 100",
            ));
        }
        match c.window {
            SlidingWindow::Count(n) if n == 0 || n > MAX_COUNT_WINDOW => {
                return Err(Error::invalid(
                    "sliding_window",
                    n,
                    "a count window holds between 1 and 1,047,552 calls",
                ));
            }
            SlidingWindow::Count(n) => c.minimum_calls = c.minimum_calls.min(n),
            SlidingWindow::Time { length, buckets } => {
                if buckets == 0 || buckets > 3600 {
                    return Err(Error::invalid(
                        "sliding_window",
                        buckets,
                        "a time window has between 1 and 3600 buckets",
                    ));
                }
                if length.as_nanos() < u128::from(buckets) * 1_000_000
                    || length > Duration::from_secs(86_400)
                {
                    return Err(Error::invalid(
                        "sliding_window",
                        format!("{length:?}"),
                        "a time window lasts at most a day, and each bucket at least 1 ms",
                    ));
                }
            }
        }
        if c.minimum_calls == 0 {
            return Err(Error::invalid(
                "minimum_calls",
                0,
                "at least one call is needed to judge a rate",
            ));
        }
        if c.half_open_permits == 0 || c.half_open_permits > MAX_HALF_OPEN_PERMITS {
            return Err(Error::invalid(
                "half_open_permits",
                c.half_open_permits,
                "expected between 1 and 2,097,151 trial calls",
            ));
        }
        if !c.wait_multiplier.is_finite() || c.wait_multiplier < 1.0 {
            return Err(Error::invalid(
                "wait_growth",
                c.wait_multiplier,
                "the multiplier must be a finite number of at least 1",
            ));
        }
        c.max_wait_in_open = c.max_wait_in_open.max(c.wait_in_open);
        Ok(CircuitBreaker::from_builder(self))
    }
}
