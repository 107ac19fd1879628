//! The allow-list, rule and observed samplers composed with each other, with the SDK's samplers
//! and with a tracer provider, as applications use them.

use std::sync::Barrier;

use hivetrace_sampling::allow_list::{AllowList, AllowListSampler};
use hivetrace_sampling::observed::{Branching, DecisionCounts, ObservedSampler};
use hivetrace_sampling::rules::{
    Comparison, EVENT_TYPE_ATTRIBUTE, EventType, Predicate, RuleSampler,
};
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, Tracer, TracerProvider as _};
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::trace::{
    Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
};
use proptest::prelude::*;

fn decide(sampler: &impl ShouldSample, name: &str, attributes: &[KeyValue]) -> SamplingDecision {
    sampler
        .should_sample(
            None,
            TraceId::from(0x5eed_u128),
            name,
            &SpanKind::Internal,
            attributes,
            &[],
        )
        .decision
}

fn user(id: &str) -> [KeyValue; 1] {
    [KeyValue::new("user.id", id.to_owned())]
}

fn event(event_type: &str) -> [KeyValue; 1] {
    [KeyValue::new(EVENT_TYPE_ATTRIBUTE, event_type.to_owned())]
}

const KEEP: SamplingDecision = SamplingDecision::RecordAndSample;
const DROP: SamplingDecision = SamplingDecision::Drop;

/// Records every span, exports none: tells a rule's own sampler apart from `AlwaysOn`.
#[derive(Clone, Debug)]
struct RecordOnly;

impl ShouldSample for RecordOnly {
    fn should_sample(
        &self,
        _: Option<&Context>,
        _: TraceId,
        _: &str,
        _: &SpanKind,
        _: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: SamplingDecision::RecordOnly,
            attributes: Vec::new(),
            trace_state: Default::default(),
        }
    }
}

#[test]
fn allow_list_hits_and_misses() {
    let beta = AllowList::new(["u-1", "u-2"]);
    let sampler = AllowListSampler::new(beta, Sampler::AlwaysOff);
    assert_eq!(decide(&sampler, "chat", &user("u-1")), KEEP);
    assert_eq!(decide(&sampler, "chat", &user("u-2")), KEEP);
    assert_eq!(decide(&sampler, "chat", &user("u-3")), DROP);
    assert_eq!(decide(&sampler, "chat", &user("")), DROP);
    assert_eq!(decide(&sampler, "chat", &[]), DROP);
    // The inner sampler decides misses: here it keeps them.
    let lenient = AllowListSampler::new(AllowList::default(), Sampler::AlwaysOn);
    assert_eq!(decide(&lenient, "chat", &user("anyone")), KEEP);
}

#[test]
fn allow_list_updates_are_seen_by_decisions_on_other_threads() {
    let beta = AllowList::new(["u-1"]);
    let sampler = AllowListSampler::new(beta.clone(), Sampler::AlwaysOff);
    let updated = Barrier::new(2);
    let checked = Barrier::new(2);
    std::thread::scope(|s| {
        s.spawn(|| {
            assert_eq!(decide(&sampler, "chat", &user("u-2")), DROP);
            checked.wait();
            updated.wait();
            assert_eq!(decide(&sampler, "chat", &user("u-2")), KEEP);
            assert_eq!(decide(&sampler, "chat", &user("u-1")), DROP);
            checked.wait();
            updated.wait();
            assert_eq!(decide(&sampler, "chat", &user("u-2")), DROP);
            assert_eq!(decide(&sampler, "chat", &user("u-9")), KEEP);
        });
        s.spawn(|| {
            checked.wait();
            assert!(beta.insert("u-2"));
            assert!(beta.remove("u-1"));
            updated.wait();
            checked.wait();
            beta.replace(["u-9"]);
            updated.wait();
        });
    });
}

#[test]
fn allow_list_stays_consistent_under_concurrent_updates() {
    let list = AllowList::default();
    let sampler = AllowListSampler::new(list.clone(), Sampler::AlwaysOff);
    std::thread::scope(|s| {
        for writer in 0..4 {
            let list = &list;
            s.spawn(move || {
                for i in 0..200 {
                    list.insert(format!("w{writer}-{i}"));
                }
            });
        }
        s.spawn(|| {
            for _ in 0..2_000 {
                // Never panics or blocks while the set is swapped underneath.
                let _ = decide(&sampler, "chat", &user("w0-0"));
            }
        });
    });
    // No insert was lost to a concurrent one.
    assert_eq!(list.len(), 800);
    assert_eq!(decide(&sampler, "chat", &user("w3-199")), KEEP);
}

#[test]
fn rules_first_match_wins_and_the_default_decides_the_rest() {
    let sampler = RuleSampler::builder(RecordOnly)
        .rule(
            "admins",
            Predicate::attribute_equals("role", "admin"),
            Sampler::AlwaysOn,
        )
        .rule(
            "staff",
            Predicate::attribute_exists("role"),
            Sampler::AlwaysOff,
        )
        .build()
        .expect("valid rules");
    let role = |r: &str| [KeyValue::new("role", r.to_owned())];
    assert_eq!(sampler.matching_rule("x", &role("admin")), Some(0));
    assert_eq!(decide(&sampler, "x", &role("admin")), KEEP);
    assert_eq!(sampler.matching_rule("x", &role("ops")), Some(1));
    assert_eq!(decide(&sampler, "x", &role("ops")), DROP);
    assert_eq!(sampler.matching_rule("x", &[]), None);
    assert_eq!(decide(&sampler, "x", &[]), SamplingDecision::RecordOnly);

    // The same rules in the other order: the broader one now shadows the narrower.
    let reversed = RuleSampler::builder(RecordOnly)
        .rule(
            "staff",
            Predicate::attribute_exists("role"),
            Sampler::AlwaysOff,
        )
        .rule(
            "admins",
            Predicate::attribute_equals("role", "admin"),
            Sampler::AlwaysOn,
        )
        .build()
        .expect("valid rules");
    assert_eq!(decide(&reversed, "x", &role("admin")), DROP);
}

#[test]
fn rules_without_rules_use_the_default() {
    let sampler = RuleSampler::builder(Sampler::AlwaysOn)
        .build()
        .expect("valid rules");
    assert!(sampler.is_empty());
    assert_eq!(decide(&sampler, "anything", &user("u")), KEEP);
    assert_eq!(sampler.branch_names(), ["default"]);
}

/// One rule per predicate kind, each deciding `RecordAndSample`, and a dropping default: a span
/// is kept iff some predicate matched it.
fn every_kind_of_rule() -> RuleSampler {
    RuleSampler::builder(Sampler::AlwaysOff)
        .rule("exact", Predicate::name_exact("login"), Sampler::AlwaysOn)
        .rule(
            "prefix",
            Predicate::name_prefix("GET /api/"),
            Sampler::AlwaysOn,
        )
        .rule(
            "suffix",
            Predicate::name_suffix(".completions"),
            Sampler::AlwaysOn,
        )
        .rule("glob", Predicate::name("db.*.query*"), Sampler::AlwaysOn)
        .rule(
            "exists",
            Predicate::attribute_exists("error.type"),
            Sampler::AlwaysOn,
        )
        .rule(
            "equals",
            Predicate::attribute_equals("tenant", "acme"),
            Sampler::AlwaysOn,
        )
        .rule(
            "one-of",
            Predicate::attribute_one_of("region", ["eu-west-1", "eu-central-1"]),
            Sampler::AlwaysOn,
        )
        .rule(
            "compare",
            Predicate::attribute_compare("latency_ms", Comparison::Ge, 2_000.0),
            Sampler::AlwaysOn,
        )
        .rule(
            "event",
            Predicate::event_type(EventType::Tool),
            Sampler::AlwaysOn,
        )
        .rule(
            "all-of",
            Predicate::event_type(EventType::Model)
                .and(Predicate::attribute_equals("stream", true))
                .and(Predicate::name("chat *")),
            Sampler::AlwaysOn,
        )
        .build()
        .expect("valid rules")
}

#[test]
fn each_predicate_kind_selects_its_rule() {
    let sampler = every_kind_of_rule();
    let kv = |k: &'static str, v: Value| KeyValue::new(k, v);
    let model_stream = [
        kv("stream", Value::Bool(true)),
        kv(EVENT_TYPE_ATTRIBUTE, "model".into()),
    ];
    let cases: Vec<(&str, Vec<KeyValue>, Option<usize>)> = vec![
        ("login", vec![], Some(0)),
        ("login2", vec![], None),
        ("GET /api/items", vec![], Some(1)),
        ("GET /apix", vec![], None),
        ("chat.completions", vec![], Some(2)),
        ("db.users.query", vec![], Some(3)),
        ("db.users.query.slow", vec![], Some(3)),
        ("db.query", vec![], None),
        ("x", vec![kv("error.type", Value::Bool(false))], Some(4)),
        ("x", vec![kv("tenant", "acme".into())], Some(5)),
        ("x", vec![kv("tenant", "acme2".into())], None),
        ("x", vec![kv("region", "eu-central-1".into())], Some(6)),
        ("x", vec![kv("region", "us-east-1".into())], None),
        ("x", vec![kv("latency_ms", Value::I64(2_000))], Some(7)),
        ("x", vec![kv("latency_ms", Value::F64(1_999.9))], None),
        ("x", event("tool").to_vec(), Some(8)),
        ("x", event("chain").to_vec(), None),
        ("chat gpt-4o", model_stream.to_vec(), Some(9)),
        ("chat gpt-4o", event("model").to_vec(), None),
        ("embed", model_stream.to_vec(), None),
    ];
    for (name, attributes, want) in cases {
        assert_eq!(
            sampler.matching_rule(name, &attributes),
            want,
            "{name} {attributes:?}"
        );
        let decision = decide(&sampler, name, &attributes);
        assert_eq!(decision == KEEP, want.is_some(), "{name} {attributes:?}");
    }
}

#[test]
fn rules_compose_with_allow_lists_and_are_observed_per_rule() {
    let beta = AllowList::new(["u-beta"]);
    let rules = RuleSampler::builder(Sampler::AlwaysOff)
        .rule(
            "models",
            Predicate::event_type(EventType::Model),
            Sampler::AlwaysOn,
        )
        .rule(
            "beta users",
            Predicate::attribute_exists("user.id"),
            AllowListSampler::new(beta.clone(), RecordOnly),
        )
        .build()
        .expect("valid rules");
    let observed = ObservedSampler::per_branch(rules);
    let sequence: Vec<(&str, Vec<KeyValue>)> = vec![
        ("chat", event("model").to_vec()),
        ("chat", event("model").to_vec()),
        ("answer", user("u-beta").to_vec()),
        ("answer", user("u-other").to_vec()),
        ("answer", user("u-other").to_vec()),
        ("search", event("tool").to_vec()),
    ];
    for (name, attributes) in &sequence {
        let _ = decide(&observed, name, attributes);
    }
    beta.insert("u-other");
    let _ = decide(&observed, "answer", &user("u-other"));

    let snapshot = observed.snapshot();
    let names: Vec<&str> = snapshot.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["models", "beta users", "default"]);
    let counts = |name: &str| *snapshot.rule(name).expect("a rule of that name");
    let models: DecisionCounts = counts("models");
    assert_eq!((models.total, models.sampled), (2, 2));
    let beta_users = counts("beta users");
    assert_eq!(
        (
            beta_users.total,
            beta_users.sampled,
            beta_users.record_only,
            beta_users.dropped
        ),
        (4, 2, 2, 0)
    );
    let default = counts("default");
    assert_eq!((default.total, default.dropped), (1, 1));
    assert_eq!(snapshot.decisions.total, 7);
    assert_eq!(snapshot.decisions.sampled, 4);
    assert_eq!(snapshot.decisions.record_only, 2);
    assert_eq!(snapshot.decisions.dropped, 1);
    assert!((snapshot.effective_rate() - 4.0 / 7.0).abs() < 1e-12);
}

#[test]
fn observed_counts_are_exact_under_concurrency() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 5_000;
    let rules = RuleSampler::builder(Sampler::AlwaysOff)
        .rule("keep", Predicate::name_prefix("keep"), Sampler::AlwaysOn)
        .rule("record", Predicate::name_prefix("record"), RecordOnly)
        .build()
        .expect("valid rules");
    let observed = ObservedSampler::per_branch(rules);
    std::thread::scope(|s| {
        for thread in 0..THREADS {
            // Each thread decides through its own clone, as tracer threads do.
            let observed = observed.clone();
            s.spawn(move || {
                for i in 0..PER_THREAD {
                    let name = match (i + thread) % 3 {
                        0 => "keep",
                        1 => "record",
                        _ => "drop",
                    };
                    let _ = decide(&observed, name, &[]);
                }
            });
        }
    });
    let snapshot = observed.snapshot();
    // Over all threads, (i + thread) % 3 takes each value this many times.
    let expected = |residue: u64| -> u64 {
        (0..THREADS)
            .map(|t| (0..PER_THREAD).filter(|i| (i + t) % 3 == residue).count() as u64)
            .sum()
    };
    assert_eq!(snapshot.decisions.total, THREADS * PER_THREAD);
    assert_eq!(snapshot.decisions.sampled, expected(0));
    assert_eq!(snapshot.decisions.record_only, expected(1));
    assert_eq!(snapshot.decisions.dropped, expected(2));
    assert_eq!(snapshot.rule("keep").map(|c| c.total), Some(expected(0)));
    assert_eq!(snapshot.rule("record").map(|c| c.total), Some(expected(1)));
    assert_eq!(snapshot.rule("default").map(|c| c.total), Some(expected(2)));
}

#[test]
fn a_tracer_provider_applies_the_decisions() {
    let rules = RuleSampler::builder(Sampler::AlwaysOff)
        .rule(
            "models",
            Predicate::event_type(EventType::Model),
            Sampler::AlwaysOn,
        )
        .build()
        .expect("valid rules");
    let observed = ObservedSampler::per_branch(rules);
    let provider = SdkTracerProvider::builder()
        .with_sampler(observed.clone())
        .build();
    let tracer = provider.tracer("composition");
    let start = |event_type: &'static str| {
        tracer
            .span_builder("span")
            .with_attributes([KeyValue::new(EVENT_TYPE_ATTRIBUTE, event_type)])
            .start(&tracer)
    };
    let model = start("model");
    let tool = start("tool");
    assert!(opentelemetry::trace::Span::span_context(&model).is_sampled());
    assert!(!opentelemetry::trace::Span::span_context(&tool).is_sampled());
    let cx = Context::current_with_span(model);
    assert!(cx.span().is_recording());
    drop((cx, tool));
    let snapshot = observed.snapshot();
    assert_eq!(snapshot.rule("models").map(|c| c.sampled), Some(1));
    assert_eq!(snapshot.rule("default").map(|c| c.dropped), Some(1));
    provider.shutdown().expect("shutdown");
}

fn any_value() -> impl Strategy<Value = Value> {
    let scalar = prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::I64),
        any::<f64>().prop_map(Value::F64),
        Just(Value::F64(f64::NAN)),
        Just(Value::F64(f64::INFINITY)),
        ".{0,12}".prop_map(Value::from),
    ];
    let array = prop_oneof![
        prop::collection::vec(any::<bool>(), 0..4).prop_map(|v| Value::Array(Array::Bool(v))),
        prop::collection::vec(any::<i64>(), 0..4).prop_map(|v| Value::Array(Array::I64(v))),
        prop::collection::vec(any::<f64>(), 0..4).prop_map(|v| Value::Array(Array::F64(v))),
        prop::collection::vec(".{0,6}", 0..4).prop_map(|v| {
            Value::Array(Array::String(
                v.into_iter().map(StringValue::from).collect(),
            ))
        }),
    ];
    prop_oneof![3 => scalar, 1 => array]
}

/// Keys the rules read, and others.
fn any_key() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "error.type",
        "tenant",
        "region",
        "latency_ms",
        "stream",
        "user.id",
        EVENT_TYPE_ATTRIBUTE,
        "other",
    ])
}

proptest! {
    #[test]
    fn predicates_never_panic_on_odd_attributes(
        name in ".{0,24}",
        attributes in prop::collection::vec((any_key(), any_value()), 0..8),
        pattern in "[a-z*é.]{0,10}",
    ) {
        let attributes: Vec<KeyValue> = attributes
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let rules = every_kind_of_rule();
        let observed = ObservedSampler::per_branch(rules.clone());
        let decision = decide(&observed, &name, &attributes);
        prop_assert_eq!(decision == KEEP, rules.matching_rule(&name, &attributes).is_some());
        let allow = AllowListSampler::new(AllowList::new(["1", "true", "acme"]), Sampler::AlwaysOff)
            .attribute("tenant");
        let _ = decide(&allow, &name, &attributes);
        let glob = Predicate::name(&pattern);
        let _ = glob.matches(&name, &attributes);
        let one_of = Predicate::attribute_one_of("tenant", [&pattern]);
        let _ = one_of.matches(&name, &attributes);
    }
}
