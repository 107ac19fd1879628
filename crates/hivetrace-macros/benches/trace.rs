//! `#[trace]` against the same span written by hand, measured in one run.
//!
//! - `raw/hand_written`: a raw SDK span with the attributes `#[trace]` writes for
//!   `fn work(a: i64, b: &str) -> i64` (event type, two inputs, the output), started and ended
//!   around the call; the baseline.
//! - `raw/hand_written_current`: the same, made current for the call (`Tracer::in_span`), as
//!   `#[trace]` does so nested spans parent correctly.
//! - `trace/explicit_tracer`, `trace/global_tracer`: `#[trace]` with `tracer = ...` and with the
//!   global tracer.
//! - `*_off`: the sampler drops the span (no capture work on either side).

use std::hint::black_box;
use std::sync::LazyLock;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_core::exporter::Exporter;
use hivetrace_core::{BatchConfig, Tracer};
use hivetrace_macros::trace;
use opentelemetry::KeyValue;
use opentelemetry::trace::{Span as _, TraceContextExt, Tracer as _, TracerProvider as _};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{
    BatchConfigBuilder, BatchSpanProcessor, Sampler, SdkTracer, SdkTracerProvider, SpanData,
    SpanExporter,
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

fn hivetrace(sampler: Sampler) -> Tracer {
    Tracer::builder()
        .exporter(Exporter::custom(Discard))
        .batch(BatchConfig::default().max_queue_size(QUEUE))
        .sampler(sampler)
        .build()
        .expect("bench tracer builds")
}

fn raw(sampler: Sampler) -> (SdkTracerProvider, SdkTracer) {
    let processor = BatchSpanProcessor::builder(Discard)
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(QUEUE)
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_sampler(sampler)
        .build();
    let tracer = provider.tracer("bench");
    (provider, tracer)
}

static ON: LazyLock<Tracer> = LazyLock::new(|| hivetrace(Sampler::AlwaysOn));
static OFF: LazyLock<Tracer> = LazyLock::new(|| hivetrace(Sampler::AlwaysOff));

fn body(a: i64, b: &str) -> i64 {
    a + b.len() as i64
}

#[trace(tracer = &*ON)]
fn traced_on(a: i64, b: &str) -> i64 {
    body(a, b)
}

#[trace(tracer = &*OFF)]
fn traced_off(a: i64, b: &str) -> i64 {
    body(a, b)
}

#[trace]
fn traced_global(a: i64, b: &str) -> i64 {
    body(a, b)
}

fn hand_written(tracer: &SdkTracer, a: i64, b: &str) -> i64 {
    let mut span = tracer.start("traced");
    if span.is_recording() {
        span.set_attribute(KeyValue::new("honeyhive_event_type", "tool"));
        span.set_attribute(KeyValue::new("honeyhive_inputs.a", a));
        span.set_attribute(KeyValue::new("honeyhive_inputs.b", b.to_owned()));
    }
    let out = body(a, b);
    if span.is_recording() {
        span.set_attribute(KeyValue::new("honeyhive_outputs.result", out));
    }
    span.end();
    out
}

fn hand_written_current(tracer: &SdkTracer, a: i64, b: &str) -> i64 {
    tracer.in_span("traced", |cx| {
        let span = cx.span();
        if span.is_recording() {
            span.set_attribute(KeyValue::new("honeyhive_event_type", "tool"));
            span.set_attribute(KeyValue::new("honeyhive_inputs.a", a));
            span.set_attribute(KeyValue::new("honeyhive_inputs.b", b.to_owned()));
        }
        let out = body(a, b);
        if span.is_recording() {
            span.set_attribute(KeyValue::new("honeyhive_outputs.result", out));
        }
        out
    })
}

fn traced(c: &mut Criterion) {
    let (raw_on_provider, raw_on) = raw(Sampler::AlwaysOn);
    let (raw_off_provider, raw_off) = raw(Sampler::AlwaysOff);
    let prompt = String::from("what is the refund policy?");
    let mut group = c.benchmark_group("trace");

    group.bench_function("raw/hand_written", |b| {
        b.iter(|| hand_written(&raw_on, black_box(7), black_box(&prompt)))
    });
    group.bench_function("raw/hand_written_current", |b| {
        b.iter(|| hand_written_current(&raw_on, black_box(7), black_box(&prompt)))
    });
    group.bench_function("trace/explicit_tracer", |b| {
        b.iter(|| traced_on(black_box(7), black_box(&prompt)))
    });
    ON.install_global();
    group.bench_function("trace/global_tracer", |b| {
        b.iter(|| traced_global(black_box(7), black_box(&prompt)))
    });
    Tracer::uninstall_global();
    group.bench_function("raw/hand_written_off", |b| {
        b.iter(|| hand_written(&raw_off, black_box(7), black_box(&prompt)))
    });
    group.bench_function("raw/hand_written_current_off", |b| {
        b.iter(|| hand_written_current(&raw_off, black_box(7), black_box(&prompt)))
    });
    group.bench_function("trace/explicit_tracer_off", |b| {
        b.iter(|| traced_off(black_box(7), black_box(&prompt)))
    });
    group.finish();

    let _ = raw_on_provider.shutdown();
    let _ = raw_off_provider.shutdown();
    let _ = ON.shutdown();
    let _ = OFF.shutdown();
}

criterion_group!(benches, traced);
criterion_main!(benches);
