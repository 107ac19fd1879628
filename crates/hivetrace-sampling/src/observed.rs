//! Counting a sampler's decisions, in total and per rule, to see what sampling really keeps.
//!
//! [`ObservedSampler`] wraps any sampler and counts its decisions with relaxed atomics (one
//! increment per decision, on its own cache line); [`ObservedSampler::snapshot`] reads them as a
//! plain [`SamplerSnapshot`]. Wrapping a sampler that reports which branch decided
//! ([`Branching`]: [`RuleSampler`](crate::rules::RuleSampler),
//! [`AllowListSampler`](crate::allow_list::AllowListSampler)) with
//! [`ObservedSampler::per_branch`] also counts per rule.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};

/// A sampler whose decisions each come from one of a fixed set of named branches (rules), so
/// [`ObservedSampler::per_branch`] can count them separately.
///
/// ```
/// use hivetrace_sampling::observed::Branching;
/// use hivetrace_sampling::rules::{Predicate, RuleSampler};
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry_sdk::trace::Sampler;
///
/// # fn main() -> hivetrace_sampling::Result<()> {
/// let sampler = RuleSampler::builder(Sampler::AlwaysOff)
///     .rule("health", Predicate::name("GET /health*"), Sampler::AlwaysOff)
///     .build()?;
/// assert_eq!(sampler.branch_names(), ["health", "default"]);
/// let (branch, _) = sampler.should_sample_branch(
///     None, TraceId::from(1u128), "GET /healthz", &SpanKind::Server, &[], &[],
/// );
/// assert_eq!(branch, 0);
/// # Ok(()) }
/// ```
pub trait Branching: ShouldSample {
    /// The branches' names, in index order. Called once, when an observer is built.
    fn branch_names(&self) -> Vec<String>;

    /// Decides like [`ShouldSample::should_sample`] and says which branch decided: an index
    /// into [`branch_names`](Self::branch_names).
    #[allow(
        clippy::too_many_arguments,
        reason = "mirrors ShouldSample::should_sample"
    )]
    fn should_sample_branch(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> (usize, SamplingResult);
}

/// How many decisions went which way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecisionCounts {
    /// Every decision: `sampled + record_only + dropped`.
    pub total: u64,
    /// `RecordAndSample`: recorded and exported.
    pub sampled: u64,
    /// `RecordOnly`: recorded, not exported.
    pub record_only: u64,
    /// `Drop`: not recorded.
    pub dropped: u64,
}

impl DecisionCounts {
    /// The share of decisions that sampled, from 0 to 1; 0 before any decision.
    pub fn effective_rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sampled as f64 / self.total as f64
        }
    }

    fn add(self, other: DecisionCounts) -> DecisionCounts {
        DecisionCounts {
            total: self.total + other.total,
            sampled: self.sampled + other.sampled,
            record_only: self.record_only + other.record_only,
            dropped: self.dropped + other.dropped,
        }
    }
}

/// One branch's (rule's) counts in a [`SamplerSnapshot`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RuleCounts {
    /// The branch's name, from [`Branching::branch_names`].
    pub name: String,
    /// Its decisions.
    pub decisions: DecisionCounts,
}

/// An [`ObservedSampler`]'s counts at one moment.
///
/// Each counter is exact; read while other threads decide, the counters may be from slightly
/// different moments, but `decisions` is always the sum of `rules` when there are rules.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SamplerSnapshot {
    /// Every decision.
    pub decisions: DecisionCounts,
    /// Per branch, in the sampler's order; empty unless built with
    /// [`ObservedSampler::per_branch`].
    pub rules: Vec<RuleCounts>,
}

impl SamplerSnapshot {
    /// The share of decisions that sampled, from 0 to 1; 0 before any decision.
    pub fn effective_rate(&self) -> f64 {
        self.decisions.effective_rate()
    }

    /// The counts of the branch named `name`.
    pub fn rule(&self, name: &str) -> Option<&DecisionCounts> {
        self.rules
            .iter()
            .find(|r| r.name == name)
            .map(|r| &r.decisions)
    }
}

/// A counter alone on its cache line (two, for adjacent-line prefetchers), so threads bumping
/// different counters do not slow each other.
#[derive(Debug, Default)]
#[repr(align(128))]
struct Padded(AtomicU64);

/// One branch's live counters. `total` is derived, so a decision bumps one counter.
#[derive(Debug, Default)]
struct BranchCounters {
    sampled: Padded,
    record_only: Padded,
    dropped: Padded,
}

impl BranchCounters {
    fn record(&self, decision: &SamplingDecision) {
        let counter = match decision {
            SamplingDecision::RecordAndSample => &self.sampled,
            SamplingDecision::RecordOnly => &self.record_only,
            SamplingDecision::Drop => &self.dropped,
        };
        counter.0.fetch_add(1, Ordering::Relaxed);
    }

    fn read(&self) -> DecisionCounts {
        let sampled = self.sampled.0.load(Ordering::Relaxed);
        let record_only = self.record_only.0.load(Ordering::Relaxed);
        let dropped = self.dropped.0.load(Ordering::Relaxed);
        DecisionCounts {
            total: sampled + record_only + dropped,
            sampled,
            record_only,
            dropped,
        }
    }
}

#[derive(Debug)]
struct Counters {
    /// Empty when not counting per branch: every decision goes to `branches[0]`.
    names: Box<[String]>,
    branches: Box<[BranchCounters]>,
}

impl Counters {
    /// Counts a decision of `branch`: in its own slot when counting per branch, else in
    /// slot 0. An index out of range (a faulty `Branching`) is counted in the last slot
    /// rather than lost or panicking.
    #[inline]
    fn record(&self, branch: usize, decision: &SamplingDecision) {
        let slot = if self.names.is_empty() { 0 } else { branch };
        if let Some(counters) = self.branches.get(slot).or_else(|| self.branches.last()) {
            counters.record(decision);
        }
    }
}

/// How the wrapped sampler is asked: plainly, or for its branch too.
type Decide<S> = fn(
    &S,
    Option<&Context>,
    TraceId,
    &str,
    &SpanKind,
    &[KeyValue],
    &[Link],
) -> (usize, SamplingResult);

/// Any sampler, with its decisions counted.
///
/// Decides exactly as the wrapped sampler does. Clones share the counters: give one clone to
/// the tracer and keep another to read [`snapshot`](Self::snapshot).
///
/// ```
/// use hivetrace_sampling::observed::ObservedSampler;
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry_sdk::trace::{Sampler, ShouldSample};
///
/// let observed = ObservedSampler::new(Sampler::TraceIdRatioBased(0.25));
/// let tracer_side = observed.clone();
/// for id in 1..=1000u128 {
///     let trace_id = TraceId::from(id.wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835));
///     tracer_side.should_sample(None, trace_id, "span", &SpanKind::Internal, &[], &[]);
/// }
/// let snapshot = observed.snapshot();
/// assert_eq!(snapshot.decisions.total, 1000);
/// assert_eq!(snapshot.decisions.sampled + snapshot.decisions.dropped, 1000);
/// assert!((0.15..0.35).contains(&snapshot.effective_rate()));
/// ```
pub struct ObservedSampler<S> {
    inner: S,
    counters: Arc<Counters>,
    decide: Decide<S>,
}

impl<S: ShouldSample + Clone + 'static> ObservedSampler<S> {
    /// Counts `inner`'s decisions in total.
    pub fn new(inner: S) -> Self {
        ObservedSampler {
            inner,
            counters: Arc::new(Counters {
                names: Box::default(),
                branches: Box::new([BranchCounters::default()]),
            }),
            decide: decide_plain::<S>,
        }
    }

    /// The wrapped sampler.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The counts so far.
    pub fn snapshot(&self) -> SamplerSnapshot {
        let counters = &self.counters;
        let rules: Vec<RuleCounts> = counters
            .names
            .iter()
            .zip(counters.branches.iter())
            .map(|(name, branch)| RuleCounts {
                name: name.clone(),
                decisions: branch.read(),
            })
            .collect();
        let decisions = if rules.is_empty() {
            counters
                .branches
                .first()
                .map(BranchCounters::read)
                .unwrap_or_default()
        } else {
            rules
                .iter()
                .fold(DecisionCounts::default(), |sum, r| sum.add(r.decisions))
        };
        SamplerSnapshot { decisions, rules }
    }

    /// The share of decisions so far that sampled, from 0 to 1; 0 before any decision.
    pub fn effective_rate(&self) -> f64 {
        self.snapshot().effective_rate()
    }
}

impl<S: Branching + Clone + 'static> ObservedSampler<S> {
    /// Counts `inner`'s decisions in total and per branch (per rule, for a
    /// [`RuleSampler`](crate::rules::RuleSampler)).
    ///
    /// ```
    /// use hivetrace_sampling::observed::ObservedSampler;
    /// use hivetrace_sampling::rules::{Predicate, RuleSampler};
    /// use opentelemetry::trace::{SpanKind, TraceId};
    /// use opentelemetry_sdk::trace::{Sampler, ShouldSample};
    ///
    /// # fn main() -> hivetrace_sampling::Result<()> {
    /// let rules = RuleSampler::builder(Sampler::AlwaysOn)
    ///     .rule("health", Predicate::name_prefix("GET /health"), Sampler::AlwaysOff)
    ///     .build()?;
    /// let observed = ObservedSampler::per_branch(rules);
    /// for name in ["GET /health", "POST /chat", "GET /healthz"] {
    ///     observed.should_sample(None, TraceId::from(1u128), name, &SpanKind::Server, &[], &[]);
    /// }
    /// let snapshot = observed.snapshot();
    /// assert_eq!(snapshot.rule("health").map(|c| c.dropped), Some(2));
    /// assert_eq!(snapshot.rule("default").map(|c| c.sampled), Some(1));
    /// assert_eq!(snapshot.decisions.total, 3);
    /// # Ok(()) }
    /// ```
    pub fn per_branch(inner: S) -> Self {
        let names: Box<[String]> = inner.branch_names().into_boxed_slice();
        // At least one slot, so a sampler reporting no branches still has somewhere to count.
        let branches = (0..names.len().max(1))
            .map(|_| BranchCounters::default())
            .collect();
        ObservedSampler {
            inner,
            counters: Arc::new(Counters { names, branches }),
            decide: decide_branch::<S>,
        }
    }
}

fn decide_plain<S: ShouldSample>(
    sampler: &S,
    parent_context: Option<&Context>,
    trace_id: TraceId,
    name: &str,
    span_kind: &SpanKind,
    attributes: &[KeyValue],
    links: &[Link],
) -> (usize, SamplingResult) {
    let result =
        sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links);
    (0, result)
}

fn decide_branch<S: Branching>(
    sampler: &S,
    parent_context: Option<&Context>,
    trace_id: TraceId,
    name: &str,
    span_kind: &SpanKind,
    attributes: &[KeyValue],
    links: &[Link],
) -> (usize, SamplingResult) {
    sampler.should_sample_branch(parent_context, trace_id, name, span_kind, attributes, links)
}

impl<S: Clone> Clone for ObservedSampler<S> {
    fn clone(&self) -> Self {
        ObservedSampler {
            inner: self.inner.clone(),
            counters: Arc::clone(&self.counters),
            decide: self.decide,
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for ObservedSampler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObservedSampler")
            .field("inner", &self.inner)
            .field("branches", &self.counters.names)
            .finish_non_exhaustive()
    }
}

impl<S: ShouldSample + Clone + 'static> ShouldSample for ObservedSampler<S> {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let (branch, result) = (self.decide)(
            &self.inner,
            parent_context,
            trace_id,
            name,
            span_kind,
            attributes,
            links,
        );
        self.counters.record(branch, &result.decision);
        result
    }
}

/// An observed sampler reports the branches of the sampler it wraps, so observers can nest.
impl<S: Branching + Clone + 'static> Branching for ObservedSampler<S> {
    fn branch_names(&self) -> Vec<String> {
        self.inner.branch_names()
    }

    fn should_sample_branch(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> (usize, SamplingResult) {
        let (branch, result) = self.inner.should_sample_branch(
            parent_context,
            trace_id,
            name,
            span_kind,
            attributes,
            links,
        );
        self.counters.record(branch, &result.decision);
        (branch, result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::Sampler;

    /// Decides from the span name: "s" samples, "r" records only, anything else drops.
    #[derive(Clone, Debug)]
    struct ByName;

    impl ShouldSample for ByName {
        fn should_sample(
            &self,
            _: Option<&Context>,
            _: TraceId,
            name: &str,
            _: &SpanKind,
            _: &[KeyValue],
            _: &[Link],
        ) -> SamplingResult {
            let decision = match name {
                "s" => SamplingDecision::RecordAndSample,
                "r" => SamplingDecision::RecordOnly,
                _ => SamplingDecision::Drop,
            };
            SamplingResult {
                decision,
                attributes: Vec::new(),
                trace_state: Default::default(),
            }
        }
    }

    fn run(sampler: &impl ShouldSample, names: &[&str]) {
        for name in names {
            sampler.should_sample(
                None,
                TraceId::from(3u128),
                name,
                &SpanKind::Internal,
                &[],
                &[],
            );
        }
    }

    #[test]
    fn counts_each_decision_kind() {
        let observed = ObservedSampler::new(ByName);
        run(&observed, &["s", "r", "d", "s", "s", "d"]);
        let snapshot = observed.snapshot();
        assert_eq!(
            snapshot.decisions,
            DecisionCounts {
                total: 6,
                sampled: 3,
                record_only: 1,
                dropped: 2
            }
        );
        assert!(snapshot.rules.is_empty());
        assert_eq!(snapshot.effective_rate(), 0.5);
    }

    #[test]
    fn rate_is_zero_before_any_decision() {
        let observed = ObservedSampler::new(Sampler::AlwaysOn);
        assert_eq!(observed.effective_rate(), 0.0);
        assert_eq!(observed.snapshot(), SamplerSnapshot::default());
    }

    #[test]
    fn decides_as_the_inner_sampler() {
        let observed = ObservedSampler::new(ByName);
        for name in ["s", "r", "x"] {
            let args = (
                None,
                TraceId::from(9u128),
                name,
                &SpanKind::Client,
                &[][..],
                &[][..],
            );
            let want = ByName.should_sample(args.0, args.1, args.2, args.3, args.4, args.5);
            let got = observed.should_sample(args.0, args.1, args.2, args.3, args.4, args.5);
            assert_eq!(got, want);
        }
    }

    #[test]
    fn nested_observers_count_the_same_branches() {
        let list = crate::allow_list::AllowList::new(["u"]);
        let inner = ObservedSampler::per_branch(crate::allow_list::AllowListSampler::new(
            list,
            Sampler::AlwaysOff,
        ));
        let outer = ObservedSampler::per_branch(inner.clone());
        let attributes = [KeyValue::new("user.id", "u")];
        outer.should_sample(
            None,
            TraceId::from(1u128),
            "x",
            &SpanKind::Internal,
            &attributes,
            &[],
        );
        outer.should_sample(
            None,
            TraceId::from(1u128),
            "x",
            &SpanKind::Internal,
            &[],
            &[],
        );
        for snapshot in [inner.snapshot(), outer.snapshot()] {
            assert_eq!(snapshot.rule("allow-list").map(|c| c.sampled), Some(1));
            assert_eq!(snapshot.rule("inner").map(|c| c.dropped), Some(1));
        }
    }
}
