//! Decision cost of the allow-list, rule and observed samplers, against the SDK's
//! `TraceIdRatioBased` in the same run.
//!
//! Every case decides a root span carrying what a hivetrace model call carries at start: a user
//! id, a model name, the event type, and two more attributes.
//!
//! - `baseline/trace_id_ratio`: `Sampler::TraceIdRatioBased(0.1)`.
//! - `allow_list/{hit,miss}`: a 1,000-entry list; a miss goes on to the ratio sampler.
//! - `rules/{first,default}`: three rules (name glob, attribute one-of, event type and a numeric
//!   comparison), matching the first or none (all three evaluated, then the ratio sampler).
//! - `observed/rules_default`: the same three rules counted per rule.
//!
//! Run with `cargo bench -p hivetrace-sampling --bench rules`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_sampling::allow_list::{AllowList, AllowListSampler};
use hivetrace_sampling::observed::ObservedSampler;
use hivetrace_sampling::rules::{Comparison, EventType, Predicate, RuleSampler};
use opentelemetry::KeyValue;
use opentelemetry::trace::{SpanKind, TraceId};
use opentelemetry_sdk::trace::{Sampler, ShouldSample};

fn attributes(user: &str, event_type: &'static str) -> Vec<KeyValue> {
    vec![
        KeyValue::new("user.id", user.to_owned()),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        KeyValue::new("gen_ai.system", "openai"),
        KeyValue::new("prompt_tokens", 812),
        KeyValue::new("honeyhive_event_type", event_type),
    ]
}

fn bench_decision(
    c: &mut Criterion,
    id: &str,
    sampler: &dyn ShouldSample,
    name: &str,
    attrs: &[KeyValue],
) {
    let trace_id = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128);
    c.bench_function(id, |b| {
        b.iter(|| {
            black_box(sampler.should_sample(
                None,
                black_box(trace_id),
                black_box(name),
                &SpanKind::Internal,
                black_box(attrs),
                &[],
            ))
        })
    });
}

fn three_rules() -> RuleSampler {
    RuleSampler::builder(Sampler::TraceIdRatioBased(0.1))
        .rule(
            "health",
            Predicate::name("GET /health*"),
            Sampler::AlwaysOff,
        )
        .rule(
            "expensive models",
            Predicate::attribute_one_of("gen_ai.request.model", ["gpt-4o", "claude-opus-4", "o3"]),
            Sampler::AlwaysOn,
        )
        .rule(
            "long tool calls",
            Predicate::event_type(EventType::Tool).and(Predicate::attribute_compare(
                "prompt_tokens",
                Comparison::Ge,
                4_000.0,
            )),
            Sampler::AlwaysOn,
        )
        .build()
        .expect("valid rules")
}

fn decisions(c: &mut Criterion) {
    let model_call = attributes("u-4821", "model");

    bench_decision(
        c,
        "baseline/trace_id_ratio",
        &Sampler::TraceIdRatioBased(0.1),
        "chat",
        &model_call,
    );

    let list = AllowList::new((0..1_000).map(|i| format!("u-{i}")));
    let allow = AllowListSampler::new(list, Sampler::TraceIdRatioBased(0.1));
    bench_decision(
        c,
        "allow_list/hit",
        &allow,
        "chat",
        &attributes("u-421", "model"),
    );
    bench_decision(c, "allow_list/miss", &allow, "chat", &model_call);

    let rules = three_rules();
    bench_decision(c, "rules/first", &rules, "GET /healthz", &model_call);
    bench_decision(c, "rules/default", &rules, "chat", &model_call);

    let observed = ObservedSampler::per_branch(rules);
    bench_decision(c, "observed/rules_default", &observed, "chat", &model_call);
}

criterion_group!(benches, decisions);
criterion_main!(benches);
