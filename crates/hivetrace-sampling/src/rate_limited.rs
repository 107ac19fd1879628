//! Samplers that cap how many spans per second are sampled: a plain token bucket
//! ([`RateLimitedSampler`]) and the AWS X-Ray shape, a per-second reservoir topped up by a
//! consistent fixed rate ([`ReservoirSampler`]).
//!
//! Both are root samplers: they decide for a span without looking at its parent's sampled
//! flag, so wrap them in [`ParentBased`](crate::parent::ParentBased) to keep traces whole.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::clock::{Clock, SystemClock};
use crate::consistent::ConsistentProbabilitySampler;
use crate::ot_state::{OtTraceState, sampling_result, with_parent_trace_state, without_threshold};
use crate::{Error, Result};

const NANOS_PER_SECOND: f64 = 1e9;

/// The fastest rate a bucket can express: one token per nanosecond of the clock.
const MAX_PER_SECOND: f64 = NANOS_PER_SECOND;

/// A lock-free token bucket in the GCRA form: one word, the "theoretical arrival time".
///
/// Taking a token moves the arrival time one emission interval forward (from `now` if it
/// lags behind); the bucket is empty when the arrival time is a full burst ahead of `now`.
/// One compare-and-swap per granted token, a plain load when the bucket is empty.
#[derive(Debug)]
struct Gcra {
    /// Nanoseconds between two tokens.
    interval: u64,
    /// How far the arrival time may run ahead of `now`: `burst * interval`.
    tolerance: u64,
    tat: AtomicU64,
}

impl Gcra {
    fn new(per_second: f64, burst: u32) -> Self {
        // Rounded up, so the bucket never grants more than the rate (rounding to the nearest
        // nanosecond turned 3e8/s into 3.3e8/s); below 1e6/s the interval is at least 1,000 ns
        // and the rate it grants is within 0.1% of the one asked for.
        // `as` saturates: a rate so small that the interval overflows never refills,
        // which is as close as u64 nanoseconds get.
        let interval = ((NANOS_PER_SECOND / per_second).ceil() as u64).max(1);
        Gcra {
            interval,
            tolerance: interval.saturating_mul(u64::from(burst)),
            tat: AtomicU64::new(0),
        }
    }

    fn try_acquire(&self, now: u64) -> bool {
        let limit = now.saturating_add(self.tolerance);
        let mut tat = self.tat.load(Ordering::Relaxed);
        loop {
            // Checked, not saturating: with absurdly small rates both sides would saturate to
            // u64::MAX and every call would be granted; an overflow means "not yet".
            let Some(next) = tat.max(now).checked_add(self.interval) else {
                return false;
            };
            if next > limit {
                return false;
            }
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(current) => tat = current,
            }
        }
    }
}

fn check_rate(setting: &'static str, per_second: f64) -> Result<()> {
    if !per_second.is_finite() || per_second <= 0.0 {
        return Err(Error::invalid(
            setting,
            per_second,
            "expected a finite number of spans per second greater than zero",
        ));
    }
    if per_second > MAX_PER_SECOND {
        return Err(Error::invalid(
            setting,
            per_second,
            "expected at most 1e9 spans per second (one per nanosecond)",
        ));
    }
    Ok(())
}

/// A sampler that samples at most a fixed number of spans per second, with a burst.
///
/// A token bucket holding `burst` tokens, refilled at `per_second`; each sampled span takes
/// one. It starts full. The decision takes no lock: one clock read and one
/// compare-and-swap. Clones share one bucket.
///
/// Its decisions are not probabilistic, so a sampled span carries no OTEP 235 threshold: any
/// `th` inherited in the `ot` trace-state entry is erased, as the OTEP asks of such samplers.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_sampling::clock::ManualClock;
/// use hivetrace_sampling::rate_limited::RateLimitedSampler;
///
/// let clock = ManualClock::new();
/// let sampler = RateLimitedSampler::builder(2.0).burst(5).clock(clock.clone()).build()?;
/// let granted = (0..100).filter(|_| sampler.try_acquire()).count();
/// assert_eq!(granted, 5); // the burst
/// clock.advance(Duration::from_secs(1));
/// assert_eq!((0..100).filter(|_| sampler.try_acquire()).count(), 2); // then the rate
///
/// // As the root sampler of a tracer provider:
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_sampler(opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(sampler)))
///     .build();
/// # drop(provider);
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone)]
pub struct RateLimitedSampler {
    inner: Arc<RateLimitedInner>,
}

struct RateLimitedInner {
    per_second: f64,
    burst: u32,
    bucket: Gcra,
    clock: Box<dyn Clock>,
}

impl fmt::Debug for RateLimitedSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitedSampler")
            .field("per_second", &self.inner.per_second)
            .field("burst", &self.inner.burst)
            .field("clock", &self.inner.clock)
            .finish()
    }
}

impl RateLimitedSampler {
    /// A sampler of at most `per_second` spans per second, with a burst of one second's
    /// worth (at least one), on the system clock.
    ///
    /// Fails if `per_second` is not a finite number in `(0, 1e9]`.
    pub fn new(per_second: f64) -> Result<Self> {
        Self::builder(per_second).build()
    }

    /// Starts configuring a sampler of at most `per_second` spans per second.
    pub fn builder(per_second: f64) -> RateLimitedSamplerBuilder {
        RateLimitedSamplerBuilder {
            per_second,
            burst: None,
            clock: None,
        }
    }

    /// Takes one token if the bucket has one; `true` means "sample".
    ///
    /// This is the whole decision of [`ShouldSample::should_sample`], exposed for callers that
    /// rate-limit something other than spans.
    pub fn try_acquire(&self) -> bool {
        let now = self.inner.clock.now_nanos();
        self.inner.bucket.try_acquire(now)
    }

    /// The configured refill rate, in spans per second.
    pub fn per_second(&self) -> f64 {
        self.inner.per_second
    }

    /// The configured burst: how many spans may be sampled at once after a quiet period.
    pub fn burst(&self) -> u32 {
        self.inner.burst
    }
}

impl ShouldSample for RateLimitedSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let granted = self.try_acquire();
        with_parent_trace_state(parent_context, |parent_state| {
            // A sampled span's adjusted count is unknown here and a dropped one has none, so
            // any inherited `th` is erased (as the consistent sampler does on a drop).
            sampling_result(granted, without_threshold(parent_state))
        })
    }
}

/// Configuration for a [`RateLimitedSampler`]; [`build`](Self::build) checks it.
#[derive(Debug)]
pub struct RateLimitedSamplerBuilder {
    per_second: f64,
    burst: Option<u32>,
    clock: Option<Box<dyn Clock>>,
}

impl RateLimitedSamplerBuilder {
    /// How many spans may be sampled at once after a quiet period (default: one second's
    /// worth, at least one). Must be at least one.
    pub fn burst(mut self, burst: u32) -> Self {
        self.burst = Some(burst);
        self
    }

    /// The clock that refills the bucket (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Checks the configuration and builds the sampler.
    ///
    /// Fails if the rate is not a finite number in `(0, 1e9]` or the burst is zero.
    pub fn build(self) -> Result<RateLimitedSampler> {
        check_rate("per_second", self.per_second)?;
        let burst = match self.burst {
            Some(0) => {
                return Err(Error::invalid(
                    "burst",
                    0,
                    "expected at least one span, or the bucket could never grant a token",
                ));
            }
            Some(burst) => burst,
            // `as` saturates at u32::MAX; the rate is finite and positive here.
            None => (self.per_second.ceil() as u32).max(1),
        };
        Ok(RateLimitedSampler {
            inner: Arc::new(RateLimitedInner {
                per_second: self.per_second,
                burst,
                bucket: Gcra::new(self.per_second, burst),
                clock: self.clock.unwrap_or_else(|| Box::new(SystemClock::new())),
            }),
        })
    }
}

/// A sampler in the AWS X-Ray shape: a reservoir of spans per second, then a fixed
/// probability for the rest.
///
/// The fixed probability is a consistent (OTEP 235) decision on the trace's randomness, so
/// spans it samples carry `ot=th:…` and their adjusted counts (`1/probability`) estimate the
/// whole traffic without bias. The reservoir tops that up: a span the probability rejects is
/// still sampled while the reservoir (a token bucket of `reservoir_per_second`, burst of one
/// second) has a token, and carries no threshold, since its adjusted count is unknown.
///
/// This order differs from X-Ray, which drains the reservoir first, so that the estimate from
/// thresholds covers every span; the volume differs by at most `probability × reservoir`
/// spans per second. At least `min(traffic, reservoir)` spans per second are sampled.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_sampling::clock::ManualClock;
/// use hivetrace_sampling::rate_limited::ReservoirSampler;
///
/// // One span per second for sure, then 5% of the rest.
/// let sampler = ReservoirSampler::builder(1, 0.05).clock(ManualClock::new()).build()?;
/// assert_eq!(sampler.probability(), 0.05);
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone)]
pub struct ReservoirSampler {
    inner: Arc<ReservoirInner>,
}

struct ReservoirInner {
    reservoir_per_second: u32,
    fixed: ConsistentProbabilitySampler,
    /// `None` for an empty reservoir: the fixed probability alone.
    reservoir: Option<Gcra>,
    clock: Box<dyn Clock>,
}

impl fmt::Debug for ReservoirSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReservoirSampler")
            .field("reservoir_per_second", &self.inner.reservoir_per_second)
            .field("probability", &self.inner.fixed.probability())
            .field("clock", &self.inner.clock)
            .finish()
    }
}

impl ReservoirSampler {
    /// A sampler of `reservoir_per_second` spans per second plus `probability` of the
    /// rest, on the system clock.
    ///
    /// Fails if `probability` is not in `[0, 1]`.
    pub fn new(reservoir_per_second: u32, probability: f64) -> Result<Self> {
        Self::builder(reservoir_per_second, probability).build()
    }

    /// Starts configuring a sampler of `reservoir_per_second` spans per second plus
    /// `probability` of the rest.
    pub fn builder(reservoir_per_second: u32, probability: f64) -> ReservoirSamplerBuilder {
        ReservoirSamplerBuilder {
            reservoir_per_second,
            probability,
            clock: None,
        }
    }

    /// The configured size of the reservoir, in spans per second.
    pub fn reservoir_per_second(&self) -> u32 {
        self.inner.reservoir_per_second
    }

    /// The configured probability for spans beyond the reservoir.
    pub fn probability(&self) -> f64 {
        self.inner.fixed.probability()
    }
}

impl ShouldSample for ReservoirSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let inner = &*self.inner;
        with_parent_trace_state(parent_context, |parent_state| {
            let ot = OtTraceState::from_trace_state(parent_state);
            if inner.fixed.keeps(ot.randomness_or(trace_id)) {
                return sampling_result(
                    true,
                    ot.with_threshold(inner.fixed.threshold())
                        .apply_to(parent_state),
                );
            }
            let granted = inner
                .reservoir
                .as_ref()
                .is_some_and(|bucket| bucket.try_acquire(inner.clock.now_nanos()));
            // A sampled span's adjusted count is unknown here and a dropped one has none, so
            // any inherited `th` is erased (as the consistent sampler does on a drop).
            sampling_result(granted, without_threshold(parent_state))
        })
    }
}

/// Configuration for a [`ReservoirSampler`]; [`build`](Self::build) checks it.
#[derive(Debug)]
pub struct ReservoirSamplerBuilder {
    reservoir_per_second: u32,
    probability: f64,
    clock: Option<Box<dyn Clock>>,
}

impl ReservoirSamplerBuilder {
    /// The clock that refills the reservoir (default: [`SystemClock`]).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Checks the configuration and builds the sampler.
    ///
    /// Fails if the probability is not in `[0, 1]`. A reservoir of zero is allowed: the
    /// sampler is then a plain consistent probability sampler.
    pub fn build(self) -> Result<ReservoirSampler> {
        let fixed = ConsistentProbabilitySampler::new(self.probability)?;
        let reservoir = (self.reservoir_per_second > 0).then(|| {
            let per_second = f64::from(self.reservoir_per_second);
            Gcra::new(per_second, self.reservoir_per_second)
        });
        Ok(ReservoirSampler {
            inner: Arc::new(ReservoirInner {
                reservoir_per_second: self.reservoir_per_second,
                fixed,
                reservoir,
                clock: self.clock.unwrap_or_else(|| Box::new(SystemClock::new())),
            }),
        })
    }
}

#[cfg(test)]
mod overflow_tests {
    use super::*;

    #[test]
    fn an_absurdly_small_rate_does_not_grant_everything() {
        // interval * burst overflows u64 nanoseconds: the bucket must still limit.
        let gcra = Gcra::new(1e-11, 1000);
        let granted = (0..1000).filter(|_| gcra.try_acquire(0)).count();
        assert!(granted < 1000, "granted {granted} of 1000");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use opentelemetry::trace::TraceState;
    use opentelemetry_sdk::trace::SamplingDecision;
    use std::time::Duration;

    fn sample(sampler: &impl ShouldSample, trace_id: u128) -> SamplingResult {
        sampler.should_sample(
            None,
            TraceId::from(trace_id),
            "span",
            &SpanKind::Internal,
            &[],
            &[],
        )
    }

    #[test]
    fn bucket_grants_the_burst_then_one_token_per_interval() {
        let bucket = Gcra::new(10.0, 3);
        assert_eq!(bucket.interval, 100_000_000);
        assert!((0..3).all(|_| bucket.try_acquire(0)));
        assert!(!bucket.try_acquire(0));
        assert!(!bucket.try_acquire(99_999_999));
        assert!(bucket.try_acquire(100_000_000));
        assert!(!bucket.try_acquire(100_000_000));
    }

    #[test]
    fn a_rate_between_whole_nanosecond_intervals_is_never_exceeded() {
        // 3e8/s is one token per 3.33 ns: over 1 µs, at most 300 and the burst of 1.
        let bucket = Gcra::new(3e8, 1);
        let granted = (0..1_000).filter(|&now| bucket.try_acquire(now)).count();
        assert!(granted <= 301, "{granted} tokens in 1 µs at 3e8/s");
        assert!(granted >= 250, "{granted} tokens in 1 µs at 3e8/s");
    }

    #[test]
    fn bucket_does_not_grow_past_its_burst_while_idle() {
        let bucket = Gcra::new(10.0, 3);
        let much_later = 3_600 * 1_000_000_000;
        assert_eq!(
            (0..10).filter(|_| bucket.try_acquire(much_later)).count(),
            3
        );
    }

    #[test]
    fn extreme_rates_saturate_instead_of_overflowing() {
        let slow = Gcra::new(1e-30, u32::MAX);
        assert_eq!(slow.interval, u64::MAX);
        assert_eq!(slow.tolerance, u64::MAX);
        // The first token, then none: the next one is further away than u64 nanoseconds reach.
        assert!(slow.try_acquire(0));
        assert!(!slow.try_acquire(1));
        // At the very end of the clock's range nothing panics; a token that would be due past
        // it is refused.
        assert!(!slow.try_acquire(u64::MAX));
        let fast = Gcra::new(MAX_PER_SECOND, u32::MAX);
        assert_eq!(fast.interval, 1);
        assert!(fast.try_acquire(u64::MAX - 1));
        assert!(!fast.try_acquire(u64::MAX));
    }

    #[test]
    fn default_burst_is_one_second_of_rate_and_at_least_one() {
        assert_eq!(RateLimitedSampler::new(7.5).map(|s| s.burst()), Ok(8));
        assert_eq!(RateLimitedSampler::new(0.1).map(|s| s.burst()), Ok(1));
    }

    #[test]
    fn rate_limited_sampled_spans_erase_an_inherited_threshold() {
        let trace_state = TraceState::from_key_value([("ot", "th:8;rv:0123456789abcd")])
            .expect("valid trace state");
        let erased = without_threshold(&trace_state);
        assert_eq!(erased.get("ot"), Some("rv:0123456789abcd"));
        let sampler = RateLimitedSampler::builder(1.0)
            .clock(ManualClock::new())
            .build()
            .expect("valid config");
        let first = sample(&sampler, 1);
        assert_eq!(first.decision, SamplingDecision::RecordAndSample);
        assert_eq!(first.trace_state.get("ot"), None);
        assert_eq!(sample(&sampler, 2).decision, SamplingDecision::Drop);
    }

    #[test]
    fn reservoir_tops_up_a_zero_probability() {
        let clock = ManualClock::new();
        let sampler = ReservoirSampler::builder(3, 0.0)
            .clock(clock.clone())
            .build()
            .expect("valid config");
        let sampled = |n: u128| {
            (0..n)
                .filter(|i| sample(&sampler, *i).decision == SamplingDecision::RecordAndSample)
                .count()
        };
        assert_eq!(sampled(100), 3);
        clock.advance(Duration::from_secs(2));
        assert_eq!(sampled(100), 3, "the reservoir holds one second, not two");
    }

    #[test]
    fn reservoir_probability_part_is_consistent_and_marked() {
        let sampler = ReservoirSampler::builder(0, 0.5)
            .clock(ManualClock::new())
            .build()
            .expect("valid config");
        // Randomness is the low 56 bits of the trace id; 0.5 means threshold 2^55.
        let above = sample(&sampler, 1 << 55);
        assert_eq!(above.decision, SamplingDecision::RecordAndSample);
        assert_eq!(above.trace_state.get("ot"), Some("th:8"));
        let below = sample(&sampler, (1 << 55) - 1);
        assert_eq!(below.decision, SamplingDecision::Drop);
        assert_eq!(below.trace_state.get("ot"), None);
    }

    #[test]
    fn reservoir_rejects_probabilities_outside_zero_one() {
        for bad in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(ReservoirSampler::new(1, bad).is_err(), "{bad} accepted");
        }
        assert!(ReservoirSampler::new(0, 1.0).is_ok());
    }
}
