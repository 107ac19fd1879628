//! The processor's numbers: percentiles against exact values, honest counts under sampling,
//! errors, the recent window, the cardinality guard, reset.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use hivetrace_core::Tracer;
use hivetrace_core::clock::{Clock, ManualClock};
use hivetrace_metrics::{
    LatencySummary, MetricsProcessor, OVERFLOW_LABEL, UNKNOWN_ERROR_TYPE, Weighting,
};
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{SamplingDecision, SamplingResult, ShouldSample};
use support::SpanSpec;

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

/// The value of rank `floor(q * (n - 1))`, the rank DDSketch answers for.
fn exact(sorted: &[f64], q: f64) -> f64 {
    sorted[(q * (sorted.len() - 1) as f64) as usize]
}

fn assert_within_one_percent(summary: &LatencySummary, sorted_ms: &[f64], what: &str) {
    for (q, got) in [
        (0.5, summary.p50_ms),
        (0.95, summary.p95_ms),
        (0.99, summary.p99_ms),
    ] {
        let want = exact(sorted_ms, q);
        let error = (got - want).abs() / want;
        assert!(
            error <= 0.01,
            "{what}: p{} = {got} ms, exact {want} ms, relative error {error}",
            q * 100.0
        );
    }
}

#[test]
fn percentiles_are_within_one_percent_of_exact_values_on_known_distributions() {
    // Uniform 1..=10,000 ms; exponential (mean 800 ms, as LLM latencies often look);
    // bimodal (cache hits at ~5 ms, model calls at ~2-4 s).
    let uniform: Vec<f64> = (1..=10_000).map(f64::from).collect();
    let exponential: Vec<f64> = (0..10_000)
        .map(|i| -800.0 * (1.0 - (f64::from(i) + 0.5) / 10_000.0).ln())
        .collect();
    let bimodal: Vec<f64> = (0..10_000)
        .map(|i| {
            if i % 10 < 7 {
                5.0 + f64::from(i % 100) / 100.0
            } else {
                2000.0 + f64::from(i % 2000)
            }
        })
        .collect();
    for (name, values) in [
        ("uniform", uniform),
        ("exponential", exponential),
        ("bimodal", bimodal),
    ] {
        let metrics = MetricsProcessor::builder().build().unwrap();
        for v in &values {
            metrics.record(&SpanSpec::new("chat", ms(*v)).build());
        }
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        let snapshot = metrics.snapshot();
        assert_within_one_percent(&snapshot.latency, &sorted, name);
        assert_within_one_percent(&snapshot.endpoints["chat"].latency, &sorted, name);
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        assert!(
            (snapshot.latency.mean_ms - mean).abs() / mean < 1e-9,
            "{name} mean"
        );
        assert!((snapshot.latency.max_ms - sorted[sorted.len() - 1]).abs() < 1e-6);
        assert_eq!(snapshot.latency.count, values.len() as u64);
    }
}

#[test]
fn sampled_spans_count_as_their_adjusted_count() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    // 1,000 spans kept at 25% (th:c) and 10 kept at 100% (th:0), one in ten failed.
    for i in 0..1000u64 {
        let mut span = SpanSpec::new("retrieve", ms(10.0)).ot("th:c").id(i + 1);
        if i % 10 == 0 {
            span = span.error("Timeout");
        }
        metrics.record(&span.build());
    }
    for i in 0..10u64 {
        metrics.record(
            &SpanSpec::new("chat", ms(900.0))
                .ot("th:0")
                .id(i + 1)
                .build(),
        );
    }
    let s = metrics.snapshot();
    assert_eq!(s.spans, 1010);
    assert_eq!(s.count, 4010.0);
    assert_eq!(s.endpoints["retrieve"].count, 4000.0);
    assert_eq!(s.endpoints["retrieve"].error_count, 400.0);
    assert_eq!(s.endpoints["retrieve"].error_rate, 0.1);
    assert_eq!(s.error_types["Timeout"], 400.0);
    // The distribution is weighted too: retrieve's 10 ms spans dominate 4000:10.
    assert_eq!(s.latency.count, 4010);
    assert!((s.latency.p99_ms - 10.0).abs() / 10.0 <= 0.01);
    assert_eq!(s.endpoints["chat"].latency.count, 10);
}

#[test]
fn a_configured_probability_weighs_spans_without_a_threshold() {
    let metrics = MetricsProcessor::builder()
        .weighting(Weighting::Probability(0.1))
        .build()
        .unwrap();
    for i in 0..50u64 {
        metrics.record(&SpanSpec::new("chat", ms(5.0)).id(i + 1).build());
    }
    // A threshold, where present, wins; an unsampled (record-only) span counts once.
    metrics.record(&SpanSpec::new("chat", ms(5.0)).ot("th:8").build());
    metrics.record(&SpanSpec::new("chat", ms(5.0)).unsampled().build());
    let s = metrics.snapshot();
    assert!((s.count - 503.0).abs() < 1e-9, "{}", s.count);
    assert_eq!(s.spans, 52);

    let unweighted = MetricsProcessor::builder()
        .weighting(Weighting::Unweighted)
        .build()
        .unwrap();
    unweighted.record(&SpanSpec::new("chat", ms(5.0)).ot("th:c").build());
    assert_eq!(unweighted.snapshot().count, 1.0);
}

/// Keeps a span when the low 56 bits of its trace id reach the threshold of 25% and writes
/// `ot=th:c`, as OTEP 235 samplers do.
#[derive(Clone, Debug)]
struct QuarterSampler;

impl ShouldSample for QuarterSampler {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        trace_id: TraceId,
        _name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        let randomness = u128::from_be_bytes(trace_id.to_bytes()) as u64 & ((1 << 56) - 1);
        let keep = randomness >= 0xc << 52;
        let base = parent
            .map(|cx| cx.span().span_context().trace_state().clone())
            .unwrap_or_default();
        SamplingResult {
            decision: if keep {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: if keep {
                base.insert("ot", "th:c").unwrap_or(base)
            } else {
                TraceState::default()
            },
        }
    }
}

#[test]
fn through_a_tracer_a_quarter_sample_estimates_the_true_count() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .exporter(exporter)
        .sampler(QuarterSampler)
        .observer(metrics.clone())
        .build()
        .unwrap();
    const SPANS: u32 = 20_000;
    for _ in 0..SPANS {
        tracer.span("answer").start().end();
    }
    let s = metrics.snapshot();
    // About 5,000 spans are kept (binomial, sd ~61), each counting 4: the estimate is within
    // 5% of 20,000 with overwhelming probability (over 16 standard deviations).
    let error = (s.count - f64::from(SPANS)).abs() / f64::from(SPANS);
    assert!(error < 0.05, "estimated {} spans of {SPANS}", s.count);
    assert!(s.spans < 6_000, "{} spans recorded", s.spans);
    assert_eq!(s.count, s.spans as f64 * 4.0);
    tracer.shutdown().unwrap();
}

#[test]
fn errors_from_core_are_classified_by_type() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    let tracer = Tracer::builder()
        .console_writer(std::io::sink())
        .span_processor(metrics.clone())
        .build()
        .unwrap();
    tracer.span("chat").start().end();
    let failed = tracer.span("chat").start();
    failed.record_error(&std::io::Error::other("connection reset"));
    drop(failed);
    tracer
        .span("chat")
        .start()
        .record_error_message("RateLimited", "429");
    // An error written through enrichment only (no status) counts too, type unknown.
    let enriched = tracer.span("tool").start();
    enriched.enrich(|e| {
        e.error("the tool gave up");
    });
    drop(enriched);
    let s = metrics.snapshot();
    assert_eq!(s.count, 4.0);
    assert_eq!(s.error_count, 3.0);
    assert_eq!(s.error_rate, 0.75);
    assert_eq!(s.endpoints["chat"].error_count, 2.0);
    assert_eq!(s.endpoints["tool"].error_rate, 1.0);
    assert_eq!(s.error_types["Error"], 1.0);
    assert_eq!(s.error_types["RateLimited"], 1.0);
    assert_eq!(s.error_types[UNKNOWN_ERROR_TYPE], 1.0);
    tracer.shutdown().unwrap();
}

#[test]
fn the_recent_window_forgets_old_spans_and_the_lifetime_keeps_them() {
    let clock = ManualClock::new();
    let metrics = MetricsProcessor::builder()
        .window(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();
    // Spans are placed in the window by their end time; the window ends at the clock's time.
    for _ in 0..100 {
        let span = SpanSpec::new("chat", ms(2000.0)).ending_at(clock.wall_time());
        metrics.record(&span.build());
    }
    clock.advance(Duration::from_secs(30));
    let s = metrics.snapshot();
    assert_eq!(s.recent.count, 100);
    assert!((s.uptime_seconds - 30.0).abs() < 1e-9);

    clock.advance(Duration::from_secs(90));
    for _ in 0..100 {
        let span = SpanSpec::new("chat", ms(20.0)).ending_at(clock.wall_time());
        metrics.record(&span.build());
    }
    let s = metrics.snapshot();
    assert_eq!(s.recent.count, 100);
    assert!(
        (s.recent.p99_ms - 20.0).abs() / 20.0 <= 0.01,
        "{:?}",
        s.recent
    );
    assert_eq!(s.latency.count, 200);
    assert!((s.latency.p99_ms - 2000.0).abs() / 2000.0 <= 0.01);
    assert_eq!(s.window_seconds, 60.0);

    // Five more minutes without spans: nothing is recent, everything is in the lifetime.
    clock.advance(Duration::from_secs(300));
    let s = metrics.snapshot();
    assert_eq!(s.recent.count, 0);
    assert_eq!(s.endpoints["chat"].latency.count, 200);
}

#[test]
fn endpoints_past_the_cap_share_the_overflow_series() {
    let metrics = MetricsProcessor::builder().max_series(3).build().unwrap();
    let names = ["a", "b", "c", "d", "e", "a"];
    for name in names {
        metrics.record(&SpanSpec::new(name, ms(1.0)).error(name).build());
    }
    let s = metrics.snapshot();
    let endpoints: Vec<&str> = s.endpoints.keys().map(String::as_str).collect();
    assert_eq!(endpoints, [OVERFLOW_LABEL, "a", "b", "c"]);
    assert_eq!(s.endpoints[OVERFLOW_LABEL].count, 2.0);
    assert_eq!(s.endpoints["a"].count, 2.0);
    assert_eq!(s.overflowed, 2);
    assert_eq!(s.error_types[OVERFLOW_LABEL], 2.0);
    assert_eq!(s.count, 6.0);
}

#[test]
fn a_span_named_like_the_overflow_label_is_not_overwritten_in_snapshots() {
    let metrics = MetricsProcessor::builder().max_series(2).build().unwrap();
    for name in [OVERFLOW_LABEL, "chat", "tool", "rag"] {
        metrics.record(&SpanSpec::new(name, ms(1.0)).error(name).build());
    }
    let s = metrics.snapshot();
    let endpoints: Vec<&str> = s.endpoints.keys().map(String::as_str).collect();
    assert_eq!(endpoints, [OVERFLOW_LABEL, "chat", "tool"]);
    assert_eq!(
        s.endpoints[OVERFLOW_LABEL].spans, 2,
        "`__overflow__` and `tool`"
    );
    assert_eq!(s.spans, 4, "every span in exactly one endpoint");
    assert_eq!(s.overflowed, 1);
    assert_eq!(s.error_types[OVERFLOW_LABEL], 2.0);
}

#[test]
fn long_span_names_are_cut_to_the_label_limit() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    let name: &'static str = Box::leak("x".repeat(10_000).into_boxed_str());
    metrics.record(&SpanSpec::new(name, ms(1.0)).build());
    metrics.record(&SpanSpec::new(name, ms(1.0)).build());
    let s = metrics.snapshot();
    let (endpoint, stats) = s.endpoints.iter().next().unwrap();
    assert_eq!(endpoint.len(), hivetrace_metrics::MAX_LABEL_LEN);
    assert_eq!(stats.count, 2.0);
}

#[test]
fn reset_forgets_everything_but_uptime() {
    let clock = ManualClock::new();
    let metrics = MetricsProcessor::builder()
        .clock(clock.clone())
        .build()
        .unwrap();
    metrics.record(&SpanSpec::new("chat", ms(5.0)).error("Boom").build());
    clock.advance(Duration::from_secs(10));
    metrics.reset();
    clock.advance(Duration::from_secs(5));
    let s = metrics.snapshot();
    assert_eq!((s.count, s.spans, s.error_count), (0.0, 0, 0.0));
    assert!(s.endpoints.is_empty() && s.error_types.is_empty());
    assert_eq!(s.latency, LatencySummary::default());
    assert_eq!(s.uptime_seconds, 15.0);
    assert_eq!(s.since_reset_seconds, 5.0);
    metrics.record(&SpanSpec::new("chat", ms(5.0)).build());
    assert_eq!(metrics.snapshot().count, 1.0);
}

#[test]
fn snapshots_serialize_to_json() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    metrics.record(&SpanSpec::new("chat", ms(100.0)).build());
    let json = serde_json::to_value(metrics.snapshot()).unwrap();
    assert_eq!(json["count"], 1.0);
    assert_eq!(json["endpoints"]["chat"]["spans"], 1);
    let p50 = json["endpoints"]["chat"]["latency"]["p50_ms"]
        .as_f64()
        .unwrap();
    assert!((p50 - 100.0).abs() <= 1.0, "{p50}");
}

#[test]
fn threads_recording_at_once_lose_nothing() {
    let metrics = MetricsProcessor::builder().shards(2).build().unwrap();
    std::thread::scope(|scope| {
        for t in 0..4u64 {
            let metrics = metrics.clone();
            scope.spawn(move || {
                for i in 0..2_500u64 {
                    let name = if i % 2 == 0 { "chat" } else { "tool" };
                    metrics.record(&SpanSpec::new(name, ms(1.0)).id(t * 10_000 + i + 1).build());
                }
            });
        }
    });
    let s = metrics.snapshot();
    assert_eq!(s.spans, 10_000);
    assert_eq!(s.endpoints["chat"].count, 5_000.0);
    assert_eq!(s.latency.count, 10_000);
}

/// A processor with one shard and a one-minute recent window on `clock`.
fn one_shard_one_minute_window(clock: &ManualClock) -> MetricsProcessor {
    MetricsProcessor::builder()
        .shards(1)
        .window(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .expect("valid settings")
}

/// 101 spans in the lifetime, of which the recent window holds the 100 current 20 ms ones.
fn assert_recent_holds_the_100_current_spans(metrics: &MetricsProcessor) {
    let s = metrics.snapshot();
    assert_eq!(s.latency.count, 101);
    assert_eq!(s.recent.count, 100, "{:?}", s.recent);
    assert!(
        (s.recent.p99_ms - 20.0).abs() / 20.0 <= 0.01,
        "{:?}",
        s.recent
    );
}

#[test]
fn a_span_recorded_late_does_not_empty_the_recent_window() {
    let clock = ManualClock::new();
    let metrics = one_shard_one_minute_window(&clock);
    for _ in 0..100 {
        let span = SpanSpec::new("chat", ms(20.0)).ending_at(clock.wall_time());
        metrics.record(&span.build());
    }
    // One span that ended two minutes ago, recorded now (a replayed batch, an explicit end
    // time): it belongs to the lifetime only, and must not push the current spans out.
    let late =
        SpanSpec::new("chat", ms(900.0)).ending_at(clock.wall_time() - Duration::from_secs(120));
    metrics.record(&late.build());
    assert_recent_holds_the_100_current_spans(&metrics);
}

#[test]
fn a_span_dated_in_the_future_does_not_keep_current_spans_out_of_the_recent_window() {
    let clock = ManualClock::new();
    let metrics = one_shard_one_minute_window(&clock);
    // One span whose end time is two minutes ahead of the clock (a host whose clock runs
    // ahead, an end time in the wrong unit, a wall clock stepped back since): it falls in the
    // window slot that the spans ending now use.
    let ahead =
        SpanSpec::new("chat", ms(900.0)).ending_at(clock.wall_time() + Duration::from_secs(120));
    metrics.record(&ahead.build());
    for _ in 0..100 {
        let span = SpanSpec::new("chat", ms(20.0)).ending_at(clock.wall_time());
        metrics.record(&span.build());
    }
    assert_recent_holds_the_100_current_spans(&metrics);
}
