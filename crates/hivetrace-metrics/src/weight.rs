//! How many spans one recorded span stands for when a sampler kept only some of them.
//!
//! A span kept with probability `p` stands for `1/p` spans (its *adjusted count*). The
//! processor finds `p` in one of two places, chosen by [`Weighting`]:
//!
//! - the span's consistent-probability threshold, the `th` sub-key of the `ot` member of its
//!   `tracestate` (OpenTelemetry's "TraceState: Probability Sampling", OTEP 235):
//!   `ot=th:c` means a rejection threshold of `0xc` followed by zeros out of 2^56, so
//!   `p = (2^56 - T) / 2^56 = 0.25` and the span counts 4 times. Samplers that follow the
//!   specification (hivetrace's `ConsistentProbabilitySampler`, the OpenTelemetry Collector's
//!   probabilistic sampler, other SDKs') write it on every span they keep;
//! - or a probability given in configuration, for samplers that write no threshold (the SDK's
//!   `TraceIdRatioBased`).
//!
//! ```
//! use hivetrace_metrics::weight::adjusted_count;
//!
//! assert_eq!(adjusted_count("th:c"), Some(4.0));
//! assert_eq!(adjusted_count("rv:6e6d1a75832a2f;th:8"), Some(2.0));
//! assert_eq!(adjusted_count("th:0"), Some(1.0));
//! assert_eq!(adjusted_count("th:C"), None); // malformed: uppercase
//! ```

use opentelemetry::trace::SpanContext;

use crate::error::{Error, Result};

/// 2^56: the number of distinct thresholds.
const TWO_56: f64 = (1u64 << 56) as f64;

/// The largest weight one span is given, so that a hostile `tracestate` cannot make a single
/// span count as 2^56 and overflow the integer counts of the sketches. A probability below
/// about 2.3e-10 is counted as this one.
pub const MAX_WEIGHT: f64 = (1u64 << 32) as f64;

/// How the processor weighs each recorded span.
///
/// ```
/// use hivetrace_metrics::{MetricsProcessor, Weighting};
///
/// # fn main() -> Result<(), hivetrace_metrics::Error> {
/// // The SDK's TraceIdRatioBased(0.1) writes no threshold: say what it samples.
/// let metrics = MetricsProcessor::builder().weighting(Weighting::Probability(0.1)).build()?;
/// # let _ = metrics; Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub enum Weighting {
    /// The default: a sampled span whose `tracestate` carries `ot=th:<hex>` counts as its
    /// adjusted count `2^56 / (2^56 - T)`; any other span counts once.
    #[default]
    Threshold,
    /// Every sampled span counts `1/p`, unless its `tracestate` carries a threshold, which wins.
    Probability(f64),
    /// Every span counts once: for samplers that record the spans they do not sample
    /// (the processor then sees every span).
    Unweighted,
}

impl Weighting {
    pub(crate) fn validate(self) -> Result<Self> {
        if let Weighting::Probability(p) = self
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(Error::invalid(
                "weighting probability",
                p,
                "expected a sampling probability in (0, 1]",
            ));
        }
        Ok(self)
    }

    /// The number of spans `span` stands for.
    #[inline]
    pub(crate) fn weight(self, span: &SpanContext) -> f64 {
        let fallback = match self {
            Weighting::Unweighted => return 1.0,
            Weighting::Threshold => 1.0,
            Weighting::Probability(p) => 1.0 / p,
        };
        if !span.is_sampled() {
            return 1.0;
        }
        span.trace_state()
            .get("ot")
            .and_then(adjusted_count)
            .unwrap_or(fallback)
            .min(MAX_WEIGHT)
    }
}

/// The adjusted count written in an `ot` tracestate value (`th:c;rv:...`): `1/p` for the
/// threshold in its `th` sub-key. `None` when there is no `th` or it is malformed (not 1 to 14
/// lowercase hex digits).
pub fn adjusted_count(ot: &str) -> Option<f64> {
    let th = ot
        .split(';')
        .find_map(|member| member.strip_prefix("th:"))?;
    let bytes = th.as_bytes();
    if bytes.is_empty() || bytes.len() > 14 {
        return None;
    }
    let mut value = 0u64;
    for &c in bytes {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u64::from(nibble);
    }
    let threshold = value << (4 * (14 - bytes.len() as u32));
    Some(TWO_56 / (TWO_56 - threshold as f64))
}

/// Turns fractional weights into whole counts for the sketches, carrying the remainder to the
/// next span, so that the sum of the whole counts never falls more than one behind the sum of
/// the weights.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Carry(f64);

impl Carry {
    #[inline]
    pub(crate) fn take(&mut self, weight: f64) -> u64 {
        let total = self.0 + weight;
        let whole = total.floor();
        self.0 = total - whole;
        whole as u64
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId, TraceState};

    fn context(sampled: bool, ot: Option<&str>) -> SpanContext {
        let state = match ot {
            Some(v) => TraceState::from_key_value([("ot", v)]).unwrap(),
            None => TraceState::default(),
        };
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(1u64),
            flags,
            false,
            state,
        )
    }

    #[test]
    fn thresholds_of_the_specification_give_their_adjusted_counts() {
        assert_eq!(adjusted_count("th:8"), Some(2.0));
        assert_eq!(adjusted_count("th:e"), Some(8.0));
        assert_eq!(adjusted_count("th:f"), Some(16.0));
        let one_percent = adjusted_count("th:fd70a4").unwrap();
        assert!((one_percent - 100.000_095_367_522_59).abs() < 1e-9);
        for bad in ["", "th:", "th:g", "th:123456789012345", "th:-1", "rv:8"] {
            assert_eq!(adjusted_count(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn weighting_reads_the_threshold_of_sampled_spans_only() {
        let w = Weighting::Threshold;
        assert_eq!(w.weight(&context(true, Some("th:c"))), 4.0);
        assert_eq!(w.weight(&context(true, None)), 1.0);
        assert_eq!(w.weight(&context(false, Some("th:c"))), 1.0);
        let p = Weighting::Probability(0.1);
        assert!((p.weight(&context(true, None)) - 10.0).abs() < 1e-12);
        assert_eq!(p.weight(&context(true, Some("th:8"))), 2.0);
        assert_eq!(
            Weighting::Unweighted.weight(&context(true, Some("th:c"))),
            1.0
        );
        assert_eq!(
            w.weight(&context(true, Some("th:ffffffffffffff"))),
            MAX_WEIGHT
        );
    }

    #[test]
    fn probabilities_outside_zero_to_one_are_rejected() {
        for p in [0.0, -0.5, 1.5, f64::NAN] {
            assert!(Weighting::Probability(p).validate().is_err(), "{p}");
        }
        assert!(Weighting::Probability(1.0).validate().is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_ot_value_parses_without_panicking(ot in ".{0,40}") {
            if let Some(count) = adjusted_count(&ot) {
                proptest::prop_assert!(count >= 1.0);
            }
        }

        #[test]
        fn a_valid_threshold_gives_two_to_the_56_over_its_complement(
            th in "[0-9a-f]{1,14}",
            prefix in "(rv:[0-9a-f]{14};)?",
        ) {
            let value = u64::from_str_radix(&th, 16).unwrap() << (4 * (14 - th.len()));
            let want = TWO_56 / (TWO_56 - value as f64);
            proptest::prop_assert_eq!(adjusted_count(&format!("{prefix}th:{th}")), Some(want));
        }

        #[test]
        fn carried_counts_stay_within_one_of_the_weight_sum(weights in proptest::collection::vec(1.0f64..1000.0, 1..200)) {
            let mut carry = Carry::default();
            let whole: u64 = weights.iter().map(|w| carry.take(*w)).sum();
            let exact: f64 = weights.iter().sum();
            proptest::prop_assert!((exact - whole as f64) >= -1e-6 && (exact - whole as f64) < 1.0 + 1e-6);
        }
    }

    #[test]
    fn carry_keeps_whole_counts_within_one_of_the_weights() {
        let mut carry = Carry::default();
        let total: u64 = (0..1000).map(|_| carry.take(2.5)).sum();
        assert_eq!(total, 2500);
        let mut carry = Carry::default();
        let total: u64 = (0..3).map(|_| carry.take(1.0 / 3.0 * 3.0)).sum();
        assert_eq!(total, 3);
    }
}
