//! A sampler that adjusts its probability so that a target number of traces per second is
//! sampled whatever the incoming load, and keeps its decisions consistent (OTEP 235).
//!
//! Like the other root samplers, wrap it in [`ParentBased`](crate::parent::ParentBased) so
//! children follow their root and inherit its threshold.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::clock::{Clock, SystemClock};
use crate::ot_state::{OtTraceState, sampling_result, with_parent_trace_state};
use crate::threshold::{MAX_ADJUSTED_COUNT, MIN_PROBABILITY, Threshold};
use crate::{Error, Result};

/// Request counters, one per thread up to this many threads, so that threads do not pass
/// cache lines back and forth.
const SHARDS: usize = 16;

/// The decision state packs, in one word: the threshold (bits 0..=56, up to [`NEVER`]), the
/// clock stride as a power of two (bits 58..=60), and [`WARMING`] (bit 63).
const THRESHOLD_MASK: u64 = (1 << 57) - 1;
const STRIDE_OFFSET: u32 = 58;
/// At most one clock read per 2^6 decisions of a thread.
const MAX_STRIDE_SHIFT: u64 = 6;

/// Set until the first window closes: the sampler has no measured rate yet and grants the
/// warm-up quota.
const WARMING: u64 = 1 << 63;

/// A threshold no 56-bit randomness reaches: probability zero.
const NEVER: u64 = MAX_ADJUSTED_COUNT;

/// This thread's request counter.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SHARD: usize = NEXT.fetch_add(1, Ordering::Relaxed) % SHARDS;
    }
    SHARD.with(|shard| *shard)
}

/// The clock stride for an incoming rate: the largest power of two (up to 2^6) of decisions
/// that a window boundary may go unnoticed, for a delay of at most 1% of a window.
fn stride_shift(rate: f64, window_seconds: f64) -> u64 {
    // `as` saturates; NaN becomes 0.
    let per_hundredth = (rate * window_seconds / 100.0) as u64;
    if per_hundredth == 0 {
        0
    } else {
        u64::from(per_hundredth.ilog2()).min(MAX_STRIDE_SHIFT)
    }
}

/// The packed threshold applied for `probability`, rounded as `th` will state it.
fn packed_threshold(probability: f64) -> u64 {
    if probability.is_nan() || probability <= 0.0 {
        return NEVER;
    }
    Threshold::from_probability(probability.clamp(MIN_PROBABILITY, 1.0))
        .map_or(NEVER, Threshold::get)
}

/// Keeps a value on its own cache line (128 bytes covers adjacent-line prefetching).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded<T>(T);

/// A sampler that targets a number of sampled traces per second as the load changes.
///
/// It counts incoming spans per window (one second by default), smooths the measured rate
/// with an exponentially weighted moving average, and at each window boundary sets the
/// probability to `target / rate`, moved by at most a factor of `max_step` per window and
/// kept between `floor` and `ceiling`. Until the first window closes it samples the first
/// `warmup` spans (default: one window of the target) and then uses the floor.
///
/// The probability is applied as an OTEP 235 consistent threshold on the trace's randomness
/// (the `rv` in the `ot` trace-state entry, else the low 56 bits of the trace id), and sampled
/// spans carry `ot=th:…`: adjusted counts (`1/probability`) estimate the real traffic without
/// bias even while the probability moves, since it never depends on the span being decided.
///
/// Because the controller reads the *incoming* rate rather than the sampled one, it has no
/// feedback loop to oscillate: under a steady load it settles and stays.
///
/// A decision takes no lock: an atomic increment of a per-thread counter and an atomic load.
/// The clock is read once every few decisions of a thread (up to 64, so that a window's end
/// goes unnoticed for at most about 1% of a window at the measured rate; every decision at low
/// load). The thread that first sees a window's end claims the roll-over with a
/// compare-and-swap and recomputes the probability; the others do not wait. Clones share all
/// state.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_sampling::adaptive::AdaptiveSampler;
/// use hivetrace_sampling::clock::ManualClock;
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
///
/// let clock = ManualClock::new();
/// let sampler = AdaptiveSampler::builder(10.0).clock(clock.clone()).build()?;
///
/// // 1,000 spans per second for 15 seconds.
/// let mut sampled_last_second = 0;
/// for n in 0..15_000u128 {
///     // Trace ids whose low 56 bits are spread evenly, like random ones.
///     let trace_id = TraceId::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
///     let result = sampler.should_sample(None, trace_id, "chat", &SpanKind::Client, &[], &[]);
///     if n >= 14_000 && result.decision == SamplingDecision::RecordAndSample {
///         sampled_last_second += 1;
///     }
///     clock.advance(Duration::from_millis(1));
/// }
/// assert!((sampler.probability() - 0.01).abs() < 0.001);
/// assert!((8..=12).contains(&sampled_last_second));
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone)]
pub struct AdaptiveSampler {
    inner: Arc<Inner>,
}

#[derive(Clone, Copy, Debug)]
struct Config {
    target_per_second: f64,
    window_nanos: u64,
    floor: f64,
    ceiling: f64,
    max_step: f64,
    smoothing: f64,
    warmup: u64,
}

struct Inner {
    config: Config,
    clock: Box<dyn Clock>,
    /// Read by every decision, written once per window.
    hot: Padded<Hot>,
    counts: [Padded<AtomicU64>; SHARDS],
    /// Incremented only during the first window.
    warmup_taken: Padded<AtomicU64>,
    /// Written only by the thread that rolls the window over.
    cold: Cold,
}

#[derive(Debug)]
struct Hot {
    /// Nanoseconds at which the current window closes.
    window_end: AtomicU64,
    /// The threshold, clock stride and warm-up flag (see [`THRESHOLD_MASK`]).
    state: AtomicU64,
}

#[derive(Debug)]
struct Cold {
    window_start: AtomicU64,
    /// Smoothed incoming spans per second, as `f64` bits.
    rate: AtomicU64,
    /// Current probability, as `f64` bits.
    probability: AtomicU64,
}

impl fmt::Debug for AdaptiveSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdaptiveSampler")
            .field("config", &self.inner.config)
            .field("probability", &self.probability())
            .field("incoming_per_second", &self.incoming_per_second())
            .field("clock", &self.inner.clock)
            .finish()
    }
}

impl AdaptiveSampler {
    /// A sampler targeting `target_per_second` sampled traces per second, with the defaults
    /// of [`AdaptiveSamplerBuilder`], on the system clock.
    ///
    /// Fails if the target is not a finite number greater than zero.
    pub fn new(target_per_second: f64) -> Result<Self> {
        Self::builder(target_per_second).build()
    }

    /// Starts configuring a sampler targeting `target_per_second` sampled traces per second.
    pub fn builder(target_per_second: f64) -> AdaptiveSamplerBuilder {
        AdaptiveSamplerBuilder {
            target_per_second,
            window: Duration::from_secs(1),
            floor: 0.0,
            ceiling: 1.0,
            max_step: 2.0,
            smoothing: 0.5,
            warmup: None,
            clock: None,
        }
    }

    /// The probability applied to spans now (outside the warm-up quota).
    pub fn probability(&self) -> f64 {
        f64::from_bits(self.inner.cold.probability.load(Ordering::Relaxed))
    }

    /// The smoothed incoming rate in spans per second, or `None` before the first window
    /// has closed.
    pub fn incoming_per_second(&self) -> Option<f64> {
        let warming = self.inner.hot.0.state.load(Ordering::Relaxed) & WARMING != 0;
        (!warming).then(|| f64::from_bits(self.inner.cold.rate.load(Ordering::Relaxed)))
    }

    /// The configured target, in sampled traces per second.
    pub fn target_per_second(&self) -> f64 {
        self.inner.config.target_per_second
    }
}

impl Inner {
    /// The threshold of a kept span, `None` for a dropped one.
    fn decide(&self, trace_id: TraceId, ot: &OtTraceState<'_>) -> Option<Threshold> {
        let hot = &self.hot.0;
        let mut state = hot.state.load(Ordering::Relaxed);
        let seen = self.counts[shard_index()].0.fetch_add(1, Ordering::Relaxed);
        let stride_mask = (1 << ((state >> STRIDE_OFFSET) & 7)) - 1;
        if seen & stride_mask == 0 {
            let now = self.clock.now_nanos();
            if now >= hot.window_end.load(Ordering::Relaxed) {
                self.roll(now);
                state = hot.state.load(Ordering::Relaxed);
            }
        }
        let threshold = if state & WARMING != 0
            && self.warmup_taken.0.fetch_add(1, Ordering::Relaxed) < self.config.warmup
        {
            0
        } else {
            state & THRESHOLD_MASK
        };
        if ot.randomness_or(trace_id).get() >= threshold {
            Threshold::from_u56(threshold)
        } else {
            None
        }
    }

    /// Closes the window if this thread is the first to see its end.
    fn roll(&self, now: u64) {
        let hot = &self.hot.0;
        let end = hot.window_end.load(Ordering::Acquire);
        let next_end = now.saturating_add(self.config.window_nanos);
        if now < end
            || hot
                .window_end
                .compare_exchange(end, next_end, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        // From here on this thread alone owns the cold state until `next_end`.
        let start = self.cold.window_start.swap(now, Ordering::Relaxed);
        // An idle stretch of several windows is measured as one long window. The span that
        // noticed the end is counted in the window it closes.
        let elapsed_seconds = now.saturating_sub(start).max(1) as f64 / 1e9;
        let count: u64 = self
            .counts
            .iter()
            .map(|shard| shard.0.swap(0, Ordering::Relaxed))
            .fold(0, u64::saturating_add);
        let measured = count as f64 / elapsed_seconds;

        let config = &self.config;
        let warming = hot.state.load(Ordering::Relaxed) & WARMING != 0;
        let rate = if warming {
            measured
        } else {
            let previous = f64::from_bits(self.cold.rate.load(Ordering::Relaxed));
            config.smoothing * measured + (1.0 - config.smoothing) * previous
        };
        let wanted = if rate > 0.0 {
            config.target_per_second / rate
        } else {
            config.ceiling
        };
        let probability = if warming {
            wanted
        } else {
            let previous = f64::from_bits(self.cold.probability.load(Ordering::Relaxed));
            wanted.clamp(previous / config.max_step, previous * config.max_step)
        }
        .clamp(config.floor, config.ceiling);

        self.cold.rate.store(rate.to_bits(), Ordering::Relaxed);
        self.cold
            .probability
            .store(probability.to_bits(), Ordering::Relaxed);
        let window_seconds = config.window_nanos as f64 / 1e9;
        let stride = stride_shift(rate, window_seconds) << STRIDE_OFFSET;
        hot.state
            .store(packed_threshold(probability) | stride, Ordering::Relaxed);
    }
}

impl ShouldSample for AdaptiveSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        with_parent_trace_state(parent_context, |parent_state| {
            let ot = OtTraceState::from_trace_state(parent_state);
            let threshold = self.inner.decide(trace_id, &ot);
            // A dropped span's `th` is erased, as the consistent sampler does.
            sampling_result(
                threshold.is_some(),
                ot.with_threshold(threshold).apply_to(parent_state),
            )
        })
    }
}

/// Configuration for an [`AdaptiveSampler`]; [`build`](Self::build) checks it.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_sampling::adaptive::AdaptiveSampler;
///
/// let sampler = AdaptiveSampler::builder(50.0)
///     .window(Duration::from_secs(5))
///     .floor(0.001)
///     .ceiling(0.5)
///     .max_step(4.0)
///     .build()?;
/// assert_eq!(sampler.target_per_second(), 50.0);
///
/// let error = AdaptiveSampler::builder(50.0).floor(0.6).ceiling(0.5).build().unwrap_err();
/// assert!(error.to_string().contains("floor"));
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Debug)]
pub struct AdaptiveSamplerBuilder {
    target_per_second: f64,
    window: Duration,
    floor: f64,
    ceiling: f64,
    max_step: f64,
    smoothing: f64,
    warmup: Option<u64>,
    clock: Option<Box<dyn Clock>>,
}

impl AdaptiveSamplerBuilder {
    /// How often the rate is measured and the probability adjusted (default: one second).
    /// Must be between one millisecond and one year.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The lowest probability, however high the load (default: 0). In `[0, ceiling]`.
    pub fn floor(mut self, floor: f64) -> Self {
        self.floor = floor;
        self
    }

    /// The highest probability, however low the load (default: 1). In `(0, 1]`.
    pub fn ceiling(mut self, ceiling: f64) -> Self {
        self.ceiling = ceiling;
        self
    }

    /// The largest factor by which one window may raise or lower the probability
    /// (default: 2). Finite and greater than 1.
    pub fn max_step(mut self, max_step: f64) -> Self {
        self.max_step = max_step;
        self
    }

    /// The weight of the newest window in the smoothed rate (default: 0.5); 1 uses the
    /// newest window alone. In `(0, 1]`.
    pub fn smoothing(mut self, smoothing: f64) -> Self {
        self.smoothing = smoothing;
        self
    }

    /// How many spans to sample before the first window closes, when there is no measured
    /// rate yet (default: one window of the target, rounded up).
    pub fn warmup(mut self, spans: u64) -> Self {
        self.warmup = Some(spans);
        self
    }

    /// The clock that delimits windows (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Checks the configuration and builds the sampler.
    ///
    /// Fails, naming the setting, if the target is not finite and positive, the window is
    /// outside one millisecond to one year, the floor or ceiling is not a probability or the
    /// floor exceeds the ceiling, the step is not greater than 1, or the smoothing is not in
    /// `(0, 1]`.
    pub fn build(self) -> Result<AdaptiveSampler> {
        let target = self.target_per_second;
        if !target.is_finite() || target <= 0.0 {
            return Err(Error::invalid(
                "target_per_second",
                target,
                "expected a finite number of traces per second greater than zero",
            ));
        }
        const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
        if self.window < Duration::from_millis(1) || self.window > YEAR {
            return Err(Error::invalid(
                "window",
                format!("{:?}", self.window),
                "expected a window between one millisecond and one year",
            ));
        }
        if !(0.0..=1.0).contains(&self.floor) {
            return Err(Error::invalid(
                "floor",
                self.floor,
                "expected a probability between 0 and 1 inclusive",
            ));
        }
        if !(self.ceiling > 0.0 && self.ceiling <= 1.0) {
            return Err(Error::invalid(
                "ceiling",
                self.ceiling,
                "expected a probability greater than 0 and at most 1",
            ));
        }
        if self.floor > self.ceiling {
            return Err(Error::invalid(
                "floor",
                format!("{} (ceiling {})", self.floor, self.ceiling),
                "expected a floor no higher than the ceiling",
            ));
        }
        if !self.max_step.is_finite() || self.max_step <= 1.0 {
            return Err(Error::invalid(
                "max_step",
                self.max_step,
                "expected a finite factor greater than 1",
            ));
        }
        if !(self.smoothing > 0.0 && self.smoothing <= 1.0) {
            return Err(Error::invalid(
                "smoothing",
                self.smoothing,
                "expected a weight greater than 0 and at most 1",
            ));
        }
        // Checked above: at most a year, so it fits.
        let window_nanos = u64::try_from(self.window.as_nanos()).unwrap_or(u64::MAX);
        let warmup = self
            .warmup
            // `as` saturates on a huge target.
            .unwrap_or_else(|| (target * self.window.as_secs_f64()).ceil() as u64);
        let clock = self.clock.unwrap_or_else(|| Box::new(SystemClock::new()));
        let start = clock.now_nanos();
        let floor_threshold = packed_threshold(self.floor);
        Ok(AdaptiveSampler {
            inner: Arc::new(Inner {
                config: Config {
                    target_per_second: target,
                    window_nanos,
                    floor: self.floor,
                    ceiling: self.ceiling,
                    max_step: self.max_step,
                    smoothing: self.smoothing,
                    warmup,
                },
                clock,
                hot: Padded(Hot {
                    window_end: AtomicU64::new(start.saturating_add(window_nanos)),
                    state: AtomicU64::new(WARMING | floor_threshold),
                }),
                counts: Default::default(),
                warmup_taken: Padded::default(),
                cold: Cold {
                    window_start: AtomicU64::new(start),
                    rate: AtomicU64::new(0.0_f64.to_bits()),
                    probability: AtomicU64::new(self.floor.to_bits()),
                },
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn first_roll_jumps_to_the_measured_probability_then_steps_are_bounded() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(10.0)
            .smoothing(1.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let inner = &*sampler.inner;
        let spans = |n: u64| {
            for i in 0..n {
                inner.decide(TraceId::from(u128::from(i)), &OtTraceState::default());
            }
        };
        spans(999);
        clock.advance(Duration::from_secs(1));
        spans(1);
        assert_eq!(sampler.probability(), 0.01);
        // The load drops to nothing: the probability may only double per window.
        clock.advance(Duration::from_secs(1));
        spans(1);
        assert_eq!(sampler.probability(), 0.02);
    }

    #[test]
    fn an_idle_stretch_counts_as_one_long_window() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(1.0)
            .smoothing(1.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        for i in 0..99u128 {
            sampler
                .inner
                .decide(TraceId::from(i), &OtTraceState::default());
        }
        clock.advance(Duration::from_secs(10));
        sampler
            .inner
            .decide(TraceId::from(0), &OtTraceState::default());
        assert_eq!(sampler.incoming_per_second(), Some(10.0));
    }

    #[test]
    fn the_clock_is_read_less_often_as_the_load_grows() {
        assert_eq!(stride_shift(0.0, 1.0), 0);
        assert_eq!(stride_shift(f64::NAN, 1.0), 0);
        assert_eq!(stride_shift(199.0, 1.0), 0);
        assert_eq!(stride_shift(400.0, 1.0), 2);
        assert_eq!(stride_shift(400.0, 0.1), 0);
        assert_eq!(stride_shift(1e12, 1.0), MAX_STRIDE_SHIFT);
    }

    #[test]
    fn a_window_end_is_noticed_within_the_stride() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(10.0)
            .smoothing(1.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let decide = || {
            sampler
                .inner
                .decide(TraceId::from(1), &OtTraceState::default());
        };
        // 6,400/s: a stride of 64 decisions.
        (0..6399).for_each(|_| decide());
        clock.advance(Duration::from_secs(1));
        decide();
        assert_eq!(sampler.incoming_per_second(), Some(6400.0));
        let state = sampler.inner.hot.0.state.load(Ordering::Relaxed);
        assert_eq!((state >> STRIDE_OFFSET) & 7, 6);
        (0..10).for_each(|_| decide());
        clock.advance(Duration::from_secs(1));
        let before = sampler.probability();
        // The counter restarted at the roll; the clock is read when it reaches 64.
        (0..54).for_each(|_| decide());
        assert_eq!(sampler.probability(), before, "not yet looked at the clock");
        decide();
        assert_eq!(
            sampler.probability(),
            2.0 * before,
            "the 65th decision rolled"
        );
    }
}
