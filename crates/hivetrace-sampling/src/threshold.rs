//! OTEP 235 arithmetic: 56-bit rejection thresholds and 56-bit randomness. The `ot` tracestate
//! member that carries them (`ot=th:c;rv:6e6d1a75832a2f`) is read and written by
//! [`OtTraceState`], re-exported here from [`ot_state`](crate::ot_state).
//!
//! A span is kept when its randomness `R` is at least the rejection threshold `T`, where
//! `T = (1 - p) * 2^56` and `R` is the explicit `rv` sub-key of the `ot` member when present,
//! otherwise the least-significant 56 bits of the trace id. Every participant that follows the
//! OpenTelemetry "TraceState: Probability Sampling" specification makes the same decision for the
//! same `R` and `T`, whatever its language.
//!
//! ```
//! use hivetrace_sampling::threshold::{Randomness, Threshold};
//!
//! let quarter = Threshold::from_probability(0.25).unwrap();
//! assert_eq!(quarter.encode().as_str(), "c");
//! assert_eq!(Threshold::parse("c"), Some(quarter));
//! assert_eq!(quarter.adjusted_count(), 4.0);
//!
//! let r = Randomness::parse("e0000000000000").unwrap();
//! assert!(quarter.should_sample(r));
//! ```

use std::fmt;

use opentelemetry::trace::TraceId;

pub use crate::ot_state::{OT_KEY, OtTraceState};

/// 2^56: the number of distinct thresholds and randomness values, and the largest adjusted count.
pub const MAX_ADJUSTED_COUNT: u64 = 1 << 56;

const MASK_56: u64 = MAX_ADJUSTED_COUNT - 1;

/// The smallest nonzero sampling probability a threshold can express, 2^-56.
pub const MIN_PROBABILITY: f64 = 1.0 / MAX_ADJUSTED_COUNT as f64;

/// Significant hex digits in an encoded threshold unless configured otherwise (the
/// specification's recommendation).
pub const DEFAULT_PRECISION: u8 = 4;

/// The most hex digits a threshold or randomness value has.
pub const MAX_PRECISION: u8 = 14;

/// A 56-bit rejection threshold: out of 2^56 equally likely randomness values, how many are dropped.
///
/// `th:0` keeps everything, `th:8` keeps half, `th:c` keeps a quarter.
///
/// ```
/// use hivetrace_sampling::threshold::Threshold;
///
/// let t = Threshold::from_probability(0.01).unwrap();
/// assert_eq!(t.encode().as_str(), "fd70a"); // 4 digits, plus one for the leading `f`
/// assert!((t.probability() - 0.01).abs() < 1e-6);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Threshold(u64);

impl Threshold {
    /// The threshold that rejects nothing: 100% sampling, `th:0`.
    pub const ALWAYS_SAMPLE: Threshold = Threshold(0);

    /// The largest threshold: keeps one in 2^56, `th:ffffffffffffff`.
    pub const MAX: Threshold = Threshold(MASK_56);

    /// The threshold with this 56-bit value; `None` if it does not fit in 56 bits.
    pub const fn from_u56(value: u64) -> Option<Self> {
        if value <= MASK_56 {
            Some(Threshold(value))
        } else {
            None
        }
    }

    /// The threshold as a number below 2^56.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// The threshold for `probability`, rounded to [`DEFAULT_PRECISION`] significant hex digits.
    ///
    /// `None` unless `probability` is in `[2^-56, 1]`: zero is "never sample", which no threshold
    /// expresses.
    pub fn from_probability(probability: f64) -> Option<Self> {
        Self::from_probability_with_precision(probability, DEFAULT_PRECISION)
    }

    /// The threshold for `probability`, rounded (half up) to `precision` significant hex digits.
    ///
    /// As in the specification's reference algorithm, the precision grows by one digit for every
    /// four halvings of the probability below one half (`frexp` exponent / -4), so that small
    /// probabilities keep their relative accuracy: 0.01 encodes as `fd70a`, not `fd71`. Unlike
    /// the floating-point reference, which stops at 12 digits, this works on integers and goes up
    /// to all 14. A rounding that would reach 2^56 (probability zero) truncates instead.
    ///
    /// `None` unless `probability` is in `[2^-56, 1]` and `precision` in `1..=14`.
    pub fn from_probability_with_precision(probability: f64, precision: u8) -> Option<Self> {
        if !(MIN_PROBABILITY..=1.0).contains(&probability)
            || !(1..=MAX_PRECISION).contains(&precision)
        {
            return None;
        }
        if probability >= 1.0 {
            return Some(Self::ALWAYS_SAMPLE);
        }
        // Exact: multiplying by a power of two only moves the exponent; the result is in [1, 2^56).
        let scaled = (probability * MAX_ADJUSTED_COUNT as f64).round() as u64;
        let exact = MAX_ADJUSTED_COUNT - scaled.clamp(1, MAX_ADJUSTED_COUNT);

        // `probability` is a normal float here, so its biased exponent field gives frexp's
        // exponent directly: probability = m * 2^exp with m in [0.5, 1).
        let frexp_exp = ((probability.to_bits() >> 52) & 0x7ff) as i32 - 1022;
        let extra = if frexp_exp < 0 { -frexp_exp / 4 } else { 0 };
        let digits = (i32::from(precision) + extra).min(i32::from(MAX_PRECISION));
        let shift = 4 * (i32::from(MAX_PRECISION) - digits) as u32;
        if shift == 0 {
            return Some(Threshold(exact));
        }
        let half = 1u64 << (shift - 1);
        let rounded = ((exact + half) >> shift) << shift;
        let value = if rounded > MASK_56 {
            (exact >> shift) << shift
        } else {
            rounded
        };
        Some(Threshold(value))
    }

    /// The probability this threshold keeps: `(2^56 - T) / 2^56`, in `[2^-56, 1]`.
    pub fn probability(self) -> f64 {
        (MAX_ADJUSTED_COUNT - self.0) as f64 / MAX_ADJUSTED_COUNT as f64
    }

    /// How many spans each kept span stands for: `2^56 / (2^56 - T)`, i.e. `1 / probability`.
    pub fn adjusted_count(self) -> f64 {
        MAX_ADJUSTED_COUNT as f64 / (MAX_ADJUSTED_COUNT - self.0) as f64
    }

    /// The consistent decision: keep iff `randomness >= threshold`.
    #[inline]
    pub const fn should_sample(self, randomness: Randomness) -> bool {
        randomness.0 >= self.0
    }

    /// Parses a `th` value: 1 to 14 lowercase hex digits, extended with trailing zeros to 14.
    ///
    /// Anything else (empty, too long, uppercase, not hex) is `None`.
    ///
    /// ```
    /// use hivetrace_sampling::threshold::Threshold;
    /// assert_eq!(Threshold::parse("8").map(Threshold::get), Some(0x80000000000000));
    /// assert_eq!(Threshold::parse("C"), None);
    /// ```
    pub fn parse(th: &str) -> Option<Self> {
        Self::parse_bytes(th.as_bytes())
    }

    pub(crate) fn parse_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.is_empty() || bytes.len() > usize::from(MAX_PRECISION) {
            return None;
        }
        let value = parse_hex(bytes)?;
        let pad = 4 * (u32::from(MAX_PRECISION) - bytes.len() as u32);
        Some(Threshold(value << pad))
    }

    /// The `th` encoding: lowercase hex without trailing zeros, `0` for [`Threshold::ALWAYS_SAMPLE`].
    pub fn encode(self) -> Hex {
        if self.0 == 0 {
            return Hex::new(0, 1);
        }
        let len = MAX_PRECISION - (self.0.trailing_zeros() / 4) as u8;
        Hex::new(self.0 >> (4 * u32::from(MAX_PRECISION - len)), len)
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode().as_str())
    }
}

/// A 56-bit randomness value, compared against a [`Threshold`].
///
/// ```
/// use hivetrace_sampling::threshold::Randomness;
/// use opentelemetry::trace::TraceId;
///
/// let id = TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
/// assert_eq!(Randomness::from_trace_id(id).encode().as_str(), "ce929d0e0e4736");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Randomness(u64);

impl Randomness {
    /// The least-significant 56 bits (last 7 bytes) of the trace id, as W3C Trace Context Level 2
    /// makes random.
    #[inline]
    pub const fn from_trace_id(trace_id: TraceId) -> Self {
        Randomness(u128::from_be_bytes(trace_id.to_bytes()) as u64 & MASK_56)
    }

    /// The randomness with this 56-bit value; `None` if it does not fit in 56 bits.
    pub const fn from_u56(value: u64) -> Option<Self> {
        if value <= MASK_56 {
            Some(Randomness(value))
        } else {
            None
        }
    }

    /// The low 56 bits of `bits`.
    pub const fn from_low_56_bits(bits: u64) -> Self {
        Randomness(bits & MASK_56)
    }

    /// The randomness as a number below 2^56.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Parses an `rv` value: exactly 14 lowercase hex digits, else `None`.
    pub fn parse(rv: &str) -> Option<Self> {
        Self::parse_bytes(rv.as_bytes())
    }

    pub(crate) fn parse_bytes(bytes: &[u8]) -> Option<Self> {
        if bytes.len() != usize::from(MAX_PRECISION) {
            return None;
        }
        parse_hex(bytes).map(Randomness)
    }

    /// The `rv` encoding: exactly 14 lowercase hex digits.
    pub fn encode(self) -> Hex {
        Hex::new(self.0, MAX_PRECISION)
    }
}

impl fmt::Display for Randomness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode().as_str())
    }
}

/// Up to 14 lowercase hex digits, held inline so that encoding never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Hex {
    digits: [u8; MAX_PRECISION as usize],
    len: u8,
}

impl Hex {
    /// The low `len` hex digits of `value`, most significant first.
    fn new(value: u64, len: u8) -> Self {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut digits = [b'0'; MAX_PRECISION as usize];
        let len = len.min(MAX_PRECISION);
        for (i, slot) in digits[..usize::from(len)].iter_mut().enumerate() {
            let nibble = (value >> (4 * (usize::from(len) - 1 - i))) & 0xf;
            *slot = DIGITS[nibble as usize];
        }
        Hex { digits, len }
    }

    /// The digits as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits are ever written, so this never falls back.
        std::str::from_utf8(&self.digits[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl fmt::Display for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Hex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

fn parse_hex(bytes: &[u8]) -> Option<u64> {
    bytes.iter().try_fold(0u64, |acc, &c| {
        let nibble = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => return None,
        };
        Some((acc << 4) | u64::from(nibble))
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn specification_table_precision_3_4_5() {
        // "TraceState: Probability Sampling", Algorithms: 1-in-N table.
        let table: &[(f64, [&str; 3])] = &[
            (1.0, ["0", "0", "0"]),
            (0.5, ["8", "8", "8"]),
            (1.0 / 3.0, ["aab", "aaab", "aaaab"]),
            (0.25, ["c", "c", "c"]),
            (0.2, ["ccd", "cccd", "ccccd"]),
            (0.125, ["e", "e", "e"]),
            (0.1, ["e66", "e666", "e6666"]),
            (0.0625, ["f", "f", "f"]),
            (0.01, ["fd71", "fd70a", "fd70a4"]),
            (0.001, ["ffbe7", "ffbe77", "ffbe76d"]),
            (0.0001, ["fff972", "fff9724", "fff97247"]),
            (0.00001, ["ffff584", "ffff583a", "ffff583a5"]),
            (0.000001, ["ffffef4", "ffffef39", "ffffef391"]),
        ];
        for (p, expected) in table {
            for (precision, want) in (3..=5).zip(expected) {
                let t = Threshold::from_probability_with_precision(*p, precision).unwrap();
                assert_eq!(t.encode().as_str(), *want, "p={p} precision={precision}");
                assert_eq!(Threshold::parse(want), Some(t));
            }
        }
    }

    #[test]
    fn th_examples_probability_and_adjusted_count() {
        for (th, p, count) in [("0", 1.0, 1.0), ("8", 0.5, 2.0), ("c", 0.25, 4.0)] {
            let t = Threshold::parse(th).unwrap();
            assert_eq!(t.probability(), p);
            assert_eq!(t.adjusted_count(), count);
        }
        let t = Threshold::parse("fd70a4").unwrap();
        assert!((t.probability() - 0.009999990463256836).abs() < 1e-15);
        assert!((t.adjusted_count() - 100.00009536752259).abs() < 1e-9);
    }

    #[test]
    fn th_parse_rejects_malformed() {
        for bad in ["", "C", "g", "0x8", "123456789012345", " 8", "8;", "-1"] {
            assert_eq!(Threshold::parse(bad), None, "{bad:?}");
        }
        assert_eq!(Threshold::parse("ffffffffffffff"), Some(Threshold::MAX));
        assert_eq!(Threshold::parse("80").unwrap().encode().as_str(), "8");
        assert_eq!(Threshold::parse("00").unwrap(), Threshold::ALWAYS_SAMPLE);
    }

    #[test]
    fn probability_range_edges() {
        assert_eq!(Threshold::from_probability(0.0), None);
        assert_eq!(Threshold::from_probability(MIN_PROBABILITY / 2.0), None);
        assert_eq!(Threshold::from_probability(f64::NAN), None);
        assert_eq!(Threshold::from_probability(1.5), None);
        assert_eq!(
            Threshold::from_probability(MIN_PROBABILITY),
            Some(Threshold::MAX)
        );
        assert_eq!(Threshold::from_probability_with_precision(0.5, 0), None);
        assert_eq!(Threshold::from_probability_with_precision(0.5, 15), None);
        // Near 1, precision is not extended: the threshold rounds to zero.
        assert_eq!(
            Threshold::from_probability(1.0 - 1e-9),
            Some(Threshold::ALWAYS_SAMPLE)
        );
    }

    #[test]
    fn rv_parse_requires_exactly_14_lowercase_digits() {
        assert_eq!(
            Randomness::parse("6e6d1a75832a2f").map(Randomness::get),
            Some(0x6e6d1a75832a2f)
        );
        for bad in [
            "6e6d1a75832a2",
            "6e6d1a75832a2f0",
            "6E6D1A75832A2F",
            "6e6d1a75832a2g",
            "",
        ] {
            assert_eq!(Randomness::parse(bad), None, "{bad:?}");
        }
        assert_eq!(
            Randomness::from_low_56_bits(0x0012_3456_789a_bcde)
                .encode()
                .as_str(),
            "123456789abcde"
        );
        assert_eq!(Randomness::from_u56(1 << 56), None);
    }

    #[test]
    fn specification_rv_example_is_kept_at_thresholds_up_to_its_value() {
        // The "TraceState handling" example `ot=rv:6e6d1a75832a2f`: kept by every threshold from
        // 0 through 0x6e6d1a75832a2f (probabilities of about 56.9% and above), dropped above.
        let r = Randomness::parse("6e6d1a75832a2f").unwrap();
        assert!(Threshold::parse("6e6d1a75832a2f").unwrap().should_sample(r));
        assert!(!Threshold::parse("6e6d1a75832a30").unwrap().should_sample(r));
        assert!(Threshold::ALWAYS_SAMPLE.should_sample(r));
    }
}
