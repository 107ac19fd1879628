//! The `ot` tracestate member (`ot=th:c;rv:6e6d1a75832a2f`): reading its sampling fields
//! without allocating, and writing them back with the other sub-keys kept.
//!
//! The values it carries are [`Threshold`]s and [`Randomness`]es, whose arithmetic lives in
//! [`threshold`](crate::threshold).

use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, otel_debug, otel_warn};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult};

use crate::threshold::{Randomness, Threshold};

/// The tracestate key of the OpenTelemetry member.
pub const OT_KEY: &str = "ot";

/// Longest value a tracestate member may have (W3C Trace Context).
const MAX_MEMBER_VALUE_LEN: usize = 256;

/// The sampling fields of an `ot` tracestate value (`th:c;rv:...;other:...`), read without
/// allocating, and rewritten on request with every other well-formed sub-key kept.
///
/// Reading is lenient: a malformed `th` or `rv` reads as absent, and malformed members are
/// skipped, never a panic. Writing replaces `th` and `rv`, keeps the other well-formed members
/// in order (`key` = `[a-z][a-z0-9]*`, value = `[A-Za-z0-9._-]*`) and drops malformed ones.
/// If that would make the value longer than the 256 characters a tracestate member may hold,
/// only `th` and `rv` are written, and the loss is reported (see
/// [`apply_to`](Self::apply_to)). Other vendors' tracestate members are never touched.
///
/// ```
/// use hivetrace_sampling::threshold::{OtTraceState, Threshold};
/// use opentelemetry::trace::TraceState;
///
/// let ts: TraceState = "ot=th:8;zz:1,vendor=abc".parse().unwrap();
/// let ot = OtTraceState::from_trace_state(&ts);
/// assert_eq!(ot.threshold(), Threshold::parse("8"));
///
/// let out = ot.with_threshold(Threshold::parse("c")).apply_to(&ts);
/// assert_eq!(out.get("ot"), Some("th:c;zz:1"));
/// assert_eq!(out.get("vendor"), Some("abc"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OtTraceState<'a> {
    raw: &'a str,
    threshold: Option<Threshold>,
    randomness: Option<Randomness>,
    read_threshold: Option<Threshold>,
    read_randomness: Option<Randomness>,
    has_th_member: bool,
    has_rv_member: bool,
}

impl<'a> OtTraceState<'a> {
    /// Reads the `ot` member of a tracestate; empty if there is none.
    #[inline]
    pub fn from_trace_state(trace_state: &'a TraceState) -> Self {
        // An empty tracestate (a root span's) skips `TraceState::get`, a call that is not
        // inlined and costs more than the rest of a dropped decision.
        if *trace_state == TraceState::NONE {
            return Self::default();
        }
        trace_state.get(OT_KEY).map(Self::parse).unwrap_or_default()
    }

    /// Reads an `ot` member value. The first `th` and the first `rv` count.
    pub fn parse(raw: &'a str) -> Self {
        let mut state = OtTraceState {
            raw,
            ..Self::default()
        };
        // Split bytes, not `str`: the `str` searcher costs more than the rest of the decision.
        for member in raw.as_bytes().split(|&b| b == b';') {
            match member {
                [b't', b'h', b':', value @ ..] if !state.has_th_member => {
                    state.has_th_member = true;
                    state.threshold = Threshold::parse_bytes(value);
                }
                [b'r', b'v', b':', value @ ..] if !state.has_rv_member => {
                    state.has_rv_member = true;
                    state.randomness = Randomness::parse_bytes(value);
                }
                _ => {}
            }
        }
        state.read_threshold = state.threshold;
        state.read_randomness = state.randomness;
        state
    }

    /// The threshold (`th`), if present and valid.
    #[inline]
    pub fn threshold(&self) -> Option<Threshold> {
        self.threshold
    }

    /// The explicit randomness (`rv`), if present and valid.
    #[inline]
    pub fn randomness(&self) -> Option<Randomness> {
        self.randomness
    }

    /// The randomness a consistent sampler uses: `rv` if valid, else the trace id's low 56 bits.
    #[inline]
    pub fn randomness_or(&self, trace_id: TraceId) -> Randomness {
        self.randomness
            .unwrap_or_else(|| Randomness::from_trace_id(trace_id))
    }

    /// The same value with `th` set (`Some`) or removed (`None`).
    #[must_use]
    #[inline]
    pub fn with_threshold(mut self, threshold: Option<Threshold>) -> Self {
        self.threshold = threshold;
        self
    }

    /// The same value with `rv` set (`Some`) or removed (`None`).
    #[must_use]
    #[inline]
    pub fn with_randomness(mut self, randomness: Option<Randomness>) -> Self {
        self.randomness = randomness;
        self
    }

    /// The well-formed sub-keys other than `th` and `rv`, in order.
    pub fn other_members(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.raw
            .split(';')
            .filter_map(|member| member.split_once(':'))
            .filter(|(key, value)| {
                *key != "th" && *key != "rv" && valid_sub_key(key) && valid_sub_value(value)
            })
    }

    /// Whether [`apply_to`](Self::apply_to) would change the tracestate.
    #[inline]
    pub fn is_modified(&self) -> bool {
        self.threshold != self.read_threshold
            || self.randomness != self.read_randomness
            || (self.threshold.is_none() && self.has_th_member)
            || (self.randomness.is_none() && self.has_rv_member)
    }

    /// The `ot` member value this describes: `th`, then `rv`, then the other well-formed sub-keys.
    /// Empty when there is nothing to write.
    pub fn to_value(&self) -> String {
        let mut out = String::with_capacity(self.raw.len() + 24);
        self.write_sampling_fields(&mut out);
        for (key, value) in self.other_members() {
            push_member(&mut out, key, value);
        }
        out
    }

    fn write_sampling_fields(&self, out: &mut String) {
        if let Some(th) = self.threshold {
            push_member(out, "th", th.encode().as_str());
        }
        if let Some(rv) = self.randomness {
            push_member(out, "rv", rv.encode().as_str());
        }
    }

    /// `trace_state` with its `ot` member replaced by [`to_value`](Self::to_value), removed if
    /// that is empty, and returned as is (a clone) if nothing changed. A replaced or removed
    /// `ot` member takes any repetition of the key with it.
    ///
    /// If the full value would exceed the 256 characters a member may hold, only `th` and `rv`
    /// are written and the other `ot` sub-keys are dropped. With the `internal-logs` feature
    /// (on by default) that is reported through OpenTelemetry's internal log: a warning the
    /// first time in the process (event `Sampler.OtTraceStateTruncated`, target
    /// `hivetrace-sampling`), a debug event every time.
    #[inline]
    pub fn apply_to(&self, trace_state: &TraceState) -> TraceState {
        if self.is_modified() {
            self.rewrite(trace_state)
        } else {
            trace_state.clone()
        }
    }

    #[inline(never)]
    fn rewrite(&self, trace_state: &TraceState) -> TraceState {
        let mut value = self.to_value();
        if value.len() > MAX_MEMBER_VALUE_LEN {
            report_truncated(value.len());
            value.clear();
            self.write_sampling_fields(&mut value);
        }
        // W3C keys are unique, but `TraceState` parses a header that repeats one, and its
        // `insert` and `delete` replace or remove only the first member with the key: a second
        // `ot` member left behind would become the one every reader sees, bringing back a
        // threshold that was erased. So a repeated `ot` goes entirely first.
        let deduplicated;
        let trace_state = if trace_state
            .into_iter()
            .filter(|(key, _)| *key == OT_KEY)
            .nth(1)
            .is_some()
        {
            deduplicated = without_ot_members(trace_state);
            &deduplicated
        } else {
            trace_state
        };
        if value.is_empty() {
            return trace_state
                .delete(OT_KEY)
                .unwrap_or_else(|_| trace_state.clone());
        }
        trace_state
            .insert(OT_KEY, value)
            .or_else(|_| trace_state.delete(OT_KEY))
            .unwrap_or_else(|_| trace_state.clone())
    }
}

/// `trace_state` without any `ot` member, however many times the key is repeated.
fn without_ot_members(trace_state: &TraceState) -> TraceState {
    let mut out = trace_state.clone();
    // At most 32 members; `delete` of the valid key `ot` cannot fail.
    while out.get(OT_KEY).is_some() {
        match out.delete(OT_KEY) {
            Ok(next) => out = next,
            Err(_) => break,
        }
    }
    out
}

/// Reports that an `ot` value of `length` characters was cut down to its sampling fields:
/// a warning once per process, as the SDK does for dropped spans, so that a stream of such
/// tracestates does not flood the log; a debug event each time.
#[cold]
fn report_truncated(length: usize) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    if !WARNED.load(Ordering::Relaxed) && !WARNED.swap(true, Ordering::Relaxed) {
        otel_warn!(
            name: "Sampler.OtTraceStateTruncated",
            value_length = length,
            message = concat!(
                "An `ot` tracestate value would exceed 256 characters: only th and rv were ",
                "written, its other sub-keys were dropped. Later occurrences are logged at debug.",
            )
        );
    } else {
        otel_debug!(
            name: "Sampler.OtTraceStateTruncated",
            value_length = length,
            message = "An `ot` tracestate value was cut down to th and rv."
        );
    }
}

fn push_member(out: &mut String, key: &str, value: &str) {
    if !out.is_empty() {
        out.push(';');
    }
    out.push_str(key);
    out.push(':');
    out.push_str(value);
}

fn valid_sub_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

fn valid_sub_value(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `trace_state` without an OTEP 235 threshold (`th`), everything else kept: for a dropped
/// span, and for a span kept for a reason other than a known probability (an allow-list hit, a
/// rate limit), whose inherited `th` would make backends multiply its count. A plain clone when
/// there is no `th`.
pub(crate) fn without_threshold(trace_state: &TraceState) -> TraceState {
    OtTraceState::from_trace_state(trace_state)
        .with_threshold(None)
        .apply_to(trace_state)
}

/// The result of a decision: no attributes, `trace_state` as given.
#[inline(always)]
pub(crate) fn sampling_result(keep: bool, trace_state: TraceState) -> SamplingResult {
    SamplingResult {
        decision: if keep {
            SamplingDecision::RecordAndSample
        } else {
            SamplingDecision::Drop
        },
        attributes: Vec::new(),
        trace_state,
    }
}

/// The tracestate of a kept span whose parent has none: `ot=th:<threshold>` alone. Samplers
/// build it once per threshold and clone it.
pub(crate) fn root_trace_state(threshold: Option<Threshold>) -> TraceState {
    OtTraceState::default()
        .with_threshold(threshold)
        .apply_to(&TraceState::NONE)
}

/// Runs `f` on the parent span's tracestate, or on an empty one when there is no parent.
#[inline(always)]
pub(crate) fn with_parent_trace_state<R>(
    parent_context: Option<&Context>,
    f: impl FnOnce(&TraceState) -> R,
) -> R {
    match parent_context {
        Some(cx) => f(cx.span().span_context().trace_state()),
        None => f(&TraceState::NONE),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ot_value_reading_is_lenient() {
        let ot = OtTraceState::parse("th:c;rv:6e6d1a75832a2f;zz:keep");
        assert_eq!(ot.threshold(), Threshold::parse("c"));
        assert_eq!(ot.randomness(), Randomness::parse("6e6d1a75832a2f"));
        assert!(!ot.is_modified());

        for raw in [
            "", ";", "th", "th:", "th:xyz", "rv:12", ":::", "th:c:d", "rv;th",
        ] {
            let ot = OtTraceState::parse(raw);
            assert_eq!(ot.randomness(), None, "{raw:?}");
            let _ = ot.with_threshold(None).to_value();
        }
    }

    #[test]
    fn ot_value_rewrite_keeps_other_sub_keys_and_drops_malformed() {
        let ot = OtTraceState::parse("p:8;th:8;k1:13;Bad:x;rv:6e6d1a75832a2f;k2:a.b_c-D;k3");
        let out = ot.with_threshold(Threshold::parse("c")).to_value();
        assert_eq!(out, "th:c;rv:6e6d1a75832a2f;p:8;k1:13;k2:a.b_c-D");
        let cleared = ot.with_threshold(None).to_value();
        assert_eq!(cleared, "rv:6e6d1a75832a2f;p:8;k1:13;k2:a.b_c-D");
    }

    #[test]
    fn apply_to_keeps_other_vendors_and_removes_empty_ot() {
        let ts: TraceState = "ot=th:8,vendor=abc".parse().unwrap();
        let ot = OtTraceState::from_trace_state(&ts);
        let dropped = ot.with_threshold(None).apply_to(&ts);
        assert_eq!(dropped.get(OT_KEY), None);
        assert_eq!(dropped.get("vendor"), Some("abc"));

        let same = ot.apply_to(&ts);
        assert_eq!(same, ts);

        let empty = TraceState::NONE;
        let written = OtTraceState::from_trace_state(&empty)
            .with_threshold(Some(Threshold::ALWAYS_SAMPLE))
            .apply_to(&empty);
        assert_eq!(written.header(), "ot=th:0");
    }

    #[test]
    fn apply_to_falls_back_to_sampling_fields_when_too_long() {
        let long = format!("th:8;xx:{}", "a".repeat(245));
        let ts = TraceState::from_key_value([("ot", long.as_str())]).unwrap();
        let out = OtTraceState::from_trace_state(&ts)
            .with_threshold(Threshold::parse("fd70a4"))
            .with_randomness(Randomness::parse("6e6d1a75832a2f"))
            .apply_to(&ts);
        assert_eq!(out.get(OT_KEY), Some("th:fd70a4;rv:6e6d1a75832a2f"));
    }

    #[test]
    fn a_repeated_ot_member_cannot_bring_back_an_erased_threshold() {
        // W3C keys are unique, but `TraceState` parses a header that repeats one, and its
        // `insert` and `delete` touch only the first member with the key.
        let ts: TraceState = "ot=th:8,v=1,ot=th:c".parse().expect("parses");
        let erased = without_threshold(&ts);
        assert_eq!(erased.get(OT_KEY), None, "{}", erased.header());
        assert_eq!(erased.header(), "v=1");

        let rewritten = OtTraceState::from_trace_state(&ts)
            .with_threshold(Threshold::parse("f"))
            .apply_to(&ts);
        assert_eq!(rewritten.header(), "ot=th:f,v=1");
    }

    #[cfg(feature = "internal-logs")]
    #[test]
    fn a_truncated_value_is_reported() {
        use std::sync::{Arc, Mutex};
        use tracing::{Event, Level, Metadata, Subscriber, span};

        /// An event's name, level and target.
        type Seen = (&'static str, Level, &'static str);

        /// Records every event.
        #[derive(Clone, Default)]
        struct Capture(Arc<Mutex<Vec<Seen>>>);

        impl Subscriber for Capture {
            fn enabled(&self, _: &Metadata<'_>) -> bool {
                true
            }
            fn new_span(&self, _: &span::Attributes<'_>) -> span::Id {
                span::Id::from_u64(1)
            }
            fn record(&self, _: &span::Id, _: &span::Record<'_>) {}
            fn record_follows_from(&self, _: &span::Id, _: &span::Id) {}
            fn event(&self, event: &Event<'_>) {
                let meta = event.metadata();
                let mut events = self.0.lock().unwrap();
                events.push((meta.name(), *meta.level(), meta.target()));
            }
            fn enter(&self, _: &span::Id) {}
            fn exit(&self, _: &span::Id) {}
        }

        let capture = Capture::default();
        let long = format!("th:8;xx:{}", "a".repeat(245));
        let ts = TraceState::from_key_value([("ot", long.as_str()), ("v", "1")]).unwrap();
        let short: TraceState = "ot=th:8;xx:a".parse().unwrap();
        tracing::subscriber::with_default(capture.clone(), || {
            // A rewrite that fits says nothing.
            let out = OtTraceState::from_trace_state(&short)
                .with_threshold(Threshold::parse("c"))
                .apply_to(&short);
            assert_eq!(out.get(OT_KEY), Some("th:c;xx:a"));
            assert!(capture.0.lock().unwrap().is_empty());

            // A longer threshold pushes the value past 256 characters.
            let out = OtTraceState::from_trace_state(&ts)
                .with_threshold(Threshold::parse("fd70a4"))
                .apply_to(&ts);
            assert_eq!(out.get(OT_KEY), Some("th:fd70a4"));
            assert_eq!(out.get("v"), Some("1"));
        });
        let events = capture.0.lock().unwrap();
        // Warning or debug depending on whether another test in this process truncated first.
        assert!(
            matches!(
                events[..],
                [(
                    "Sampler.OtTraceStateTruncated",
                    Level::WARN | Level::DEBUG,
                    "hivetrace-sampling"
                )]
            ),
            "{events:?}"
        );
    }
}
