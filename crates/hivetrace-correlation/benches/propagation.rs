//! Inject + extract round trips with an `http::HeaderMap`: hivetrace-correlation's codecs
//! against opentelemetry_sdk's `TraceContextPropagator` and `BaggagePropagator`, in one run.
//!
//! Each iteration injects a context (remote span, and 4 baggage entries in the second group)
//! into an emptied map and extracts it back:
//! - `sdk`: the SDK's propagators through `Injector`/`Extractor` adapters (as opentelemetry-http's);
//! - `ours_propagator`: `W3cPropagator` through the same adapters;
//! - `ours_headermap`: `headers::inject_context` / `headers::extract_with_context`, into a
//!   `Context` with OpenTelemetry `Baggage` (the same result as the SDK's);
//! - `ours_headermap_trace_context_only` (trace context group): `headers::inject_span_context` /
//!   `headers::extract_span_context`, which do what `TraceContextPropagator` does and no more
//!   (`inject_context` / `extract_with_context` also handle baggage);
//! - `ours_headermap_baggage_view`: the same, but baggage extracted as a `BaggageHeader`
//!   (validated and indexed, decoded on read) instead of a `Baggage`.
//!
//! `cargo bench -p hivetrace-correlation --bench propagation`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use opentelemetry::{Context, KeyValue};

use hivetrace_correlation::baggage_header::BaggageHeader;
use hivetrace_correlation::{W3cPropagator, headers};

/// The carrier adapters users write for the SDK's propagators (as in opentelemetry-http).
struct Inject<'a>(&'a mut HeaderMap);
impl Injector for Inject<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}
struct Extract<'a>(&'a HeaderMap);
impl Extractor for Extract<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

fn trace_context() -> Context {
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        TraceState::NONE,
    );
    Context::new().with_remote_span_context(sc)
}

fn with_baggage(cx: Context) -> Context {
    cx.with_baggage([
        KeyValue::new("user.id", "u-1234567"),
        KeyValue::new("session.id", "0193a5b2-7c1d-7e4f-9a2b-3c4d5e6f7a8b"),
        KeyValue::new("request.id", "req-7f3a9c"),
        KeyValue::new("tier", "pro plus"),
    ])
}

fn bench(c: &mut Criterion) {
    let sdk_trace = opentelemetry_sdk::propagation::TraceContextPropagator::new();
    let sdk_both = opentelemetry::propagation::TextMapCompositePropagator::new(vec![
        Box::new(opentelemetry_sdk::propagation::TraceContextPropagator::new()),
        Box::new(opentelemetry_sdk::propagation::BaggagePropagator::new()),
    ]);
    let ours = W3cPropagator::new();

    for (name, cx) in [
        ("trace_context", trace_context()),
        ("trace_context+baggage4", with_baggage(trace_context())),
    ] {
        let baggage = name.contains("baggage");
        let mut group = c.benchmark_group(format!("propagation/{name}"));
        group.bench_function("sdk", |b| {
            let mut map = HeaderMap::with_capacity(8);
            b.iter(|| {
                map.clear();
                if baggage {
                    sdk_both.inject_context(black_box(&cx), &mut Inject(&mut map));
                    black_box(sdk_both.extract(&Extract(&map)))
                } else {
                    sdk_trace.inject_context(black_box(&cx), &mut Inject(&mut map));
                    black_box(sdk_trace.extract(&Extract(&map)))
                }
            })
        });
        group.bench_function("ours_propagator", |b| {
            let mut map = HeaderMap::with_capacity(8);
            b.iter(|| {
                map.clear();
                ours.inject_context(black_box(&cx), &mut Inject(&mut map));
                black_box(ours.extract(&Extract(&map)))
            })
        });
        group.bench_function("ours_headermap", |b| {
            let mut map = HeaderMap::with_capacity(8);
            let parent = Context::new();
            b.iter(|| {
                map.clear();
                headers::inject_context(black_box(&cx), &mut map);
                black_box(headers::extract_with_context(&parent, &map))
            })
        });
        if !baggage {
            // The same work as the SDK's `TraceContextPropagator` and no more: no `baggage`
            // header is looked for.
            group.bench_function("ours_headermap_trace_context_only", |b| {
                let mut map = HeaderMap::with_capacity(8);
                let parent = Context::new();
                b.iter(|| {
                    map.clear();
                    headers::inject_span_context(black_box(&cx).span().span_context(), &mut map);
                    black_box(match headers::extract_span_context(&map) {
                        Some(sc) => parent.with_remote_span_context(sc),
                        None => parent.clone(),
                    })
                })
            });
        }
        group.bench_function("ours_headermap_baggage_view", |b| {
            let mut map = HeaderMap::with_capacity(8);
            let parent = Context::new();
            b.iter(|| {
                map.clear();
                headers::inject_context(black_box(&cx), &mut map);
                let cx = match headers::extract_span_context(&map) {
                    Some(sc) => parent.with_remote_span_context(sc),
                    None => parent.clone(),
                };
                black_box((cx, BaggageHeader::from_headers(&map)))
            })
        });
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
