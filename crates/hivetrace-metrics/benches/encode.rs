//! Encoding 1,000 series, against `prometheus_client`'s own families of the same shape,
//! measured in one run.
//!
//! 1,000 series (sample lines, as Prometheus counts series): 45 endpoints × (2
//! `traces_total` + 20 histogram lines: 18 buckets, `_sum`, `_count`) + 10 error types.
//!
//! - `encode/processor_1000_series`: [`hivetrace_metrics::encode`] of a registry holding a
//!   processor that saw those endpoints and error types (exemplars included).
//! - `encode/processor_1000_series_text`: the same in the classic text format.
//! - `encode/baseline_1000_series`: `prometheus_client` `Family` counters and histograms
//!   holding the same series, encoded by `prometheus_client::encoding::text::encode`.
//!
//! Run with `cargo bench -p hivetrace-metrics --bench encode`.

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_metrics::{DEFAULT_BUCKETS, MetricsProcessor, encode, encode_text};
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

const ENDPOINTS: u64 = 45;
const ERROR_TYPES: u64 = 10;

fn span(name: String, id: u64, latency: Duration, error: Option<String>) -> SpanData {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let mut attributes = vec![KeyValue::new("honeyhive_event_type", "model")];
    let mut status = Status::Unset;
    if let Some(kind) = error {
        attributes.push(KeyValue::new("honeyhive_error_type", kind));
        status = Status::error("failed");
    }
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(u128::from(id) << 64 | 1),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(name),
        start_time: start,
        end_time: start + latency,
        attributes,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: InstrumentationScope::default(),
    }
}

fn bench(c: &mut Criterion) {
    let metrics = MetricsProcessor::builder().build().expect("default builds");
    let mut id = 1;
    for e in 0..ENDPOINTS {
        for (k, ms) in [3u64, 40, 700, 2_500, 31_000].into_iter().enumerate() {
            let error = (k == 4).then(|| format!("Error{}", (e + k as u64) % ERROR_TYPES));
            metrics.record(&span(
                format!("endpoint_{e}"),
                id,
                Duration::from_millis(ms),
                error,
            ));
            id += 1;
        }
    }
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let text = encode(&registry).expect("encodes");
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    eprintln!(
        "processor exposition: {series} series, {} bytes",
        text.len()
    );

    let mut baseline = Registry::default();
    let traces = Family::<[(&'static str, String); 2], Counter<f64>>::default();
    let latency = Family::<[(&'static str, String); 1], Histogram>::new_with_constructor(|| {
        Histogram::new(DEFAULT_BUCKETS)
    });
    let errors = Family::<[(&'static str, String); 1], Counter<f64>>::default();
    baseline.register("hivetrace_traces", "spans", traces.clone());
    baseline.register(
        "hivetrace_trace_latency_seconds",
        "latency",
        latency.clone(),
    );
    baseline.register("hivetrace_trace_errors", "errors", errors.clone());
    for e in 0..ENDPOINTS {
        for status in ["ok", "error"] {
            traces
                .get_or_create(&[
                    ("endpoint", format!("endpoint_{e}")),
                    ("status", status.into()),
                ])
                .inc();
        }
        latency
            .get_or_create(&[("endpoint", format!("endpoint_{e}"))])
            .observe(0.7);
    }
    for t in 0..ERROR_TYPES {
        errors
            .get_or_create(&[("error_type", format!("Error{t}"))])
            .inc();
    }
    let mut text = String::new();
    prometheus_client::encoding::text::encode(&mut text, &baseline).expect("encodes");
    let series = text.lines().filter(|l| !l.starts_with('#')).count();
    eprintln!("baseline exposition: {series} series, {} bytes", text.len());

    let mut group = c.benchmark_group("encode");
    group.bench_function("processor_1000_series", |b| {
        b.iter(|| black_box(encode(black_box(&registry)).expect("encodes")))
    });
    group.bench_function("processor_1000_series_text", |b| {
        b.iter(|| black_box(encode_text(black_box(&registry)).expect("encodes")))
    });
    group.bench_function("baseline_1000_series", |b| {
        b.iter(|| {
            let mut text = String::with_capacity(4096);
            prometheus_client::encoding::text::encode(&mut text, black_box(&baseline))
                .expect("encodes");
            black_box(text)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
