//! A sampler that adjusts its probability so that a target number of traces per second is
//! sampled whatever the incoming load, and keeps its decisions consistent (OTEP 235).
//!
//! Like the other root samplers, wrap it in [`ParentBased`](crate::parent::ParentBased) so
//! children follow their root and inherit its threshold.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::clock::{Clock, SystemClock};
use crate::ot_state::{OtTraceState, root_trace_state, sampling_result, with_parent_trace_state};
use crate::threshold::{MAX_ADJUSTED_COUNT, MIN_PROBABILITY, Threshold};
use crate::{Error, Result};

/// Request counters, one per thread up to this many threads, so that threads do not pass
/// cache lines back and forth.
const SHARDS: usize = 16;

/// The decision state packs, in one word: the threshold (bits 0..=56, up to [`NEVER`]) and
/// [`WARMING`] (bit 63).
const THRESHOLD_MASK: u64 = (1 << 57) - 1;

/// A shard's counter packs, in one word: the decisions of this window (bits 0..=57) and the
/// shard's clock stride as a power of two (bits 58..=60), so one `fetch_add` yields both.
const COUNT_MASK: u64 = (1 << 58) - 1;
const STRIDE_OFFSET: u32 = 58;
/// At most one clock read per 2^6 decisions of a thread.
const MAX_STRIDE_SHIFT: u64 = 6;
/// However low the target, a stride of up to 8 decisions is allowed (see [`stride_shift`]).
const MIN_TARGET_STRIDE: u64 = 8;

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

/// The clock stride of a thread that made `per_window` decisions in a window's length: the
/// largest power of two of decisions, up to 2^6, that a window's end may go unnoticed by it.
///
/// At most 1% of `per_window`, so that at a steady load the end goes unnoticed for at most 1%
/// of a window. That is a guess at the next window's load, so the stride is also held to the
/// target's spans per window, `target_per_window` (though never under [`MIN_TARGET_STRIDE`],
/// which bounds the clock's cost): when the load drops, a thread makes at most that many
/// decisions on the old probability before it sees the end, about a window's worth of the
/// target, and at most about a window of time if the load is still at or above the target.
fn stride_shift(per_window: f64, target_per_window: f64) -> u64 {
    // `as` saturates; NaN becomes 0.
    let by_rate = (per_window / 100.0) as u64;
    let by_target = (target_per_window as u64).max(MIN_TARGET_STRIDE);
    match by_rate.min(by_target) {
        0 => 0,
        limit => u64::from(limit.ilog2()).min(MAX_STRIDE_SHIFT),
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
/// A kept span with no parent tracestate also loads (lock-free, from an `ArcSwap`) the
/// `ot=th:` tracestate last built for the threshold in force, and clones it.
/// The clock is read once every few decisions of a thread, a power of two set at each window's
/// end: at most 64; at most 1% of the decisions that thread made in the last window, so that at
/// a steady load a window's end goes unnoticed for at most about 1% of a window (every decision
/// at low load); and at most the target's spans per window, or 8 if that is fewer, so that when
/// the load drops each thread makes at most that many decisions on the old probability. A
/// window that closes more than a tenth of its length late makes every thread read the clock
/// on each decision of the next one. The thread that first sees a window's end claims the
/// roll-over with a compare-and-swap and recomputes the probability; the others do not wait.
/// Clones share all state.
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
    /// Decisions this window and clock stride, per shard (see [`COUNT_MASK`]).
    counts: [Padded<AtomicU64>; SHARDS],
    /// Incremented only during the first window.
    warmup_taken: Padded<AtomicU64>,
    /// Written only by the thread that rolls the window over.
    cold: Cold,
    /// The tracestate of the last kept span without a parent tracestate, for the next one
    /// with the same threshold: cloning it skips validating and formatting it again.
    kept_root: ArcSwapOption<KeptRoot>,
}

struct KeptRoot {
    threshold: Threshold,
    state: TraceState,
}

#[derive(Debug)]
struct Hot {
    /// Nanoseconds at which the current window closes.
    window_end: AtomicU64,
    /// The threshold and warm-up flag (see [`THRESHOLD_MASK`]).
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
        // The counter restarts at each roll, so every thread reads the clock on its first
        // decision of a window.
        let stride_mask = (1 << ((seen >> STRIDE_OFFSET) & 7)) - 1;
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
        // A window ending at the clock's last nanosecond (its end saturated) never closes:
        // there no time passes, and each clock read would close a window of none, measured
        // as 1 ns, and step the probability down. The same end marks a window being rolled
        // over: claimed by setting it, so that no other thread starts a roll until this one
        // has published the next end, however long this thread is held up in between.
        if now < end
            || end == u64::MAX
            || hot
                .window_end
                .compare_exchange(end, u64::MAX, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        #[cfg(test)]
        tests::mid_roll();
        // This thread alone owns the cold state until it publishes `next_end`.
        let start = self.cold.window_start.swap(now, Ordering::Relaxed);
        // An idle stretch of several windows is measured as one long window. The span that
        // noticed the end is counted in the window it closes.
        let config = &self.config;
        let elapsed_nanos = now.saturating_sub(start).max(1);
        let elapsed_seconds = elapsed_nanos as f64 / 1e9;
        let windows = elapsed_nanos as f64 / config.window_nanos as f64;
        let target_per_window = config.target_per_second * config.window_nanos as f64 / 1e9;
        // Each thread's stride follows the load it saw itself. At a steady load the strides
        // keep a window's end unnoticed for at most 1% of a window; a window more than a tenth
        // late means the load fell under what they assumed (this window's count still holds
        // the busy part), so every decision reads the clock until the next roll measures the
        // new load.
        let late = config.window_nanos.saturating_add(config.window_nanos / 10);
        let overran = elapsed_nanos > late;
        let mut count = 0u64;
        for shard in &self.counts {
            let stride = if overran {
                0
            } else {
                let seen = shard.0.load(Ordering::Relaxed) & COUNT_MASK;
                stride_shift(seen as f64 / windows, target_per_window)
            };
            let seen = shard.0.swap(stride << STRIDE_OFFSET, Ordering::Relaxed) & COUNT_MASK;
            count = count.saturating_add(seen);
        }
        let measured = count as f64 / elapsed_seconds;

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
        hot.state
            .store(packed_threshold(probability), Ordering::Relaxed);
        hot.window_end.store(next_end, Ordering::Release);
    }
}

impl Inner {
    /// `ot=th:<threshold>`, cloned from the last one built when the threshold is the same
    /// (it changes at most once a window, and once when the warm-up ends).
    fn kept_root_state(&self, threshold: Threshold) -> TraceState {
        if let Some(kept) = self.kept_root.load().as_deref()
            && kept.threshold == threshold
        {
            return kept.state.clone();
        }
        let state = root_trace_state(Some(threshold));
        self.kept_root.store(Some(Arc::new(KeptRoot {
            threshold,
            state: state.clone(),
        })));
        state
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
            let trace_state = match threshold {
                Some(threshold) if *parent_state == TraceState::NONE => {
                    self.inner.kept_root_state(threshold)
                }
                // A dropped span's `th` is erased, as the consistent sampler does.
                _ => ot.with_threshold(threshold).apply_to(parent_state),
            };
            sampling_result(threshold.is_some(), trace_state)
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
                kept_root: ArcSwapOption::empty(),
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::cell::RefCell;

    thread_local! {
        /// Run once by the next roll of this thread, after it claims the window: a stand-in
        /// for the rolling thread being preempted there.
        static MID_ROLL: RefCell<Option<Box<dyn FnOnce()>>> = const { RefCell::new(None) };
    }

    pub(super) fn mid_roll() {
        if let Some(f) = MID_ROLL.with(|hook| hook.borrow_mut().take()) {
            f();
        }
    }
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
    use opentelemetry_sdk::trace::SamplingDecision;

    /// A sampler aiming at 10 spans per second that follows each window's rate unsmoothed.
    fn unsmoothed(clock: &ManualClock) -> AdaptiveSampler {
        AdaptiveSampler::builder(10.0)
            .smoothing(1.0)
            .clock(clock.clone())
            .build()
            .expect("valid config")
    }

    #[test]
    fn kept_root_spans_carry_the_threshold_in_force() {
        let clock = ManualClock::new();
        let sampler = unsmoothed(&clock);
        let decide = |id: u128| {
            let result =
                sampler.should_sample(None, TraceId::from(id), "s", &SpanKind::Internal, &[], &[]);
            (result.decision, result.trace_state.header())
        };
        // Randomness at its maximum: kept at any threshold.
        let kept = (1u128 << 56) - 1;
        // Warm-up: the first window's target of spans is kept at 100%.
        for _ in 0..10 {
            assert_eq!(
                decide(kept),
                (SamplingDecision::RecordAndSample, "ot=th:0".into())
            );
        }
        for i in 0..989 {
            decide(i);
        }
        clock.advance(Duration::from_secs(1));
        decide(0);
        assert_eq!(sampler.probability(), 0.01);
        let at_one_percent = format!(
            "ot=th:{}",
            Threshold::from_probability(0.01)
                .expect("valid")
                .encode()
                .as_str()
        );
        assert_eq!(
            decide(kept),
            (SamplingDecision::RecordAndSample, at_one_percent)
        );
        // The load stops: the probability doubles (seen within the clock stride), and so
        // does what kept spans carry.
        clock.advance(Duration::from_secs(1));
        for _ in 0..64 {
            decide(0);
        }
        assert_eq!(sampler.probability(), 0.02);
        let at_two_percent = format!(
            "ot=th:{}",
            Threshold::from_probability(0.02)
                .expect("valid")
                .encode()
                .as_str()
        );
        assert_eq!(
            decide(kept),
            (SamplingDecision::RecordAndSample, at_two_percent)
        );
        // A parent's other members are kept as before.
        let parent = Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from(kept),
            SpanId::from(1),
            TraceFlags::SAMPLED,
            true,
            "vendor=x".parse().expect("valid tracestate"),
        ));
        let result = sampler.should_sample(
            Some(&parent),
            TraceId::from(kept),
            "s",
            &SpanKind::Internal,
            &[],
            &[],
        );
        assert_eq!(result.trace_state.get("vendor"), Some("x"));
        assert!(
            result
                .trace_state
                .get("ot")
                .is_some_and(|ot| ot.starts_with("th:"))
        );
    }

    #[test]
    fn a_window_that_ends_while_the_last_one_rolls_over_waits_for_it() {
        let clock = ManualClock::new();
        let sampler = unsmoothed(&clock);
        let inner = Arc::clone(&sampler.inner);
        let decide = move |i: u64| {
            inner.decide(TraceId::from(u128::from(i)), &OtTraceState::default());
        };
        for i in 0..999 {
            decide(i);
        }
        clock.advance(Duration::from_secs(1));
        decide(0);
        assert_eq!(sampler.probability(), 0.01);

        // The next window: 1,000 spans, then its end. The thread that rolls it over stalls
        // after claiming it, while the clock passes the next window's end too and other
        // decisions are made.
        for i in 0..1000 {
            decide(i);
        }
        clock.advance(Duration::from_secs(1));
        let stalled = {
            let (clock, decide) = (clock.clone(), decide.clone());
            move || {
                clock.advance(Duration::from_secs(1));
                for i in 0..64 {
                    decide(i);
                }
            }
        };
        MID_ROLL.with(|hook| *hook.borrow_mut() = Some(Box::new(stalled)));
        let mut until_roll = 0u64;
        while MID_ROLL.with(|hook| hook.borrow().is_some()) {
            decide(until_roll);
            until_roll += 1;
        }
        // The window measured is the second exactly, with every decision made before its
        // counts were taken: the stalled roll's alone set the probability.
        let expected = 10.0 / (1000 + until_roll + 64) as f64;
        assert!(
            (sampler.probability() - expected).abs() < 1e-12,
            "{} != {expected}",
            sampler.probability()
        );
    }

    #[test]
    fn first_roll_jumps_to_the_measured_probability_then_steps_are_bounded() {
        let clock = ManualClock::new();
        let sampler = unsmoothed(&clock);
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
        assert_eq!(stride_shift(0.0, 1000.0), 0);
        assert_eq!(stride_shift(f64::NAN, 1000.0), 0);
        assert_eq!(stride_shift(199.0, 1000.0), 0);
        assert_eq!(stride_shift(400.0, 1000.0), 2);
        assert_eq!(stride_shift(6400.0, 1000.0), 6);
        assert_eq!(stride_shift(1e12, 1000.0), MAX_STRIDE_SHIFT);
    }

    #[test]
    fn a_small_target_holds_the_stride_to_eight() {
        // 10 sampled per window: the stride may not exceed 8, even at 6,400 decisions.
        assert_eq!(stride_shift(6400.0, 10.0), 3);
        assert_eq!(stride_shift(6400.0, 0.5), 3);
        assert_eq!(stride_shift(6400.0, 40.0), 5);
        // The rate still rules where it asks for fewer.
        assert_eq!(stride_shift(400.0, 10.0), 2);
    }

    /// The stride (as a power of two) of the calling thread's shard.
    fn own_stride(sampler: &AdaptiveSampler) -> u64 {
        let counter = sampler.inner.counts[shard_index()]
            .0
            .load(Ordering::Relaxed);
        (counter >> STRIDE_OFFSET) & 7
    }

    /// One decision for a root span, as the sampler's hot path makes it.
    fn decide_root(sampler: &AdaptiveSampler) {
        sampler
            .inner
            .decide(TraceId::from(1), &OtTraceState::default());
    }

    #[test]
    fn a_window_end_is_noticed_within_the_stride() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(100.0)
            .smoothing(1.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let decide = || decide_root(&sampler);
        // 6,400/s: a stride of 64 decisions.
        (0..6399).for_each(|_| decide());
        clock.advance(Duration::from_secs(1));
        decide();
        assert_eq!(sampler.incoming_per_second(), Some(6400.0));
        assert_eq!(own_stride(&sampler), 6);
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

    #[test]
    fn a_window_that_ran_late_makes_every_decision_read_the_clock() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(100.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let decide = || decide_root(&sampler);
        (0..6400).for_each(|_| decide());
        clock.advance(Duration::from_secs(1));
        decide();
        assert_eq!(own_stride(&sampler), 6);
        // The same decisions, but the window is seen to end only half a window late: 4,267/s
        // would allow a stride of 32 were it not for the lateness.
        (0..6400).for_each(|_| decide());
        clock.advance(Duration::from_millis(1500));
        (0..64).for_each(|_| decide());
        assert_eq!(
            sampler.inner.cold.window_start.load(Ordering::Relaxed),
            2_500_000_000
        );
        assert_eq!(own_stride(&sampler), 0);
    }

    #[test]
    fn a_window_ending_past_the_clock_range_never_closes() {
        let clock = ManualClock::new();
        let sampler = unsmoothed(&clock);
        for _ in 0..1000 {
            decide_root(&sampler);
            clock.advance(Duration::from_millis(1));
        }
        decide_root(&sampler);
        assert_eq!(sampler.incoming_per_second(), Some(1001.0));
        // The clock jumps to its last nanosecond: the open window closes, and the next one
        // would end past the clock's range, so it stays open.
        clock.advance(Duration::MAX);
        decide_root(&sampler);
        let after_jump = sampler.probability();
        (0..100).for_each(|_| decide_root(&sampler));
        assert_eq!(
            sampler.probability(),
            after_jump,
            "windows of no time measured as 1 ns each: {:?}",
            sampler.incoming_per_second()
        );
    }

    /// The reported case: 6,400 spans/s on one thread, then 5/s, for a target of 10/s. The
    /// stride of 64 that the busy windows allowed used to keep windows open for 7 s, 3 s, 2 s
    /// after the drop, and no span was sampled for 16 s.
    #[test]
    fn a_drop_in_load_is_seen_within_a_few_decisions() {
        let clock = ManualClock::new();
        let sampler = AdaptiveSampler::builder(10.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let inner = &*sampler.inner;
        let mut n: u128 = 0;
        let mut decide = |gap: Duration| {
            n += 1;
            let id = TraceId::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835));
            let kept = inner.decide(id, &OtTraceState::default()).is_some();
            clock.advance(gap);
            kept
        };
        let busy_gap = Duration::from_secs(1) / 6400;
        (0..6400 * 5).for_each(|_| {
            decide(busy_gap);
        });
        let busy_probability = sampler.probability();
        assert!(busy_probability < 0.002, "{busy_probability}");

        let drop_at = clock.now_nanos();
        let open_window_end = inner.hot.0.window_end.load(Ordering::Relaxed);
        let gap = Duration::from_millis(200);
        let mut rolls = Vec::new();
        let mut first_kept = None;
        let mut first_full = None;
        for decision in 0..150u64 {
            let start = inner.cold.window_start.load(Ordering::Relaxed);
            let at = clock.now_nanos();
            if decide(gap) && first_kept.is_none() {
                first_kept = Some(at - drop_at);
            }
            if inner.cold.window_start.load(Ordering::Relaxed) != start {
                rolls.push((decision, at));
            }
            if first_full.is_none() && sampler.probability() == 1.0 {
                first_full = Some(at - drop_at);
            }
        }
        // The window open at the drop closes within 8 decisions (the stride a target of 10/s
        // allows) of its end; it is not read at 64.
        let (_, first_roll) = rolls[0];
        let late = first_roll.saturating_sub(open_window_end);
        assert!(late <= 8 * 200_000_000, "closed {late} ns late: {rolls:?}");
        // After that, every window closes at the first decision past its end.
        for pair in rolls.windows(2) {
            let length = pair[1].1 - pair[0].1;
            assert!(
                length <= 1_200_000_000,
                "a window of {length} ns: {rolls:?}"
            );
        }
        // The probability doubles per window as the smoothed rate decays (6,400 → 10 takes
        // about 10 windows), and spans are sampled again well before it reaches 1.
        let full = first_full.expect("the probability reaches 1");
        assert!(full <= 12_000_000_000, "p = 1 after {full} ns: {rolls:?}");
        let kept = first_kept.expect("a span is sampled");
        assert!(kept <= 9_000_000_000, "first span kept after {kept} ns");
    }
}
