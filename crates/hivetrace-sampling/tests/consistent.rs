//! Behaviour of the OTEP 235 samplers: statistics, consistency, tracestate handling, keyed
//! decisions, parent-based composition through the SDK, and robustness on arbitrary input.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use hivetrace_sampling::consistent::ConsistentProbabilitySampler;
use hivetrace_sampling::keyed::KeyedSampler;
use hivetrace_sampling::parent::ParentBased;
use hivetrace_sampling::threshold::{
    MAX_PRECISION, MIN_PROBABILITY, OtTraceState, Randomness, Threshold,
};
use opentelemetry::trace::{
    Span as _, SpanContext, SpanId, SpanKind, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{
    IdGenerator, Sampler, SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample,
};
use proptest::prelude::*;

/// SplitMix64: a fixed-seed generator, so that every run sees the same trace ids.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn trace_id(&mut self) -> TraceId {
        TraceId::from((u128::from(self.next()) << 64) | u128::from(self.next()))
    }
}

fn trace_ids(seed: u64, n: usize) -> Vec<TraceId> {
    let mut rng = SplitMix64(seed);
    (0..n).map(|_| rng.trace_id()).collect()
}

fn decide(
    sampler: &dyn ShouldSample,
    parent: Option<&Context>,
    id: TraceId,
    attrs: &[KeyValue],
) -> SamplingResult {
    sampler.should_sample(parent, id, "span", &SpanKind::Internal, attrs, &[])
}

fn kept(sampler: &dyn ShouldSample, id: TraceId) -> bool {
    decide(sampler, None, id, &[]).decision == SamplingDecision::RecordAndSample
}

fn remote_parent(id: TraceId, sampled: bool, trace_state: TraceState) -> Context {
    let flags = if sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let sc = SpanContext::new(id, SpanId::from(9u64), flags, true, trace_state);
    Context::new().with_remote_span_context(sc)
}

fn assert_within_three_sigma(what: &str, kept: usize, n: usize, p: f64) {
    let n = n as f64;
    let sigma = (n * p * (1.0 - p)).sqrt();
    let deviation = (kept as f64 - n * p).abs();
    assert!(
        deviation <= 3.0 * sigma,
        "{what}: kept {kept} of {n} at p={p}, expected {} ± {}",
        n * p,
        3.0 * sigma
    );
}

const PROBABILITIES: [f64; 7] = [0.9, 0.5, 1.0 / 3.0, 0.25, 0.1, 0.01, 0.001];

#[test]
fn observed_rate_is_within_three_sigma_of_configured() {
    let ids = trace_ids(0x5eed, 200_000);
    for p in PROBABILITIES {
        let sampler = ConsistentProbabilitySampler::new(p).unwrap();
        let count = ids.iter().filter(|id| kept(&sampler, **id)).count();
        assert_within_three_sigma("consistent", count, ids.len(), p);
    }
}

#[test]
fn keyed_rate_over_distinct_keys_is_within_three_sigma() {
    let n = 100_000;
    for p in [0.5, 0.25, 0.1, 0.01] {
        let sampler = KeyedSampler::new(p).unwrap();
        let count = (0..n)
            .filter(|i| {
                let attrs = [KeyValue::new("session.id", format!("session-{i}"))];
                decide(&sampler, None, TraceId::from(7u128), &attrs).decision
                    == SamplingDecision::RecordAndSample
            })
            .count();
        assert_within_three_sigma("keyed", count, n, p);
    }
}

#[test]
fn samplers_agree_on_the_same_trace_at_the_same_probability() {
    for p in PROBABILITIES {
        let consistent = ConsistentProbabilitySampler::new(p).unwrap();
        let keyed_without_key = KeyedSampler::new(p).unwrap();
        let parent_based = ParentBased::new(consistent.clone());
        for id in trace_ids(11, 20_000) {
            let expected = kept(&consistent, id);
            assert_eq!(kept(&keyed_without_key, id), expected, "keyed p={p} {id}");
            assert_eq!(kept(&parent_based, id), expected, "parent p={p} {id}");
        }
    }
}

#[test]
fn sampled_set_at_lower_probability_is_a_subset_of_higher() {
    let ids = trace_ids(23, 50_000);
    let mut sorted = PROBABILITIES;
    sorted.sort_by(f64::total_cmp);
    let sets: Vec<Vec<bool>> = sorted
        .iter()
        .map(|p| {
            let s = ConsistentProbabilitySampler::new(*p).unwrap();
            ids.iter().map(|id| kept(&s, *id)).collect()
        })
        .collect();
    for pair in sets.windows(2) {
        for (lower, higher) in pair[0].iter().zip(&pair[1]) {
            assert!(
                !lower || *higher,
                "kept at a lower probability but not at a higher one"
            );
        }
    }
}

#[test]
fn specification_examples_round_trip_through_the_sampler() {
    // (probability, th written at the default precision of 4)
    let examples = [
        (1.0, "0"),
        (0.5, "8"),
        (0.25, "c"),
        (0.125, "e"),
        (0.0625, "f"),
        (1.0 / 3.0, "aaab"),
        (0.2, "cccd"),
        (0.1, "e666"),
        (0.01, "fd70a"),
        (0.001, "ffbe77"),
        (0.0001, "fff9724"),
        (0.00001, "ffff583a"),
        (0.000001, "ffffef39"),
    ];
    for (p, th) in examples {
        let sampler = ConsistentProbabilitySampler::new(p).unwrap();
        let always_kept = TraceId::from(u128::MAX);
        let out = decide(&sampler, None, always_kept, &[]);
        assert_eq!(out.decision, SamplingDecision::RecordAndSample);
        assert_eq!(out.trace_state.header(), format!("ot=th:{th}"));

        let parsed = OtTraceState::from_trace_state(&out.trace_state)
            .threshold()
            .unwrap();
        assert_eq!(Some(parsed), sampler.threshold());
        let relative = (parsed.probability() - p).abs() / p;
        assert!(relative < 1e-4, "p={p} th={th} relative error {relative}");
    }
    let th = |s| Threshold::parse(s).unwrap();
    assert_eq!(
        (th("0").probability(), th("0").adjusted_count()),
        (1.0, 1.0)
    );
    assert_eq!(
        (th("8").probability(), th("8").adjusted_count()),
        (0.5, 2.0)
    );
    assert_eq!(
        (th("c").probability(), th("c").adjusted_count()),
        (0.25, 4.0)
    );
}

#[test]
fn decision_matches_lexicographic_comparison_of_hex_digits() {
    // The specification chose lowercase hex so that `rv >= th` can be checked on the text:
    // the last 14 hex digits of the trace id against `th` padded with zeros.
    let mut rng = SplitMix64(99);
    for _ in 0..20_000 {
        let id = rng.trace_id();
        let th = Threshold::from_u56(rng.next() >> 8).unwrap();
        let digits = id.to_string();
        let padded = format!("{:0<14}", th.encode().as_str());
        let expected = digits[18..] >= padded[..];
        assert_eq!(
            th.should_sample(Randomness::from_trace_id(id)),
            expected,
            "{digits} {padded}"
        );
    }
}

#[test]
fn other_vendors_and_other_ot_sub_keys_are_kept() {
    let sampler = ConsistentProbabilitySampler::new(0.5).unwrap();
    let state: TraceState = "congo=t61rcWkgMzE,ot=th:c;p:8;zz:1,rojo=00f067aa0ba902b7"
        .parse()
        .unwrap();
    let id = TraceId::from(u128::MAX);
    let out = decide(
        &sampler,
        Some(&remote_parent(id, true, state.clone())),
        id,
        &[],
    );
    assert_eq!(out.decision, SamplingDecision::RecordAndSample);
    assert_eq!(out.trace_state.get("ot"), Some("th:8;p:8;zz:1"));
    assert_eq!(out.trace_state.get("congo"), Some("t61rcWkgMzE"));
    assert_eq!(out.trace_state.get("rojo"), Some("00f067aa0ba902b7"));

    let dropped_id = TraceId::from(0u128);
    let parent = remote_parent(dropped_id, true, state);
    let out = decide(&sampler, Some(&parent), dropped_id, &[]);
    assert_eq!(out.decision, SamplingDecision::Drop);
    assert_eq!(out.trace_state.get("ot"), Some("p:8;zz:1"));
    assert_eq!(out.trace_state.get("congo"), Some("t61rcWkgMzE"));
}

#[test]
fn malformed_ot_values_are_ignored_without_panic() {
    let sampler = ConsistentProbabilitySampler::new(0.5).unwrap();
    let malformed = [
        "th:XYZ",
        "th:",
        "th",
        "rv:123",
        "rv:6E6D1A75832A2F",
        ";;;",
        ":",
        "th:c:d",
        "a:b:c",
        "rv:6e6d1a75832a2f0",
        "th:123456789012345",
        "th:8;th:c",
        "x",
        "th:-1",
        "TH:8",
    ];
    for value in malformed {
        let state = TraceState::from_key_value([("ot", value), ("v", "1")]).unwrap();
        let id = TraceId::from(u128::MAX);
        for sampled in [true, false] {
            let parent = remote_parent(id, sampled, state.clone());
            let out = decide(&sampler, Some(&parent), id, &[]);
            // Randomness falls back to the trace id (all ones), so the span is kept.
            assert_eq!(out.decision, SamplingDecision::RecordAndSample, "{value}");
            assert_eq!(out.trace_state.get("v"), Some("1"));
            let ot = out.trace_state.get("ot").unwrap();
            assert!(ot.starts_with("th:8"), "{value} -> {ot}");
            let _ = decide(&ParentBased::new(sampler.clone()), Some(&parent), id, &[]);
        }
    }
}

#[test]
fn explicit_rv_is_honoured_over_the_trace_id() {
    let sampler = ConsistentProbabilitySampler::new(0.25).unwrap();
    // Trace id randomness 0 would drop; rv 0xc0.. keeps (>= th 0xc0..), and is kept as is.
    let id = TraceId::from(0u128);
    let state: TraceState = "ot=rv:c0000000000000".parse().unwrap();
    let out = decide(&sampler, Some(&remote_parent(id, false, state)), id, &[]);
    assert_eq!(out.decision, SamplingDecision::RecordAndSample);
    assert_eq!(out.trace_state.get("ot"), Some("th:c;rv:c0000000000000"));

    // Trace id randomness all ones would keep; rv just below the threshold drops.
    let id = TraceId::from(u128::MAX);
    let state: TraceState = "ot=rv:bfffffffffffff".parse().unwrap();
    let out = decide(&sampler, Some(&remote_parent(id, false, state)), id, &[]);
    assert_eq!(out.decision, SamplingDecision::Drop);
}

#[test]
fn keyed_same_key_same_decision_across_traces() {
    let sampler = KeyedSampler::new(0.3)
        .unwrap()
        .with_key_attribute("user.id");
    let ids = trace_ids(5, 200);
    let mut kept_keys = 0;
    for user in 0..200 {
        let attrs = [
            KeyValue::new("gen_ai.system", "openai"),
            KeyValue::new("user.id", format!("user-{user}")),
        ];
        let decisions: Vec<_> = ids
            .iter()
            .map(|id| decide(&sampler, None, *id, &attrs).decision)
            .collect();
        assert!(decisions.windows(2).all(|w| w[0] == w[1]), "user-{user}");
        kept_keys += usize::from(decisions[0] == SamplingDecision::RecordAndSample);
    }
    // And the key, not the trace id, drives the rate.
    assert!(
        (30..=90).contains(&kept_keys),
        "{kept_keys} of 200 users kept at 30%"
    );
}

#[test]
fn keyed_rv_makes_downstream_consistent_samplers_agree() {
    let keyed = KeyedSampler::new(0.25).unwrap();
    for (session, id) in trace_ids(8, 2_000).into_iter().enumerate() {
        let attrs = [KeyValue::new("session.id", format!("s{session}"))];
        let first = decide(&keyed, None, id, &attrs);
        // A remote service runs a consistent sampler at the same probability on the child.
        let parent = remote_parent(
            id,
            first.decision == SamplingDecision::RecordAndSample,
            first.trace_state.clone(),
        );
        let downstream = ConsistentProbabilitySampler::new(0.25).unwrap();
        let second = decide(&downstream, Some(&parent), id, &[]);
        assert_eq!(first.decision, second.decision, "session s{session}");
    }
}

#[test]
fn concurrent_use_gives_the_same_counts_as_one_thread() {
    let ids = trace_ids(31, 80_000);
    let consistent = ConsistentProbabilitySampler::new(0.2).unwrap();
    let samplers: Vec<Box<dyn ShouldSample>> = vec![
        Box::new(consistent.clone()),
        Box::new(KeyedSampler::new(0.2).unwrap()),
        Box::new(ParentBased::new(consistent)),
    ];
    for sampler in &samplers {
        let single = ids.iter().filter(|id| kept(sampler.as_ref(), **id)).count() as u64;
        let total = AtomicU64::new(0);
        let per_thread = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for chunk in ids.chunks(ids.len() / 4) {
                let shared = sampler.as_ref();
                let (total, per_thread) = (&total, &per_thread);
                scope.spawn(move || {
                    let n = chunk.iter().filter(|id| kept(shared, **id)).count() as u64;
                    total.fetch_add(n, Ordering::Relaxed);
                    per_thread.lock().unwrap().push(n);
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), single, "{sampler:?}");
        assert_eq!(per_thread.lock().unwrap().len(), 4);
    }
}

/// Hands out the given trace ids in order, so spans started through the SDK are reproducible.
#[derive(Debug)]
struct FixedIds {
    trace: Mutex<Vec<TraceId>>,
    span: AtomicU64,
}

impl IdGenerator for FixedIds {
    fn new_trace_id(&self) -> TraceId {
        self.trace
            .lock()
            .unwrap()
            .pop()
            .unwrap_or(TraceId::from(1u128))
    }

    fn new_span_id(&self) -> SpanId {
        SpanId::from(self.span.fetch_add(1, Ordering::Relaxed) + 1)
    }
}

#[test]
fn through_the_sdk_children_inherit_the_root_threshold() {
    let kept_id = TraceId::from(0x00ff_ffff_ffff_ffff_u128);
    let dropped_id = TraceId::from(0x0000_0000_0000_0001_u128);
    let provider = SdkTracerProvider::builder()
        .with_sampler(ParentBased::new(
            ConsistentProbabilitySampler::new(0.25).unwrap(),
        ))
        .with_id_generator(FixedIds {
            trace: Mutex::new(vec![dropped_id, kept_id]),
            span: AtomicU64::new(0),
        })
        .build();
    let tracer = provider.tracer("test");

    let root = tracer.start("root");
    assert!(root.span_context().is_sampled());
    assert_eq!(root.span_context().trace_state().header(), "ot=th:c");
    let cx = Context::current_with_span(root);
    let child = tracer.start_with_context("child", &cx);
    assert!(child.span_context().is_sampled());
    assert_eq!(child.span_context().trace_state().header(), "ot=th:c");

    let root = tracer.start("dropped root");
    assert!(!root.span_context().is_sampled());
    let cx = Context::current_with_span(root);
    let mut child = tracer.start_with_context("child", &cx);
    assert!(!child.span_context().is_sampled());
    child.end();
    drop(cx);
    let _ = provider.shutdown();
}

#[test]
fn parent_based_with_always_on_children_keeps_threshold_from_the_sdk_sampler() {
    // The SDK's own samplers return the parent's tracestate unchanged, so th survives them.
    let sampler = ParentBased::new(ConsistentProbabilitySampler::new(0.5).unwrap())
        .with_local_parent_sampled(Sampler::AlwaysOn);
    let id = TraceId::from(u128::MAX);
    let sc = SpanContext::new(
        id,
        SpanId::from(3u64),
        TraceFlags::SAMPLED,
        false,
        "ot=th:8".parse().unwrap(),
    );
    let cx = Context::new().with_remote_span_context(sc);
    let out = decide(&sampler, Some(&cx), id, &[]);
    assert_eq!(out.decision, SamplingDecision::RecordAndSample);
    assert_eq!(out.trace_state.header(), "ot=th:8");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_ot_values_never_panic(value in ".{0,300}", low in any::<u128>(), p in 0.0f64..=1.0) {
        let ot = OtTraceState::parse(&value);
        let _ = ot.with_threshold(Some(Threshold::MAX)).to_value();
        if let Ok(state) = TraceState::from_key_value([("ot", value.as_str())]) {
            let id = TraceId::from(low);
            let consistent = ConsistentProbabilitySampler::new(p).unwrap();
            let keyed = KeyedSampler::new(p).unwrap();
            let parent = ParentBased::new(consistent.clone());
            for sampled in [true, false] {
                let cx = remote_parent(id, sampled, state.clone());
                let samplers = [&consistent as &dyn ShouldSample, &keyed, &parent];
                for (i, sampler) in samplers.into_iter().enumerate() {
                    let attrs = [KeyValue::new("session.id", value.clone())];
                    let out = decide(sampler, Some(&cx), id, &attrs);
                    // What we rewrite holds only well-formed sub-keys.
                    let rewritten = out.trace_state.get("ot").filter(|ot| *ot != value);
                    if let Some(written) = rewritten {
                        let well_formed = written
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b".:;_-".contains(&b));
                        prop_assert!(well_formed, "{:?}", written);
                    }
                    // The two consistent samplers (not the parent-based one) write their own th.
                    if i < 2 && out.decision == SamplingDecision::RecordAndSample {
                        let written = OtTraceState::from_trace_state(&out.trace_state);
                        prop_assert_eq!(written.threshold(), consistent.threshold());
                    }
                }
            }
        }
    }

    #[test]
    fn arbitrary_tracestate_headers_never_panic(header in "[a-z0-9=,;:@*/_ -]{0,120}", low in any::<u128>()) {
        if let Ok(state) = header.parse::<TraceState>() {
            let id = TraceId::from(low);
            let cx = remote_parent(id, true, state);
            let sampler = ParentBased::new(ConsistentProbabilitySampler::new(0.5).unwrap());
            let _ = decide(&sampler, Some(&cx), id, &[]);
            let _ = decide(&ConsistentProbabilitySampler::new(0.5).unwrap(), Some(&cx), id, &[]);
        }
    }

    #[test]
    fn any_float_is_accepted_or_rejected_without_panic(p in any::<f64>()) {
        let built = ConsistentProbabilitySampler::new(p);
        prop_assert_eq!(built.is_ok(), (0.0..=1.0).contains(&p));
        prop_assert_eq!(KeyedSampler::new(p).is_ok(), built.is_ok());
    }

    #[test]
    fn thresholds_round_trip_within_precision(
        p in MIN_PROBABILITY..=1.0f64,
        precision in 1u8..=MAX_PRECISION,
    ) {
        let t = Threshold::from_probability_with_precision(p, precision).unwrap();
        let encoded = t.encode();
        prop_assert!(encoded.as_str().len() <= usize::from(MAX_PRECISION));
        prop_assert_eq!(Threshold::parse(encoded.as_str()), Some(t));
        // One unit in the last of `precision` significant digits is 16^-precision relative to
        // the leading digit; rounding is within half of it, truncation near 2^-56 within one.
        let relative = (t.probability() - p).abs() / p;
        let bound = 16f64.powi(1 - i32::from(precision)) + 1e-12;
        prop_assert!(relative <= bound, "p={} precision={} th={} relative={}", p, precision, encoded, relative);
    }

    #[test]
    fn th_text_round_trips(th in "[0-9a-f]{0,13}[1-9a-f]") {
        let t = Threshold::parse(&th).unwrap();
        prop_assert_eq!(t.to_string(), th);
    }

    #[test]
    fn rv_text_round_trips(rv in "[0-9a-f]{14}") {
        let r = Randomness::parse(&rv).unwrap();
        prop_assert_eq!(r.to_string(), rv);
    }
}
