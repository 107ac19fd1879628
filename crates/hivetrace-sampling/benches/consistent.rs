//! Decision cost of the OTEP 235 samplers against the SDK's `TraceIdRatioBased`, in the same run.
//!
//! Each iteration decides one span for the next of 1,024 fixed pseudo-random trace ids, so kept
//! and dropped spans mix at the configured rate (10%) as in production.
//!
//! - `baseline/trace_id_ratio`: `Sampler::TraceIdRatioBased(0.1)`, root span.
//! - `consistent/root`: `ConsistentProbabilitySampler::new(0.1)`, root span.
//! - `consistent/kept`, `consistent/dropped`: every decision kept (allocates the `ot=th:..`
//!   tracestate) or dropped (no allocation).
//! - `keyed/root`: `KeyedSampler::new(0.1)` with a `session.id` among five attributes.
//! - `parent_based/root`: `ParentBased::new(consistent)`, root span.
//! - `floor/trace_state_one_member`: cloning (and dropping) the one-member tracestate
//!   `ot=th:e666`. `TraceState` holds a `VecDeque` of `String` pairs, so any kept decision that
//!   writes `th` pays these three allocations; this is the part of `consistent/kept` no sampler
//!   written against the SDK's type can avoid. (Building it with `TraceState::from_key_value`
//!   also validates it; the consistent sampler clones one it built once.)
//! - `parent_based/sampled_parent` and `baseline/sdk_parent_based_sampled_parent`: a sampled
//!   local parent carrying `ot=th:e666` and another vendor's member.
//!
//! Run with `cargo bench -p hivetrace-sampling --bench consistent`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_sampling::consistent::ConsistentProbabilitySampler;
use hivetrace_sampling::keyed::KeyedSampler;
use hivetrace_sampling::parent::ParentBased;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, ShouldSample};

const PROBABILITY: f64 = 0.1;

/// 1,024 trace ids from SplitMix64 with a fixed seed.
fn trace_ids() -> Vec<TraceId> {
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (0..1024)
        .map(|_| TraceId::from((u128::from(next()) << 64) | u128::from(next())))
        .collect()
}

fn attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("gen_ai.system", "openai"),
        KeyValue::new("gen_ai.request.model", "gpt-4o-mini"),
        KeyValue::new("user.id", "user-42"),
        KeyValue::new("session.id", "session-0d6f3c1e"),
        KeyValue::new("prompt_tokens", 812),
    ]
}

fn bench_decision(
    c: &mut Criterion,
    id: &str,
    sampler: &dyn ShouldSample,
    parent: Option<&Context>,
    ids: &[TraceId],
    attrs: &[KeyValue],
) {
    let mut i = 0usize;
    c.bench_function(id, |b| {
        b.iter(|| {
            i = (i + 1) & (ids.len() - 1);
            black_box(sampler.should_sample(
                black_box(parent),
                black_box(ids[i]),
                "chat gpt-4o-mini",
                &SpanKind::Client,
                black_box(attrs),
                &[],
            ))
        })
    });
}

fn decisions(c: &mut Criterion) {
    let ids = trace_ids();
    let attrs = attributes();
    let consistent = match ConsistentProbabilitySampler::new(PROBABILITY) {
        Ok(sampler) => sampler,
        Err(e) => panic!("{e}"),
    };
    let keyed = match KeyedSampler::new(PROBABILITY) {
        Ok(sampler) => sampler,
        Err(e) => panic!("{e}"),
    };
    let parent_based = ParentBased::new(consistent.clone());
    let sdk_ratio = Sampler::TraceIdRatioBased(PROBABILITY);
    let sdk_parent_based = Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(PROBABILITY)));

    let all_ones = [TraceId::from(u128::MAX); 1024];
    let all_zero = [TraceId::from(0u128); 1024];

    let parent_state = match "ot=th:e666,congo=t61rcWkgMzE".parse() {
        Ok(state) => state,
        Err(e) => panic!("{e}"),
    };
    let parent = Context::new().with_remote_span_context(SpanContext::new(
        TraceId::from(u128::MAX),
        SpanId::from(1u64),
        TraceFlags::SAMPLED,
        false,
        parent_state,
    ));

    bench_decision(c, "baseline/trace_id_ratio", &sdk_ratio, None, &ids, &attrs);
    let one_member = match TraceState::from_key_value([("ot", "th:e666")]) {
        Ok(state) => state,
        Err(e) => panic!("{e}"),
    };
    c.bench_function("floor/trace_state_one_member", |b| {
        b.iter(|| black_box(black_box(&one_member).clone()))
    });
    bench_decision(c, "consistent/root", &consistent, None, &ids, &attrs);
    bench_decision(c, "consistent/kept", &consistent, None, &all_ones, &attrs);
    bench_decision(
        c,
        "consistent/dropped",
        &consistent,
        None,
        &all_zero,
        &attrs,
    );
    bench_decision(c, "keyed/root", &keyed, None, &ids, &attrs);
    bench_decision(c, "parent_based/root", &parent_based, None, &ids, &attrs);
    bench_decision(
        c,
        "parent_based/sampled_parent",
        &parent_based,
        Some(&parent),
        &ids,
        &attrs,
    );
    bench_decision(
        c,
        "baseline/sdk_parent_based_sampled_parent",
        &sdk_parent_based,
        Some(&parent),
        &ids,
        &attrs,
    );
}

criterion_group!(benches, decisions);
criterion_main!(benches);
