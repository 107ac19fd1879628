//! Span hot path: hivetrace against the raw OpenTelemetry SDK, measured in one run.
//!
//! - `raw/start_5attrs_end`: an SDK span, start + 5 attributes + end, batch processor (queue
//!   65536) with a discarding exporter: the baseline (a).
//! - `raw/in_span_5attrs`: the same made current, the SDK's idiom (`Tracer::in_span`).
//! - `hivetrace/span_enrich_end`: the same work through hivetrace: start with an event type,
//!   enter, `enrich_span` with 5 values, end (b).
//! - `*_off`: both with the sampler off (c).
//!
//! Run with `cargo xtask bench` (or `cargo bench -p hivetrace-core --bench span`).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_core::exporter::Exporter;
use hivetrace_core::{BatchConfig, EventType, Tracer, enrich_span};
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracerProvider, SpanData, SpanExporter,
};

#[derive(Debug)]
struct Discard;

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

const QUEUE: usize = 65_536;

fn raw_provider(sampler: Sampler) -> SdkTracerProvider {
    let processor = BatchSpanProcessor::builder(Discard)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .build(),
        )
        .build();
    SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .build()
}

fn hivetrace_tracer(sampler: Sampler) -> Tracer {
    Tracer::builder()
        .exporter(Exporter::custom(Discard))
        .batch(BatchConfig::default().max_queue_size(QUEUE))
        .sampler(sampler)
        .build()
        .expect("bench tracer builds")
}

fn raw_span(tracer: &opentelemetry_sdk::trace::SdkTracer) {
    let mut span = tracer.start("llm_call");
    span.set_attribute(KeyValue::new("honeyhive_metadata.customer", "acme"));
    span.set_attribute(KeyValue::new("honeyhive_metrics.prompt_tokens", 42i64));
    span.set_attribute(KeyValue::new("honeyhive_metrics.latency_ms", 12.5));
    span.set_attribute(KeyValue::new("honeyhive_config.model", "gpt-4o"));
    span.set_attribute(KeyValue::new("honeyhive_feedback.liked", true));
    span.end();
}

fn raw_in_span(tracer: &opentelemetry_sdk::trace::SdkTracer) {
    tracer.in_span("llm_call", |cx| {
        let span = cx.span();
        span.set_attribute(KeyValue::new("honeyhive_metadata.customer", "acme"));
        span.set_attribute(KeyValue::new("honeyhive_metrics.prompt_tokens", 42i64));
        span.set_attribute(KeyValue::new("honeyhive_metrics.latency_ms", 12.5));
        span.set_attribute(KeyValue::new("honeyhive_config.model", "gpt-4o"));
        span.set_attribute(KeyValue::new("honeyhive_feedback.liked", true));
    });
}

fn hivetrace_span(tracer: &Tracer) {
    let span = tracer.span("llm_call").event_type(EventType::Model).start();
    let _current = span.enter();
    enrich_span(|e| {
        e.metadata("customer", "acme")
            .metrics("prompt_tokens", 42i64)
            .metrics("latency_ms", 12.5)
            .config("model", "gpt-4o")
            .feedback("liked", true);
    });
}

fn spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("span");

    let raw_on = raw_provider(Sampler::AlwaysOn);
    let raw_on_tracer = raw_on.tracer("bench");
    let raw_off = raw_provider(Sampler::AlwaysOff);
    let raw_off_tracer = raw_off.tracer("bench");
    let ht_on = hivetrace_tracer(Sampler::AlwaysOn);
    let ht_off = hivetrace_tracer(Sampler::AlwaysOff);

    group.bench_function("raw/start_5attrs_end", |b| {
        b.iter(|| raw_span(&raw_on_tracer))
    });
    group.bench_function("raw/in_span_5attrs", |b| {
        b.iter(|| raw_in_span(&raw_on_tracer))
    });
    group.bench_function("hivetrace/span_enrich_end", |b| {
        b.iter(|| hivetrace_span(&ht_on))
    });
    group.bench_function("raw/start_5attrs_end_off", |b| {
        b.iter(|| raw_span(&raw_off_tracer))
    });
    group.bench_function("raw/in_span_5attrs_off", |b| {
        b.iter(|| raw_in_span(&raw_off_tracer))
    });
    group.bench_function("hivetrace/span_enrich_end_off", |b| {
        b.iter(|| hivetrace_span(&ht_off))
    });
    group.finish();

    let _ = raw_on.shutdown();
    let _ = raw_off.shutdown();
    let stats = ht_on.stats();
    let _ = ht_on.shutdown();
    let _ = ht_off.shutdown();
    eprintln!("hivetrace stats after the sampled run: {stats:?}");
}

/// Where hivetrace's time goes, piece by piece, to steer optimisation.
fn breakdown(c: &mut Criterion) {
    let mut group = c.benchmark_group("breakdown");
    let ht = hivetrace_tracer(Sampler::AlwaysOn);
    group.bench_function("start_end", |b| {
        b.iter(|| ht.span("llm_call").event_type(EventType::Model).start())
    });
    group.bench_function("start_enter_end", |b| {
        b.iter(|| {
            let span = ht.span("llm_call").event_type(EventType::Model).start();
            let _current = span.enter();
        })
    });
    group.bench_function("start_5set_attribute_end", |b| {
        b.iter(|| {
            let span = ht.span("llm_call").event_type(EventType::Model).start();
            span.set_attribute(KeyValue::new("honeyhive_metadata.customer", "acme"));
            span.set_attribute(KeyValue::new("honeyhive_metrics.prompt_tokens", 42i64));
            span.set_attribute(KeyValue::new("honeyhive_metrics.latency_ms", 12.5));
            span.set_attribute(KeyValue::new("honeyhive_config.model", "gpt-4o"));
            span.set_attribute(KeyValue::new("honeyhive_feedback.liked", true));
        })
    });
    group.bench_function("start_enter_enrich_attributes_end", |b| {
        b.iter(|| {
            let span = ht.span("llm_call").event_type(EventType::Model).start();
            let _current = span.enter();
            enrich_span(|e| {
                e.attribute(KeyValue::new("honeyhive_metadata.customer", "acme"))
                    .attribute(KeyValue::new("honeyhive_metrics.prompt_tokens", 42i64))
                    .attribute(KeyValue::new("honeyhive_metrics.latency_ms", 12.5))
                    .attribute(KeyValue::new("honeyhive_config.model", "gpt-4o"))
                    .attribute(KeyValue::new("honeyhive_feedback.liked", true));
            });
        })
    });
    group.finish();
    let _ = ht.shutdown();
}

criterion_group!(benches, spans, breakdown);
criterion_main!(benches);
