//! Sampling: spans the sampler keeps but does not sample are recorded and counted, never
//! exported; spans it drops cost no enrichment work.
#![cfg(feature = "testing")]

mod support;

use std::cell::Cell;

use hivetrace_core::enrich_span;
use opentelemetry::trace::{Link, SpanKind, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::{Sampler, SamplingDecision, SamplingResult, ShouldSample};
use support::{finished, in_memory_tracer};

/// Records every span, samples only those named `keep`.
#[derive(Clone, Debug)]
struct RecordAllSampleKeep;

impl ShouldSample for RecordAllSampleKeep {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _trace_id: TraceId,
        name: &str,
        _kind: &SpanKind,
        _attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        SamplingResult {
            decision: if name == "keep" {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::RecordOnly
            },
            attributes: Vec::new(),
            trace_state: parent
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default(),
        }
    }
}

#[test]
fn record_only_spans_are_recorded_and_counted_but_never_exported() {
    let (tracer, exporter) = in_memory_tracer(|b| b.sampler(RecordAllSampleKeep));
    let ran = Cell::new(0);
    for _ in 0..3 {
        let span = tracer.span("recorded").start();
        assert!(span.is_recording());
        assert!(!span.span_context().is_sampled());
        assert!(span.in_scope(|| enrich_span(|_| ran.set(ran.get() + 1))));
    }
    tracer.span("keep").start().end();
    assert_eq!(ran.get(), 3, "recording spans are enriched");

    let spans = finished(&tracer, &exporter);
    assert_eq!(support::names(&spans), vec!["keep"]);
    let stats = tracer.stats();
    assert_eq!(stats.started, 4);
    assert_eq!(stats.ended, 4);
    assert_eq!(stats.unsampled, 3);
    assert_eq!(stats.exported, 1);
    assert_eq!(stats.dropped, 0);
}

#[test]
fn always_off_records_nothing_and_runs_no_enrichment() {
    let (tracer, exporter) = in_memory_tracer(|b| b.sampler(Sampler::AlwaysOff));
    let ran = Cell::new(false);
    let span = tracer.span("off").start();
    assert!(!span.is_recording());
    span.in_scope(|| {
        assert!(!enrich_span(|_| ran.set(true)));
        let child = tracer.span("off_child").start();
        assert!(!child.is_recording());
    });
    span.enrich(|_| ran.set(true));
    span.record_error(&std::io::Error::other("ignored"));
    drop(span);
    assert!(
        !ran.get(),
        "no closure runs for a span that does not record"
    );

    let spans = finished(&tracer, &exporter);
    assert!(spans.is_empty(), "{:?}", support::names(&spans));
    let stats = tracer.stats();
    assert_eq!((stats.started, stats.ended, stats.exported), (0, 0, 0));
}

#[test]
fn the_default_sampler_samples_everything() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("on").start();
    assert!(span.is_recording());
    assert!(span.span_context().is_sampled());
    drop(span);
    assert_eq!(finished(&tracer, &exporter).len(), 1);
    assert_eq!(tracer.stats().unsampled, 0);
}
