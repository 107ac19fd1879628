//! What the behaviour tests share: a tracer exporting to memory, and span lookups.
#![allow(dead_code)]

use hivetrace_correlation::BaggageSpanProcessor;
use opentelemetry::Value;
use opentelemetry::trace::SpanId;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

/// A tracer with the correlation processor, exporting to memory.
pub(crate) fn tracer() -> (hivetrace_core::Tracer, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let tracer = hivetrace_core::Tracer::builder()
        .exporter(exporter.clone())
        .observer(BaggageSpanProcessor::new())
        .build()
        .expect("a tracer with an in-memory exporter builds");
    (tracer, exporter)
}

/// Flushes and returns the finished spans (read before shutdown: the exporter clears then).
pub(crate) fn finished(
    tracer: &hivetrace_core::Tracer,
    exporter: &InMemorySpanExporter,
) -> Vec<SpanData> {
    tracer.force_flush().expect("flush succeeds");
    exporter.get_finished_spans().expect("readable")
}

/// The one span called `name`.
pub(crate) fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let mut found = spans.iter().filter(|s| s.name == name);
    let span = found.next().unwrap_or_else(|| {
        let names: Vec<&str> = spans.iter().map(|s| s.name.as_ref()).collect();
        panic!("no span named {name:?} among {names:?}")
    });
    assert!(found.next().is_none(), "more than one span named {name:?}");
    span
}

/// The value of attribute `key`, as text.
pub(crate) fn attr(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

/// How many times attribute `key` is set.
pub(crate) fn count(span: &SpanData, key: &str) -> usize {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str() == key)
        .count()
}

/// Whether `child` is a direct child of `parent`, in the same trace.
pub(crate) fn is_child(child: &SpanData, parent: &SpanData) -> bool {
    child.parent_span_id == parent.span_context.span_id()
        && child.span_context.trace_id() == parent.span_context.trace_id()
        && parent.span_context.span_id() != SpanId::INVALID
}
