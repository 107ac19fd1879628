//! Per-span cost of the metrics processor against a raw `prometheus_client` counter +
//! histogram observation for the same span, measured in one run.
//!
//! Each iteration records the next of 64 prebuilt ended spans (8 endpoints, sampled, 12
//! attributes like a hivetrace span, one in ten failed):
//!
//! - `processor/record`: `MetricsProcessor::record`: endpoint lookup, weight, error type,
//!   sharded counts and DDSketch, the Prometheus histogram with its exemplar, error counts.
//! - `processor/record_threshold`: the same spans carrying `ot=th:c` (weight 4).
//! - `baseline/counter_histogram`: `prometheus_client` `Family<[(&str, String); 2], Counter>`
//!   and `Family<[(&str, String); 1], Histogram>`, `get_or_create` by endpoint (and status)
//!   then `inc` + `observe`: what a hand-written metrics layer does per span.
//! - `baseline/counter_histogram_prebound`: the lower bound, with the counter and histogram
//!   handles resolved before the loop (no lookup per span).
//!
//! - `sdk/span_data_clone`: cloning one of those spans, which the OpenTelemetry SDK does for
//!   each span processor once a provider has more than one.
//!
//! End to end, through a tracer (start, 5 enrichment values, end; batch queue 65,536, a
//! discarding exporter):
//!
//! - `tracer/without_metrics` and `tracer/with_metrics`: the difference is what a user pays
//!   for the processor, including the copy of the span the OpenTelemetry SDK makes for every
//!   processor once there is more than one.
//! - `tracer/with_noop_processor`: a second processor that does nothing, to tell those copies
//!   from the recording.
//!
//! Run with `cargo bench -p hivetrace-metrics --bench processor`.

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_core::exporter::Exporter;
use hivetrace_core::{BatchConfig, EventType, Tracer};
use hivetrace_metrics::MetricsProcessor;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks, SpanProcessor};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Spans cycled through: few enough to stay in cache, as a span just ended is.
const SPANS: usize = 64;

const ENDPOINTS: [&str; 8] = [
    "chat",
    "retrieve",
    "rerank",
    "embed",
    "tool_call",
    "summarize",
    "classify",
    "agent_step",
];

fn spans(ot: Option<&str>) -> Vec<SpanData> {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    (0..SPANS as u64)
        .map(|i| {
            let state = ot
                .map(|v| TraceState::from_key_value([("ot", v)]).expect("valid tracestate"))
                .unwrap_or_default();
            let mut attributes = vec![
                KeyValue::new("honeyhive_event_type", "model"),
                KeyValue::new("honeyhive_config.model", "gpt-4o-mini"),
                KeyValue::new("honeyhive_config.temperature", 0.2),
                KeyValue::new("honeyhive_inputs.query", "what is the refund policy?"),
                KeyValue::new("honeyhive_outputs.result", "30 days"),
                KeyValue::new("honeyhive_metrics.prompt_tokens", 812),
                KeyValue::new("honeyhive_metrics.completion_tokens", 64),
                KeyValue::new("honeyhive_metadata.customer", "acme"),
                KeyValue::new("user.id", "user-42"),
                KeyValue::new("honeyhive.session_id", "0d6f3c1e"),
            ];
            let mut status = Status::Unset;
            if i % 10 == 0 {
                attributes.push(KeyValue::new("honeyhive_error", "429 Too Many Requests"));
                attributes.push(KeyValue::new("honeyhive_error_type", "RateLimited"));
                status = Status::error("429 Too Many Requests");
            } else {
                attributes.push(KeyValue::new("honeyhive_feedback.rating", 5));
                attributes.push(KeyValue::new("honeyhive_metadata.region", "eu"));
            }
            // Latencies from 2 ms to about 8 s.
            let latency = Duration::from_micros(2_000 + (i * 7_919 % 8_000_000));
            SpanData {
                span_context: SpanContext::new(
                    TraceId::from(u128::from(i + 1) << 64 | 0x5eed),
                    SpanId::from(i + 1),
                    TraceFlags::SAMPLED,
                    false,
                    state,
                ),
                parent_span_id: SpanId::INVALID,
                parent_span_is_remote: false,
                span_kind: SpanKind::Internal,
                name: Cow::Borrowed(ENDPOINTS[(i % 8) as usize]),
                start_time: start,
                end_time: start + latency,
                attributes,
                dropped_attributes_count: 0,
                events: SpanEvents::default(),
                links: SpanLinks::default(),
                status,
                instrumentation_scope: InstrumentationScope::default(),
            }
        })
        .collect()
}

/// A span's duration in seconds, as a hand-written Prometheus exporter would observe it.
fn latency_seconds(span: &SpanData) -> f64 {
    span.end_time
        .duration_since(span.start_time)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("per_span");

    for (name, ot) in [
        ("processor/record", None),
        ("processor/record_threshold", Some("th:c")),
    ] {
        let spans = spans(ot);
        let metrics = MetricsProcessor::builder().build().expect("default builds");
        let mut i = 0usize;
        group.bench_function(name, |b| {
            b.iter(|| {
                i = (i + 1) % SPANS;
                metrics.record(black_box(&spans[i]));
            })
        });
    }

    let spans = spans(None);
    let mut registry = Registry::default();
    let traces = Family::<[(&'static str, String); 2], Counter>::default();
    let latency = Family::<[(&'static str, String); 1], Histogram>::new_with_constructor(|| {
        Histogram::new(hivetrace_metrics::DEFAULT_BUCKETS)
    });
    registry.register("traces", "spans", traces.clone());
    registry.register("trace_latency_seconds", "latency", latency.clone());
    let mut i = 0usize;
    group.bench_function("baseline/counter_histogram", |b| {
        b.iter(|| {
            i = (i + 1) % SPANS;
            let span = black_box(&spans[i]);
            let seconds = latency_seconds(span);
            let status = if matches!(span.status, Status::Error { .. }) {
                "error"
            } else {
                "ok"
            };
            let endpoint = span.name.to_string();
            traces
                .get_or_create(&[
                    ("endpoint", endpoint.clone()),
                    ("status", status.to_owned()),
                ])
                .inc();
            latency
                .get_or_create(&[("endpoint", endpoint)])
                .observe(seconds);
        })
    });

    // What the SDK does for every processor once a provider has more than one: clone the
    // ended span (and drop the clone after the processor).
    let mut i = 0usize;
    group.bench_function("sdk/span_data_clone", |b| {
        b.iter(|| {
            i = (i + 1) % SPANS;
            black_box(black_box(&spans[i]).clone());
        })
    });

    let counter = Counter::<u64>::default();
    let histogram = Histogram::new(hivetrace_metrics::DEFAULT_BUCKETS);
    let mut i = 0usize;
    group.bench_function("baseline/counter_histogram_prebound", |b| {
        b.iter(|| {
            i = (i + 1) % SPANS;
            let span = black_box(&spans[i]);
            let seconds = latency_seconds(span);
            counter.inc();
            histogram.observe(seconds);
        })
    });
    group.finish();
}

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

/// A processor that does nothing: what any second processor costs through the SDK.
#[derive(Debug)]
struct NoopProcessor;

impl SpanProcessor for NoopProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}
    fn on_end(&self, span: SpanData) {
        black_box(span);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn tracer(metrics: Option<&MetricsProcessor>) -> Tracer {
    let mut builder = Tracer::builder()
        .exporter(Exporter::custom(Discard))
        .batch(BatchConfig::default().max_queue_size(65_536));
    if let Some(metrics) = metrics {
        builder = builder.observer(metrics.clone());
    }
    builder.build().expect("bench tracer builds")
}

fn traced_call(tracer: &Tracer, name: &'static str) {
    let span = tracer.span(name).event_type(EventType::Model).start();
    span.enrich(|e| {
        e.config("model", "gpt-4o-mini")
            .config("temperature", 0.2)
            .metrics("prompt_tokens", 812)
            .metrics("completion_tokens", 64)
            .metadata("customer", "acme");
    });
}

fn end_to_end(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracer");
    let plain = tracer(None);
    let mut i = 0usize;
    group.bench_function("without_metrics", |b| {
        b.iter(|| {
            i = (i + 1) % ENDPOINTS.len();
            traced_call(&plain, ENDPOINTS[i]);
        })
    });
    let noop = Tracer::builder()
        .exporter(Exporter::custom(Discard))
        .batch(BatchConfig::default().max_queue_size(65_536))
        .span_processor(NoopProcessor)
        .build()
        .expect("bench tracer builds");
    group.bench_function("with_noop_processor", |b| {
        b.iter(|| {
            i = (i + 1) % ENDPOINTS.len();
            traced_call(&noop, ENDPOINTS[i]);
        })
    });
    let metrics = MetricsProcessor::builder().build().expect("default builds");
    let with = tracer(Some(&metrics));
    group.bench_function("with_metrics", |b| {
        b.iter(|| {
            i = (i + 1) % ENDPOINTS.len();
            traced_call(&with, ENDPOINTS[i]);
        })
    });
    group.finish();
    let _ = plain.shutdown();
    let _ = noop.shutdown();
    let _ = with.shutdown();
}

criterion_group!(benches, bench, end_to_end);
criterion_main!(benches);
