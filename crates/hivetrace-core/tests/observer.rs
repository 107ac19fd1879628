//! Span observers: called by hivetrace's processor at start (able to add attributes) and at
//! end (with the span that is then exported), in the order added, for spans that record.

use std::sync::{Arc, Mutex};

use hivetrace_core::exporter::Exporter;
use hivetrace_core::otel::opentelemetry_sdk::trace::{InMemorySpanExporter, Sampler, SpanData};
use hivetrace_core::{SpanObserver, Tracer};
use opentelemetry::trace::Span as _;
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::trace::Span as SdkSpan;

#[derive(Debug)]
struct Tagging {
    tag: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl SpanObserver for Tagging {
    fn on_start(&self, span: &mut SdkSpan, _cx: &Context) {
        span.set_attribute(KeyValue::new(self.tag, true));
        self.log
            .lock()
            .expect("log")
            .push(format!("start {}", self.tag));
    }

    fn on_end(&self, span: &SpanData) {
        let tagged = span.attributes.iter().any(|kv| kv.key.as_str() == self.tag);
        self.log
            .lock()
            .expect("log")
            .push(format!("end {} {} tagged={tagged}", self.tag, span.name));
    }
}

fn tracer(log: &Arc<Mutex<Vec<String>>>, sampler: Sampler) -> (Tracer, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .exporter(Exporter::from(exporter.clone()))
        .sampler(sampler)
        .observer(Tagging {
            tag: "first",
            log: log.clone(),
        })
        .observer(Arc::new(Tagging {
            tag: "second",
            log: log.clone(),
        }))
        .build()
        .expect("builds");
    (tracer, exporter)
}

#[test]
fn observers_tag_at_start_and_see_the_exported_span_at_end_in_order() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tracer, exporter) = tracer(&log, Sampler::AlwaysOn);
    tracer.span("work").start().end();
    tracer.force_flush().expect("flush");

    assert_eq!(
        *log.lock().expect("log"),
        [
            "start first",
            "start second",
            "end first work tagged=true",
            "end second work tagged=true",
        ]
    );
    let spans = exporter.get_finished_spans().expect("readable");
    assert_eq!(spans.len(), 1);
    for tag in ["first", "second"] {
        assert!(spans[0].attributes.iter().any(|kv| kv.key.as_str() == tag));
    }
}

#[test]
fn spans_that_do_not_record_are_not_observed() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let (tracer, exporter) = tracer(&log, Sampler::AlwaysOff);
    tracer.span("dropped").start().end();
    tracer.force_flush().expect("flush");
    assert!(log.lock().expect("log").is_empty());
    assert!(exporter.get_finished_spans().expect("readable").is_empty());
}
