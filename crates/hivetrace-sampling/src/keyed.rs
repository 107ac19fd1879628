//! One sampling decision per key (a session, a user), consistent across traces.
//!
//! The randomness is a stable 56-bit hash of the key's attribute value instead of the trace id,
//! so every trace of one session is kept or dropped together. The hash is specified exactly so
//! that any other language can reproduce it:
//!
//! ```text
//! h    = FNV-1a 64 over the value's UTF-8 bytes
//!        (offset basis 0xcbf29ce484222325, prime 0x100000001b3; per byte: h ^= b; h *= prime)
//! h    = murmur3 fmix64(h)
//!        (h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33)
//! rv   = h >> 8            (the top 56 bits; all arithmetic wraps modulo 2^64)
//! ```
//!
//! Test vectors (key → `rv`): `"a"` → `82a2a958a9bece`, `"session-123"` → `50851645ee5d6a`,
//! `"user-42"` → `a39532c7ab051e`, `"42"` → `810b196a56ee3c`, `"ünïcødé"` → `c4b3c4ebf61bc1`.
//! The finaliser matters: FNV-1a alone mixes poorly into its top bits for short keys.
//!
//! It is a root sampler: it decides on the key, whatever the parent decided, and writes the key's
//! `rv` into the trace state (replacing an upstream `rv`). Put it inside
//! [`ParentBased`](crate::ParentBased) so that only roots decide on the key and their children
//! follow. Integer and boolean keys hash their decimal/`true`/`false` text; floats hash Rust's
//! text form, which other languages may print differently, so prefer string or integer keys.

use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::Result;
use crate::consistent::ConsistentProbabilitySampler;
use crate::ot_state::{OtTraceState, with_parent_trace_state};
use crate::threshold::Randomness;

/// The attribute a [`KeyedSampler`] reads unless told otherwise.
pub const DEFAULT_KEY_ATTRIBUTE: &str = "session.id";

/// A consistent probability sampler whose randomness comes from a span attribute, so that every
/// trace with the same key (default `session.id`) gets the same decision.
///
/// When the attribute is absent, empty or an array, it decides like
/// [`ConsistentProbabilitySampler`] (the parent's `rv`, else the trace id). Either way it writes
/// `th` on kept spans so adjusted counts downstream stay right; when the key decided, it also
/// writes the key's randomness as `rv`, so downstream consistent samplers reach the same decision.
/// Only the attributes given at span start are seen.
///
/// ```
/// use hivetrace_sampling::keyed::KeyedSampler;
/// use opentelemetry::KeyValue;
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry_sdk::trace::ShouldSample;
///
/// let sampler = KeyedSampler::new(0.1)?.with_key_attribute("user.id");
/// let attrs = [KeyValue::new("user.id", "user-42")];
/// let a = sampler.should_sample(None, TraceId::from(1u128), "chat", &SpanKind::Server, &attrs, &[]);
/// let b = sampler.should_sample(None, TraceId::from(2u128), "chat", &SpanKind::Server, &attrs, &[]);
/// assert_eq!(a.decision, b.decision);
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone)]
pub struct KeyedSampler {
    key_attribute: Arc<str>,
    sampler: ConsistentProbabilitySampler,
}

impl KeyedSampler {
    /// A sampler keeping `probability` of keys, keyed on `session.id`.
    ///
    /// Errors as [`ConsistentProbabilitySampler::new`] does.
    pub fn new(probability: f64) -> Result<Self> {
        Ok(KeyedSampler {
            key_attribute: Arc::from(DEFAULT_KEY_ATTRIBUTE),
            sampler: ConsistentProbabilitySampler::new(probability)?,
        })
    }

    /// The same sampler keyed on another attribute, e.g. `user.id`.
    #[must_use]
    pub fn with_key_attribute(self, attribute: impl AsRef<str>) -> Self {
        KeyedSampler {
            key_attribute: Arc::from(attribute.as_ref()),
            ..self
        }
    }

    /// The same sampler with thresholds rounded to `digits` significant hex digits (`1..=14`).
    pub fn with_precision(self, digits: u8) -> Result<Self> {
        Ok(KeyedSampler {
            sampler: self.sampler.with_precision(digits)?,
            ..self
        })
    }

    /// The attribute whose value is the key.
    pub fn key_attribute(&self) -> &str {
        &self.key_attribute
    }

    /// The consistent sampler holding the probability and threshold.
    pub fn sampler(&self) -> &ConsistentProbabilitySampler {
        &self.sampler
    }

    /// The randomness of the key in `attributes`, if the key attribute is there and usable.
    pub fn key_randomness(&self, attributes: &[KeyValue]) -> Option<Randomness> {
        let value = attributes
            .iter()
            // The last value of a repeated key, as the allow-list and the rules read it.
            .rfind(|kv| kv.key.as_str() == &*self.key_attribute)
            .map(|kv| &kv.value)?;
        match value {
            Value::String(s) if s.as_str().is_empty() => None,
            Value::String(s) => Some(key_randomness(s.as_str().as_bytes())),
            Value::Bool(_) | Value::I64(_) | Value::F64(_) => {
                Some(key_randomness(value.as_str().as_bytes()))
            }
            _ => None,
        }
    }
}

impl fmt::Debug for KeyedSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedSampler")
            .field("key_attribute", &&*self.key_attribute)
            .field("probability", &self.sampler.probability())
            .field("threshold", &self.sampler.threshold())
            .finish()
    }
}

impl ShouldSample for KeyedSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _span_kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        with_parent_trace_state(parent_context, |parent_state| {
            let ot = OtTraceState::from_trace_state(parent_state);
            match self.key_randomness(attributes) {
                Some(key) => self.sampler.decide(parent_state, ot, key, Some(key)),
                None => self
                    .sampler
                    .decide(parent_state, ot, ot.randomness_or(trace_id), None),
            }
        })
    }
}

/// The 56-bit randomness of a key: FNV-1a 64, then murmur3's fmix64, top 56 bits.
///
/// Non-string attribute values are hashed as the text [`Value::as_str`] gives (`42`, `true`).
///
/// ```
/// use hivetrace_sampling::keyed::key_randomness;
/// assert_eq!(key_randomness(b"session-123").encode().as_str(), "50851645ee5d6a");
/// ```
pub fn key_randomness(key: &[u8]) -> Randomness {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = key.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    });
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    Randomness::from_low_56_bits(h >> 8)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::SamplingDecision;

    #[test]
    fn hash_test_vectors() {
        // Computed independently (Python) from the documented definition.
        for (key, rv) in [
            ("", "efd01f60ba9929"),
            ("a", "82a2a958a9bece"),
            ("session-123", "50851645ee5d6a"),
            ("user-42", "a39532c7ab051e"),
            ("42", "810b196a56ee3c"),
            ("ünïcødé", "c4b3c4ebf61bc1"),
        ] {
            assert_eq!(
                key_randomness(key.as_bytes()).encode().as_str(),
                rv,
                "{key:?}"
            );
        }
    }

    #[test]
    fn integer_keys_hash_as_their_decimal_text() {
        let s = KeyedSampler::new(0.5).unwrap();
        let int = s.key_randomness(&[KeyValue::new("session.id", 42_i64)]);
        let text = s.key_randomness(&[KeyValue::new("session.id", "42")]);
        assert_eq!(int, text);
    }

    #[test]
    fn empty_or_array_keys_fall_back_to_trace_id() {
        let s = KeyedSampler::new(0.5).unwrap();
        assert_eq!(s.key_randomness(&[KeyValue::new("session.id", "")]), None);
        let arr = Value::Array(vec![1_i64, 2].into());
        assert_eq!(s.key_randomness(&[KeyValue::new("session.id", arr)]), None);
        assert_eq!(s.key_randomness(&[KeyValue::new("other", "x")]), None);

        // Trace id 0xff..ff (low 56 bits) is kept at 50% and no rv is written.
        let out = s.should_sample(
            None,
            TraceId::from(u128::MAX),
            "s",
            &SpanKind::Internal,
            &[],
            &[],
        );
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(out.trace_state.get("ot"), Some("th:8"));
    }

    #[test]
    fn key_decision_writes_th_and_rv() {
        // "a" → 0x82a2..: kept at 50% (threshold 0x80..), even for trace id 0.
        let s = KeyedSampler::new(0.5).unwrap();
        let attrs = [KeyValue::new("session.id", "a")];
        let out = s.should_sample(
            None,
            TraceId::from(0u128),
            "s",
            &SpanKind::Internal,
            &attrs,
            &[],
        );
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(out.trace_state.get("ot"), Some("th:8;rv:82a2a958a9bece"));

        // "session-123" → 0x5085..: dropped at 50%, rv still written for downstream samplers.
        let attrs = [KeyValue::new("session.id", "session-123")];
        let out = s.should_sample(
            None,
            TraceId::from(u128::MAX),
            "s",
            &SpanKind::Internal,
            &attrs,
            &[],
        );
        assert_eq!(out.decision, SamplingDecision::Drop);
        assert_eq!(out.trace_state.get("ot"), Some("rv:50851645ee5d6a"));
    }
}
