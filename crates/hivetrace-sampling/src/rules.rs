//! Choosing a sampler per span by ordered rules on its name and start attributes.
//!
//! A [`RuleSampler`] holds rules, each a [`Predicate`] and a sampler, and a default sampler.
//! The first rule whose predicate matches decides; when none does, the default decides.
//! Predicates are compiled when the sampler is built (a glob becomes a prefix, suffix or
//! segment match), and evaluating them neither allocates nor locks.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use opentelemetry::trace::{Link, SpanKind, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingResult, ShouldSample};

use crate::observed::Branching;
use crate::{Error, Result};

pub use crate::predicate::{Comparison, EVENT_TYPE_ATTRIBUTE, EventType, Expected, Predicate};

/// The name [`RuleSampler`] gives the default branch in [`Branching::branch_names`].
pub const DEFAULT_RULE_NAME: &str = "default";

struct Rule {
    name: Box<str>,
    predicate: Predicate,
    sampler: Box<dyn ShouldSample>,
}

struct Rules {
    rules: Box<[Rule]>,
    default: Box<dyn ShouldSample>,
}

/// Decides each span with the sampler of the first rule that matches it, or the default.
///
/// Cheap to clone (one `Arc`). Rules see only what is known when the span starts: its name and
/// start attributes (in hivetrace, `event_type`, `fields(...)` on `#[trace]`, and
/// `SpanBuilder::attribute`). Each rule's sampler is any `ShouldSample`: the SDK's, this
/// crate's, or your own.
///
/// ```
/// use hivetrace_sampling::rules::{EventType, Predicate, RuleSampler};
/// use opentelemetry::trace::{SpanKind, TraceId};
/// use opentelemetry::KeyValue;
/// use opentelemetry_sdk::trace::{Sampler, SamplingDecision, ShouldSample};
///
/// # fn main() -> hivetrace_sampling::Result<()> {
/// let sampler = RuleSampler::builder(Sampler::TraceIdRatioBased(0.1))
///     .rule("health checks", Predicate::name("GET /health*"), Sampler::AlwaysOff)
///     .rule("errors", Predicate::attribute_exists("error.type"), Sampler::AlwaysOn)
///     .rule("models", Predicate::event_type(EventType::Model), Sampler::TraceIdRatioBased(0.5))
///     .build()?;
///
/// let model_call = [KeyValue::new("honeyhive_event_type", "model")];
/// assert_eq!(sampler.matching_rule("chat", &model_call), Some(2));
/// assert_eq!(sampler.matching_rule("GET /healthz", &model_call), Some(0));
/// assert_eq!(sampler.matching_rule("chat", &[]), None); // the default decides
///
/// let result = sampler.should_sample(
///     None, TraceId::from(1u128), "GET /health", &SpanKind::Server, &[], &[],
/// );
/// assert_eq!(result.decision, SamplingDecision::Drop);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RuleSampler {
    inner: Arc<Rules>,
}

impl RuleSampler {
    /// Starts a sampler whose `default` decides spans that match no rule.
    pub fn builder(default: impl ShouldSample + 'static) -> RuleSamplerBuilder {
        RuleSamplerBuilder {
            rules: Vec::new(),
            default: Box::new(default),
        }
    }

    /// The index of the first rule matching a span with this name and these start attributes;
    /// `None` when the default decides.
    pub fn matching_rule(&self, name: &str, attributes: &[KeyValue]) -> Option<usize> {
        self.inner
            .rules
            .iter()
            .position(|rule| rule.predicate.matches(name, attributes))
    }

    /// The rules' names, in order.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.inner.rules.iter().map(|rule| &*rule.name)
    }

    /// How many rules there are, the default not included.
    pub fn len(&self) -> usize {
        self.inner.rules.len()
    }

    /// Whether there are no rules (the default decides everything).
    pub fn is_empty(&self) -> bool {
        self.inner.rules.is_empty()
    }
}

impl fmt::Debug for RuleSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for rule in self.inner.rules.iter() {
            list.entry(&format_args!(
                "{}: {:?} => {:?}",
                rule.name, rule.predicate, rule.sampler
            ));
        }
        list.entry(&format_args!("default => {:?}", self.inner.default));
        list.finish()
    }
}

impl ShouldSample for RuleSampler {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        trace_id: TraceId,
        name: &str,
        span_kind: &SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        self.should_sample_branch(parent_context, trace_id, name, span_kind, attributes, links)
            .1
    }
}

/// Branch `i` is rule `i`; the last branch, named `"default"`, is the default sampler.
impl Branching for RuleSampler {
    fn branch_names(&self) -> Vec<String> {
        self.rule_names()
            .chain([DEFAULT_RULE_NAME])
            .map(str::to_owned)
            .collect()
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
        let rules = &self.inner.rules;
        let (branch, sampler) = match self.matching_rule(name, attributes) {
            Some(i) => match rules.get(i) {
                Some(rule) => (i, &rule.sampler),
                None => (rules.len(), &self.inner.default),
            },
            None => (rules.len(), &self.inner.default),
        };
        let result =
            sampler.should_sample(parent_context, trace_id, name, span_kind, attributes, links);
        (branch, result)
    }
}

/// Builds a [`RuleSampler`]; rules are tried in the order they are added.
///
/// ```
/// use hivetrace_sampling::rules::{Predicate, RuleSampler};
/// use opentelemetry_sdk::trace::Sampler;
///
/// let twice = RuleSampler::builder(Sampler::AlwaysOn)
///     .rule("chat", Predicate::name("chat*"), Sampler::AlwaysOn)
///     .rule("chat", Predicate::name("*chat"), Sampler::AlwaysOff)
///     .build();
/// let error = twice.expect_err("two rules named alike");
/// assert!(error.to_string().contains("chat"));
/// ```
pub struct RuleSamplerBuilder {
    rules: Vec<Rule>,
    default: Box<dyn ShouldSample>,
}

impl RuleSamplerBuilder {
    /// Adds a rule: spans matching `predicate` (and no earlier rule) are decided by `sampler`.
    /// `name` labels the rule in observations
    /// ([`ObservedSampler`](crate::observed::ObservedSampler)).
    pub fn rule(
        mut self,
        name: impl Into<String>,
        predicate: Predicate,
        sampler: impl ShouldSample + 'static,
    ) -> Self {
        self.rules.push(Rule {
            name: name.into().into_boxed_str(),
            predicate,
            sampler: Box::new(sampler),
        });
        self
    }

    /// Builds the sampler. Fails when two rules share a name, a rule is named `"default"`, or
    /// a predicate compares with NaN.
    pub fn build(self) -> Result<RuleSampler> {
        let mut names = HashSet::new();
        for rule in &self.rules {
            if &*rule.name == DEFAULT_RULE_NAME {
                return Err(Error::invalid(
                    "RuleSamplerBuilder::rule",
                    &rule.name,
                    "\"default\" names the default sampler; give the rule another name",
                ));
            }
            if !names.insert(&*rule.name) {
                return Err(Error::invalid(
                    "RuleSamplerBuilder::rule",
                    &rule.name,
                    "each rule needs its own name, so observations can tell them apart",
                ));
            }
            rule.predicate.validate()?;
        }
        Ok(RuleSampler {
            inner: Arc::new(Rules {
                rules: self.rules.into_boxed_slice(),
                default: self.default,
            }),
        })
    }
}

impl fmt::Debug for RuleSamplerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuleSamplerBuilder")
            .field(
                "rules",
                &self.rules.iter().map(|r| &*r.name).collect::<Vec<_>>(),
            )
            .field("default", &self.default)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::Sampler;

    #[test]
    fn build_rejects_duplicate_reserved_and_nan() {
        let dup = RuleSampler::builder(Sampler::AlwaysOn)
            .rule("a", Predicate::name("x"), Sampler::AlwaysOn)
            .rule("a", Predicate::name("y"), Sampler::AlwaysOn)
            .build();
        assert!(dup.is_err());
        let reserved = RuleSampler::builder(Sampler::AlwaysOn)
            .rule("default", Predicate::name("x"), Sampler::AlwaysOn)
            .build();
        assert!(reserved.is_err());
        let nan = RuleSampler::builder(Sampler::AlwaysOn)
            .rule(
                "n",
                Predicate::not(Predicate::attribute_compare("k", Comparison::Lt, f64::NAN)),
                Sampler::AlwaysOn,
            )
            .build();
        let Err(error) = nan else {
            panic!("a NaN threshold was accepted")
        };
        assert!(error.to_string().contains("NaN"), "{error}");
    }

    #[test]
    fn debug_names_rules() {
        let sampler = RuleSampler::builder(Sampler::AlwaysOff)
            .rule(
                "models",
                Predicate::event_type(EventType::Model),
                Sampler::AlwaysOn,
            )
            .build();
        let text = format!("{sampler:?}");
        assert!(
            text.contains("models") && text.contains("default"),
            "{text}"
        );
    }
}
