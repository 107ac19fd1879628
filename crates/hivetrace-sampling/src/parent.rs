//! Parent-based composition: one sampler for root spans, and one per kind of parent.
//!
//! With [`ConsistentProbabilitySampler`](crate::consistent::ConsistentProbabilitySampler) as the
//! root and the default parent branches, this is the specification's head sampling: the root
//! decides and writes `ot=th:..`, and every child, local or remote, repeats the parent's decision
//! and propagates its threshold, so adjusted counts hold for every span of the trace.

use std::sync::Arc;

use opentelemetry::trace::{Link, SpanContext, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::ot_state::{OtTraceState, sampling_result, without_threshold};

/// A sampler that delegates by parent: root, remote sampled, remote not sampled, local sampled,
/// local not sampled, each configurable with any [`ShouldSample`].
///
/// The four parent branches default to repeating the parent's decision. A sampled parent's
/// tracestate passes through unchanged unless its `th` is malformed or inconsistent with its
/// randomness (`rv`, else the trace id) — then `th` is erased, other `ot` sub-keys and other
/// vendors' members kept, as the specification asks of parent-based samplers. An unsampled
/// parent's tracestate passes through without `th`, like every dropped span's.
///
/// A span whose parent context holds no valid span context is a root. Clones share the
/// delegates (`Arc`), so cloning costs a few reference-count increments.
///
/// ```
/// use hivetrace_sampling::consistent::ConsistentProbabilitySampler;
/// use hivetrace_sampling::parent::ParentBased;
/// use opentelemetry_sdk::trace::Sampler;
///
/// // Head sampling at 10%; requests arriving with a sampled remote parent are re-sampled at 50%.
/// let sampler = ParentBased::new(ConsistentProbabilitySampler::new(0.1)?)
///     .with_remote_parent_sampled(ConsistentProbabilitySampler::new(0.5)?)
///     .with_local_parent_not_sampled(Sampler::AlwaysOff);
/// let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
///     .with_sampler(sampler)
///     .build();
/// # drop(provider);
/// # Ok::<(), hivetrace_sampling::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParentBased {
    root: Arc<dyn ShouldSample>,
    remote_parent_sampled: Branch,
    remote_parent_not_sampled: Branch,
    local_parent_sampled: Branch,
    local_parent_not_sampled: Branch,
}

/// What one parent case does.
#[derive(Clone, Debug)]
enum Branch {
    /// Repeat the parent's decision (the default).
    FollowParent,
    Delegate(Arc<dyn ShouldSample>),
}

impl ParentBased {
    /// Uses `root` for spans without a valid parent; every parent case repeats the parent.
    pub fn new(root: impl Into<Box<dyn ShouldSample>>) -> Self {
        ParentBased {
            root: Arc::from(root.into()),
            remote_parent_sampled: Branch::FollowParent,
            remote_parent_not_sampled: Branch::FollowParent,
            local_parent_sampled: Branch::FollowParent,
            local_parent_not_sampled: Branch::FollowParent,
        }
    }

    /// Uses `sampler` when the parent is remote (propagated in) and sampled.
    #[must_use]
    pub fn with_remote_parent_sampled(mut self, sampler: impl Into<Box<dyn ShouldSample>>) -> Self {
        self.remote_parent_sampled = Branch::Delegate(Arc::from(sampler.into()));
        self
    }

    /// Uses `sampler` when the parent is remote and not sampled.
    #[must_use]
    pub fn with_remote_parent_not_sampled(
        mut self,
        sampler: impl Into<Box<dyn ShouldSample>>,
    ) -> Self {
        self.remote_parent_not_sampled = Branch::Delegate(Arc::from(sampler.into()));
        self
    }

    /// Uses `sampler` when the parent is in this process and sampled.
    #[must_use]
    pub fn with_local_parent_sampled(mut self, sampler: impl Into<Box<dyn ShouldSample>>) -> Self {
        self.local_parent_sampled = Branch::Delegate(Arc::from(sampler.into()));
        self
    }

    /// Uses `sampler` when the parent is in this process and not sampled.
    #[must_use]
    pub fn with_local_parent_not_sampled(
        mut self,
        sampler: impl Into<Box<dyn ShouldSample>>,
    ) -> Self {
        self.local_parent_not_sampled = Branch::Delegate(Arc::from(sampler.into()));
        self
    }
}

impl ShouldSample for ParentBased {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let delegate = |sampler: &dyn ShouldSample| {
            sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links)
        };
        let Some(cx) = parent_context else {
            return delegate(self.root.as_ref());
        };
        let span = cx.span();
        let parent = span.span_context();
        if !parent.is_valid() {
            return delegate(self.root.as_ref());
        }
        let branch = match (parent.is_remote(), parent.is_sampled()) {
            (true, true) => &self.remote_parent_sampled,
            (true, false) => &self.remote_parent_not_sampled,
            (false, true) => &self.local_parent_sampled,
            (false, false) => &self.local_parent_not_sampled,
        };
        match branch {
            Branch::FollowParent => follow_parent(parent),
            Branch::Delegate(sampler) => delegate(sampler.as_ref()),
        }
    }
}

/// The parent's decision, with its threshold erased if it is malformed or the parent was
/// sampled inconsistently with it.
fn follow_parent(parent: &SpanContext) -> SamplingResult {
    let trace_state = parent.trace_state();
    let ot = OtTraceState::from_trace_state(trace_state);
    if !parent.is_sampled() {
        // A dropped span carries no threshold, like every dropped span here.
        return sampling_result(false, without_threshold(trace_state));
    }
    // Keep `th` only if it parses and the parent's randomness reaches it. Otherwise it is
    // erased: `apply_to` rewrites when a `th` member was present but is not kept, and returns
    // a plain clone when nothing changes (no `th` member, or a consistent one).
    let randomness = ot.randomness_or(parent.trace_id());
    let consistent = ot.threshold().filter(|t| t.should_sample(randomness));
    sampling_result(true, ot.with_threshold(consistent).apply_to(trace_state))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::consistent::ConsistentProbabilitySampler;
    use opentelemetry::trace::{SpanId, TraceFlags};
    use opentelemetry_sdk::trace::Sampler;
    use opentelemetry_sdk::trace::SamplingDecision;

    fn parent(remote: bool, sampled: bool, trace_state: &str, low56: u64) -> Context {
        let flags = if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        };
        let sc = SpanContext::new(
            TraceId::from(u128::from(low56)),
            SpanId::from(1u64),
            flags,
            remote,
            trace_state.parse().unwrap(),
        );
        Context::new().with_remote_span_context(sc)
    }

    fn run(s: &ParentBased, cx: Option<&Context>, low56: u64) -> SamplingResult {
        s.should_sample(
            cx,
            TraceId::from(u128::from(low56)),
            "s",
            &SpanKind::Internal,
            &[],
            &[],
        )
    }

    #[test]
    fn root_uses_root_sampler() {
        let s = ParentBased::new(ConsistentProbabilitySampler::new(0.5).unwrap());
        let kept = run(&s, None, (1 << 56) - 1);
        assert_eq!(kept.decision, SamplingDecision::RecordAndSample);
        assert_eq!(kept.trace_state.header(), "ot=th:8");
        assert_eq!(run(&s, None, 0).decision, SamplingDecision::Drop);
        // A context without a span is a root too.
        let empty = Context::new();
        assert_eq!(run(&s, Some(&empty), 0).decision, SamplingDecision::Drop);
    }

    #[test]
    fn defaults_follow_parent_and_keep_consistent_threshold() {
        let s = ParentBased::new(Sampler::AlwaysOff);
        for remote in [true, false] {
            // Randomness 0xf0.. >= th 0xc0..: consistent, passed through unchanged.
            let cx = parent(remote, true, "ot=th:c,v=1", 0xf0_0000_0000_0000);
            let out = run(&s, Some(&cx), 0xf0_0000_0000_0000);
            assert_eq!(out.decision, SamplingDecision::RecordAndSample);
            assert_eq!(out.trace_state.header(), "ot=th:c,v=1");

            let cx = parent(remote, false, "ot=rv:ffffffffffffff", 0);
            let out = run(&s, Some(&cx), 0);
            assert_eq!(out.decision, SamplingDecision::Drop);
            assert_eq!(out.trace_state.header(), "ot=rv:ffffffffffffff");
        }
    }

    #[test]
    fn inconsistent_parent_threshold_is_erased() {
        let s = ParentBased::new(Sampler::AlwaysOff);
        // Sampled, but randomness 0x10.. < th 0xc0..: th erased, other sub-keys kept.
        let cx = parent(true, true, "ot=th:c;zz:1,v=1", 0x10_0000_0000_0000);
        let out = run(&s, Some(&cx), 0x10_0000_0000_0000);
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(out.trace_state.get("ot"), Some("zz:1"));
        assert_eq!(out.trace_state.get("v"), Some("1"));
    }

    #[test]
    fn malformed_parent_threshold_is_erased() {
        let s = ParentBased::new(Sampler::AlwaysOff);
        let all_ones = (1 << 56) - 1;
        // Upper-case hex, 15 digits, empty, not hex: none is a threshold, so none is passed on.
        for th in ["C", "123456789012345", "", "xyz"] {
            let cx = parent(true, true, &format!("ot=th:{th};zz:1,v=1"), all_ones);
            let out = run(&s, Some(&cx), all_ones);
            assert_eq!(out.decision, SamplingDecision::RecordAndSample, "{th:?}");
            assert_eq!(out.trace_state.header(), "ot=zz:1,v=1", "{th:?}");

            // With nothing else in `ot`, the member goes.
            let cx = parent(false, true, &format!("ot=th:{th},v=1"), all_ones);
            let out = run(&s, Some(&cx), all_ones);
            assert_eq!(out.trace_state.header(), "v=1", "{th:?}");
        }
        // Without a `th` member the tracestate passes through untouched.
        let cx = parent(true, true, "ot=zz:1,v=1", 0);
        assert_eq!(run(&s, Some(&cx), 0).trace_state.header(), "ot=zz:1,v=1");
    }

    #[test]
    fn each_branch_is_configurable() {
        let s = ParentBased::new(Sampler::AlwaysOff)
            .with_remote_parent_sampled(Sampler::AlwaysOff)
            .with_remote_parent_not_sampled(Sampler::AlwaysOn)
            .with_local_parent_sampled(Sampler::AlwaysOff)
            .with_local_parent_not_sampled(Sampler::AlwaysOn);
        for remote in [true, false] {
            for sampled in [true, false] {
                let cx = parent(remote, sampled, "", 5);
                let expected = if sampled {
                    SamplingDecision::Drop
                } else {
                    SamplingDecision::RecordAndSample
                };
                assert_eq!(
                    run(&s, Some(&cx), 5).decision,
                    expected,
                    "{remote} {sampled}"
                );
            }
        }
        let clone = s.clone();
        assert!(Arc::ptr_eq(&clone.root, &s.root));
    }

    #[test]
    fn a_dropped_child_of_an_unsampled_parent_carries_no_threshold() {
        let cx = parent(true, false, "ot=th:8;rv:00000000000001,vendor=x", 1);
        let sampler = ParentBased::new(Sampler::AlwaysOff);
        let result = sampler.should_sample(
            Some(&cx),
            TraceId::from(1u128),
            "child",
            &SpanKind::Internal,
            &[],
            &[],
        );
        assert_eq!(result.decision, SamplingDecision::Drop);
        let header = result.trace_state.header();
        assert!(!header.contains("th:"), "{header}");
        assert!(header.contains("rv:00000000000001"), "{header}");
        assert!(header.contains("vendor=x"), "{header}");
    }
}
