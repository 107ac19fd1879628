//! The OTEP 235 consistent probability sampler.
//!
//! Keeps a span iff its randomness (the `rv` sub-key of the parent's `ot` tracestate member, else
//! the trace id's low 56 bits) is at least the rejection threshold of the configured probability.
//! Two such samplers, in any process or language that follows the specification, agree on every
//! trace at the same probability, and a trace kept at probability `p1` is kept at every `p2 >= p1`.
//!
//! This sampler decides independently of the parent's decision, as the specification's
//! consistent-probability base case does. For head sampling, use it as the root of
//! [`ParentBased`](crate::parent::ParentBased), whose default parent branches keep the parent's
//! decision and propagate its threshold.

use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::ot_state::{
    OT_KEY, OtTraceState, root_trace_state, sampling_result, with_parent_trace_state,
};
use crate::threshold::{DEFAULT_PRECISION, MAX_PRECISION, MIN_PROBABILITY, Randomness, Threshold};
use crate::{Error, Result};

/// A sampler that keeps a fixed, consistent fraction of traces and records it as `ot=th:<hex>`.
///
/// On a kept span it writes `th` into the `ot` tracestate member (replacing any previous `th`,
/// keeping `rv`, other `ot` sub-keys and other vendors' members); on a dropped span it removes
/// `th`. Other `ot` sub-keys are kept as long as the value fits a tracestate member; see
/// [`OtTraceState::apply_to`]. It adds no attributes, takes no lock and allocates only for the
/// tracestate it returns.
///
/// ```
/// use hivetrace_sampling::consistent::ConsistentProbabilitySampler;
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry_sdk::trace::{SamplingDecision, ShouldSample};
///
/// let sampler = ConsistentProbabilitySampler::new(0.25)?;
/// // Randomness is the trace id's low 56 bits: 0xe0... >= 0xc0..., so this trace is kept.
/// let id = TraceId::from_hex("000000000000000000e0000000000000").unwrap();
/// let result = sampler.should_sample(None, id, "llm.call", &SpanKind::Internal, &[], &[]);
/// assert_eq!(result.decision, SamplingDecision::RecordAndSample);
/// assert_eq!(result.trace_state.header(), "ot=th:c");
///
/// // Use with the SDK:
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_sampler(hivetrace_sampling::parent::ParentBased::new(sampler))
///     .build();
/// # drop(provider);
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ConsistentProbabilitySampler {
    probability: f64,
    precision: u8,
    /// `None` when the probability is zero: never sample.
    threshold: Option<Threshold>,
    /// The tracestate of a kept span whose parent has none (`ot=th:<threshold>`), built once:
    /// a clone copies it, where building it again would validate and format it each time.
    kept_root: Arc<TraceState>,
}

impl ConsistentProbabilitySampler {
    /// A sampler keeping `probability` of traces, encoded with 4 significant hex digits.
    ///
    /// `0` never samples; `1` always samples (`th:0`); a probability between 0 and 2^-56 is raised
    /// to 2^-56, the smallest a threshold expresses. Errors if `probability` is NaN or outside
    /// `0..=1`.
    pub fn new(probability: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&probability) {
            return Err(Error::invalid(
                "probability",
                probability,
                "expected a number from 0 to 1 inclusive",
            ));
        }
        Ok(Self::with_threshold(
            probability,
            DEFAULT_PRECISION,
            threshold_for(probability, DEFAULT_PRECISION),
        ))
    }

    /// The same sampler with thresholds rounded to `digits` significant hex digits (`1..=14`).
    ///
    /// More digits follow the configured probability more closely and make `th` longer.
    pub fn with_precision(self, digits: u8) -> Result<Self> {
        if !(1..=MAX_PRECISION).contains(&digits) {
            return Err(Error::invalid(
                "precision",
                digits,
                "expected 1 to 14 hex digits",
            ));
        }
        Ok(Self::with_threshold(
            self.probability,
            digits,
            threshold_for(self.probability, digits),
        ))
    }

    fn with_threshold(probability: f64, precision: u8, threshold: Option<Threshold>) -> Self {
        ConsistentProbabilitySampler {
            probability,
            precision,
            threshold,
            kept_root: Arc::new(root_trace_state(threshold)),
        }
    }

    /// The probability as configured.
    pub fn probability(&self) -> f64 {
        self.probability
    }

    /// The rejection threshold after rounding; `None` for a sampler that never samples.
    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    /// Significant hex digits used to encode the threshold.
    pub fn precision(&self) -> u8 {
        self.precision
    }

    /// The decision for this randomness: keep iff `randomness >= threshold`.
    #[inline]
    pub fn keeps(&self, randomness: Randomness) -> bool {
        self.threshold.is_some_and(|t| t.should_sample(randomness))
    }

    /// Decides with `randomness` and returns the result with `th` set or cleared, and `rv` set to
    /// `explicit_rv` when given (otherwise left as the parent had it). `ot` is `parent_state`'s
    /// `ot` member, read once by the caller.
    #[inline]
    pub(crate) fn decide(
        &self,
        parent_state: &TraceState,
        ot: OtTraceState<'_>,
        randomness: Randomness,
        explicit_rv: Option<Randomness>,
    ) -> SamplingResult {
        let keep = self.keeps(randomness);
        let mut ot = ot.with_threshold(if keep { self.threshold } else { None });
        if explicit_rv.is_some() {
            ot = ot.with_randomness(explicit_rv);
        }
        sampling_result(keep, ot.apply_to(parent_state))
    }
}

fn threshold_for(probability: f64, precision: u8) -> Option<Threshold> {
    if probability <= 0.0 {
        return None;
    }
    Threshold::from_probability_with_precision(probability.max(MIN_PROBABILITY), precision)
}

impl ShouldSample for ConsistentProbabilitySampler {
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
            let keeps_trace_id = || self.keeps(Randomness::from_trace_id(trace_id));
            // The common case, a root or a parent without tracestate, reads no member.
            if *parent_state == TraceState::NONE {
                let keep = keeps_trace_id();
                let trace_state = if keep {
                    TraceState::clone(&self.kept_root)
                } else {
                    TraceState::NONE
                };
                return sampling_result(keep, trace_state);
            }
            match parent_state.get(OT_KEY) {
                // Other vendors' members only: `th` is added to them when kept.
                None => {
                    let keep = keeps_trace_id();
                    let trace_state = if keep {
                        OtTraceState::default()
                            .with_threshold(self.threshold)
                            .apply_to(parent_state)
                    } else {
                        parent_state.clone()
                    };
                    sampling_result(keep, trace_state)
                }
                Some(raw) => {
                    let ot = OtTraceState::parse(raw);
                    self.decide(parent_state, ot, ot.randomness_or(trace_id), None)
                }
            }
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags};
    use opentelemetry_sdk::trace::SamplingDecision;

    fn id(low56: u64) -> TraceId {
        TraceId::from(u128::from(low56) | (0xabcd_u128 << 100))
    }

    fn sample(
        s: &ConsistentProbabilitySampler,
        cx: Option<&Context>,
        low56: u64,
    ) -> SamplingResult {
        s.should_sample(cx, id(low56), "span", &SpanKind::Internal, &[], &[])
    }

    fn remote_parent(trace_state: &str, sampled: bool) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(
            id(1),
            SpanId::from(7u64),
            flags,
            true,
            trace_state.parse().unwrap(),
        );
        Context::new().with_remote_span_context(sc)
    }

    #[test]
    fn rejects_out_of_range_probabilities() {
        for p in [f64::NAN, -0.1, 1.000_001, f64::INFINITY, f64::NEG_INFINITY] {
            assert!(ConsistentProbabilitySampler::new(p).is_err(), "{p}");
        }
        for digits in [0, 15] {
            let s = ConsistentProbabilitySampler::new(0.5).unwrap();
            assert!(s.with_precision(digits).is_err(), "{digits}");
        }
    }

    #[test]
    fn zero_never_samples_and_one_always_samples() {
        let never = ConsistentProbabilitySampler::new(0.0).unwrap();
        let always = ConsistentProbabilitySampler::new(1.0).unwrap();
        for low in [0, 1, 0x80_0000_0000_0000, (1 << 56) - 1] {
            assert_eq!(sample(&never, None, low).decision, SamplingDecision::Drop);
            let kept = sample(&always, None, low);
            assert_eq!(kept.decision, SamplingDecision::RecordAndSample);
            assert_eq!(kept.trace_state.header(), "ot=th:0");
        }
        let tiny = ConsistentProbabilitySampler::new(1e-30).unwrap();
        assert_eq!(tiny.threshold(), Some(Threshold::MAX));
    }

    #[test]
    fn boundary_is_randomness_at_least_threshold() {
        let s = ConsistentProbabilitySampler::new(0.5).unwrap();
        let t = 0x80_0000_0000_0000;
        assert_eq!(
            sample(&s, None, t).decision,
            SamplingDecision::RecordAndSample
        );
        assert_eq!(sample(&s, None, t - 1).decision, SamplingDecision::Drop);
    }

    #[test]
    fn precision_changes_encoding() {
        let s = ConsistentProbabilitySampler::new(0.01).unwrap();
        assert_eq!(s.threshold().unwrap().encode().as_str(), "fd70a");
        let s = s.with_precision(6).unwrap();
        assert_eq!(s.threshold().unwrap().encode().as_str(), "fd70a3d");
        assert_eq!(s.precision(), 6);
        // A kept root span carries the new encoding too (its tracestate is built ahead).
        let out = sample(&s, None, (1 << 56) - 1);
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(out.trace_state.header(), "ot=th:fd70a3d");
    }

    #[test]
    fn replaces_threshold_keeps_rv_sub_keys_and_vendors() {
        let s = ConsistentProbabilitySampler::new(0.25).unwrap();
        // rv = 0xf0..: kept at 25% although the trace id's randomness is 1.
        let cx = remote_parent("ot=th:8;rv:f0000000000000;zz:1,vendor=x", true);
        let out = sample(&s, Some(&cx), 1);
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(
            out.trace_state.get("ot"),
            Some("th:c;rv:f0000000000000;zz:1")
        );
        assert_eq!(out.trace_state.get("vendor"), Some("x"));

        // rv = 0x10..: dropped, so th is cleared and the rest kept.
        let cx = remote_parent("ot=th:8;rv:10000000000000;zz:1,vendor=x", true);
        let out = sample(&s, Some(&cx), (1 << 56) - 1);
        assert_eq!(out.decision, SamplingDecision::Drop);
        assert_eq!(out.trace_state.get("ot"), Some("rv:10000000000000;zz:1"));
        assert_eq!(out.trace_state.get("vendor"), Some("x"));
    }

    #[test]
    fn drop_without_ot_member_leaves_trace_state_alone() {
        let s = ConsistentProbabilitySampler::new(0.25).unwrap();
        let cx = remote_parent("vendor=x", false);
        let out = sample(&s, Some(&cx), 0);
        assert_eq!(out.decision, SamplingDecision::Drop);
        assert_eq!(out.trace_state.header(), "vendor=x");
    }
}
