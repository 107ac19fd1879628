//! Span trees, the identity and HoneyHive keys stamped on export, error and panic recording,
//! and attribute truncation, observed through the in-memory exporter.
#![cfg(feature = "testing")]

mod support;

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use hivetrace_core::{EventType, TRUNCATION_MARKER, enrich_span};
use opentelemetry::trace::{Status, TraceContextExt};
use opentelemetry::{Array, Value};
use opentelemetry_sdk::trace::SpanData;
use support::{expect_attr, finished, in_memory_tracer, named, parent_of};

#[test]
fn entered_and_scoped_spans_form_one_tree() {
    let (tracer, exporter) = in_memory_tracer(|b| b.project("tree-test"));

    let session = tracer
        .span("session")
        .event_type(EventType::Session)
        .start();
    let session_id = session.span_context().span_id();
    {
        let _current = session.enter();
        let chain = tracer.span("chain").event_type(EventType::Chain).start();
        chain.in_scope(|| {
            tracer
                .span("model")
                .event_type(EventType::Model)
                .start()
                .end();
            tracer.in_span("tool", || {
                assert!(
                    opentelemetry::Context::current().has_active_span(),
                    "in_span makes its span current"
                );
            });
        });
    }
    // The guard is gone: a span started now starts a new trace.
    tracer.span("unrelated").start().end();
    drop(session);

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 5, "{:?}", support::names(&spans));
    let (session, chain, model, tool, unrelated) = (
        named(&spans, "session"),
        named(&spans, "chain"),
        named(&spans, "model"),
        named(&spans, "tool"),
        named(&spans, "unrelated"),
    );

    assert_eq!(session.span_context.span_id(), session_id);
    assert_eq!(parent_of(session), None);
    assert_eq!(parent_of(chain), Some(session_id));
    assert_eq!(parent_of(model), Some(chain.span_context.span_id()));
    assert_eq!(parent_of(tool), Some(chain.span_context.span_id()));
    assert_eq!(parent_of(unrelated), None);

    let trace = session.span_context.trace_id();
    for span in [chain, model, tool] {
        assert_eq!(
            span.span_context.trace_id(),
            trace,
            "{} is in the trace",
            span.name
        );
    }
    assert_ne!(unrelated.span_context.trace_id(), trace);
}

#[test]
fn event_type_name_and_duration_are_written_in_honeyhive_keys() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    for (name, event_type) in [
        ("a_model", EventType::Model),
        ("a_chain", EventType::Chain),
        ("a_session", EventType::Session),
    ] {
        tracer.span(name).event_type(event_type).start().end();
    }
    let slow = tracer.span("a_default").start();
    std::thread::sleep(Duration::from_millis(20));
    drop(slow);

    let spans = finished(&tracer, &exporter);
    let event_type = |name: &str| expect_attr(named(&spans, name), "honeyhive_event_type").clone();
    assert_eq!(event_type("a_model"), Value::from("model"));
    assert_eq!(event_type("a_chain"), Value::from("chain"));
    assert_eq!(event_type("a_session"), Value::from("session"));
    assert_eq!(
        event_type("a_default"),
        Value::from("tool"),
        "HoneyHive's default"
    );

    for span in &spans {
        assert_eq!(
            expect_attr(span, "honeyhive_event_name"),
            &Value::from(span.name.to_string())
        );
        let count = span
            .attributes
            .iter()
            .filter(|kv| kv.key.as_str() == "honeyhive_event_type")
            .count();
        assert_eq!(count, 1, "{} has one event type", span.name);
    }
    match expect_attr(named(&spans, "a_default"), "honeyhive_duration_ms") {
        Value::F64(ms) => assert!(
            (20.0..10_000.0).contains(ms),
            "a span that slept 20 ms lasted {ms} ms"
        ),
        other => panic!("duration is a float, got {other:?}"),
    }
}

#[test]
fn identity_is_stamped_on_every_span() {
    let (tracer, exporter) = in_memory_tracer(|b| b.project("support-bot"));
    let root = tracer.span("root").start();
    root.in_scope(|| tracer.span("child").start().end());
    drop(root);

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 2);
    assert!(!tracer.session_id().is_empty());
    for span in &spans {
        assert_eq!(
            expect_attr(span, "honeyhive.project"),
            &Value::from("support-bot")
        );
        assert_eq!(expect_attr(span, "honeyhive.source"), &Value::from("dev"));
        assert_eq!(
            expect_attr(span, "honeyhive.session_id"),
            &Value::from(tracer.session_id().to_owned())
        );
    }
}

#[test]
fn configured_source_session_id_and_name_are_stamped() {
    let (tracer, exporter) = in_memory_tracer(|b| {
        b.project("p")
            .source("prod")
            .session_id("session-42")
            .session_name("nightly eval")
    });
    assert_eq!(tracer.session_id(), "session-42");
    tracer.span("work").start().end();

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "work");
    assert_eq!(expect_attr(span, "honeyhive.source"), &Value::from("prod"));
    assert_eq!(
        expect_attr(span, "honeyhive.session_id"),
        &Value::from("session-42")
    );
    assert_eq!(
        expect_attr(span, "honeyhive.session_name"),
        &Value::from("nightly eval")
    );
}

fn exception_event(span: &SpanData) -> (Value, Value) {
    let events: Vec<_> = span
        .events
        .iter()
        .filter(|e| e.name == "exception")
        .collect();
    assert_eq!(events.len(), 1, "one exception event on {}", span.name);
    let get = |key: &str| {
        events[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
            .unwrap_or_else(|| panic!("the exception event has no {key}"))
    };
    (get("exception.type"), get("exception.message"))
}

#[test]
fn record_error_sets_status_event_and_honeyhive_keys() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("read_config").start();
    let error = io::Error::new(io::ErrorKind::NotFound, "config.toml is missing");
    span.record_error(&error);
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "read_config");
    assert_eq!(span.status, Status::error("config.toml is missing"));
    let (kind, message) = exception_event(span);
    assert_eq!(kind, Value::from("Error"));
    assert_eq!(message, Value::from("config.toml is missing"));
    assert_eq!(
        expect_attr(span, "honeyhive_error"),
        &Value::from("config.toml is missing")
    );
    assert_eq!(
        expect_attr(span, "honeyhive_error_type"),
        &Value::from("Error")
    );
    assert_eq!(expect_attr(span, "error.type"), &Value::from("Error"));
}

#[derive(Debug)]
struct RequestFailed {
    source: io::Error,
}

impl fmt::Display for RequestFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("request failed")
    }
}

impl StdError for RequestFailed {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

#[test]
fn record_error_message_includes_the_sources_and_the_short_type_name() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("call_api").start();
    span.record_error(&RequestFailed {
        source: io::Error::new(io::ErrorKind::ConnectionReset, "connection reset"),
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "call_api");
    let (kind, message) = exception_event(span);
    assert_eq!(kind, Value::from("RequestFailed"));
    assert_eq!(message, Value::from("request failed: connection reset"));
    assert_eq!(
        span.status,
        Status::error("request failed: connection reset")
    );
}

#[test]
fn a_span_dropped_by_a_panic_ends_with_an_error() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let caught = catch_unwind(AssertUnwindSafe(|| {
        let span = tracer.span("panicky").start();
        span.in_scope(|| -> u8 { panic!("boom") })
    }));
    assert!(caught.is_err(), "the panic goes on unwinding");
    tracer.span("after").start().end();

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "panicky");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "status: {:?}",
        span.status
    );
    assert_eq!(
        expect_attr(span, "honeyhive_error_type"),
        &Value::from("panic")
    );
    assert_eq!(exception_event(span).0, Value::from("panic"));
    // The guard was dropped while unwinding: nothing stays current.
    assert_eq!(parent_of(named(&spans, "after")), None);
    assert_eq!(named(&spans, "after").status, Status::Unset);
}

#[test]
fn a_panic_inside_in_scope_marks_a_span_that_outlives_the_catch() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("caught_panic").start();
    let caught = catch_unwind(AssertUnwindSafe(|| {
        span.in_scope(|| -> u8 { panic!("boom") })
    }));
    assert!(caught.is_err());
    // The panic was caught inside the span's lifetime: the span ends here, not while
    // unwinding, and must still say that its code panicked.
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "caught_panic");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "a panic inside in_scope left the span with status {:?}",
        span.status
    );
}

#[test]
fn long_values_are_cut_with_the_marker_within_the_limit() {
    // 16 bytes of text, then the marker: the limit bounds both.
    let limit = 16 + TRUNCATION_MARKER.len();
    let (tracer, exporter) = in_memory_tracer(|b| b.max_attribute_len(limit));
    assert_eq!(tracer.max_attribute_len(), limit);
    let span = tracer.span("long").start();
    span.in_scope(|| {
        enrich_span(|e| {
            e.metadata("long", "abcdefghijklmnopqrstuvwxyz".repeat(2))
                .metadata("short", "fits")
                .metadata("list", vec!["x".repeat(40), "y".to_owned()])
                .metrics("count", 123_456_789_012_i64);
        })
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "long");
    let long = expect_attr(span, "honeyhive_metadata.long").as_str();
    assert!(long.ends_with(TRUNCATION_MARKER), "{long}");
    assert_eq!(long, format!("abcdefghijklmnop{TRUNCATION_MARKER}"));
    assert_eq!(long.len(), limit);
    assert_eq!(
        expect_attr(span, "honeyhive_metadata.short"),
        &Value::from("fits")
    );
    assert_eq!(
        expect_attr(span, "honeyhive_metadata.list"),
        &Value::Array(Array::String(vec![
            format!("{}{TRUNCATION_MARKER}", "x".repeat(16)).into(),
            "y".into()
        ]))
    );
    assert_eq!(
        expect_attr(span, "honeyhive_metrics.count"),
        &Value::I64(123_456_789_012),
        "numbers are never cut"
    );
}

#[test]
fn spans_started_with_an_explicit_parent_ignore_the_current_one() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let a = tracer.span("a").start();
    let b = tracer.span("b").start();
    b.in_scope(|| tracer.span("child_of_a").parent(a.context()).start().end());
    drop((a, b));

    let spans = finished(&tracer, &exporter);
    assert_eq!(
        parent_of(named(&spans, "child_of_a")),
        Some(named(&spans, "a").span_context.span_id())
    );
    assert_eq!(parent_of(named(&spans, "b")), None);
}

#[test]
fn long_error_messages_and_names_are_cut_too() {
    let (tracer, exporter) = in_memory_tracer(|b| b.max_attribute_len(8 + TRUNCATION_MARKER.len()));
    let span = tracer.span("a-very-long-span-name-indeed").start();
    span.record_error_message("Huge", "x".repeat(1000));
    drop(span);

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 1);
    let span = &spans[0];
    assert_eq!(span.name, format!("a-very-l{TRUNCATION_MARKER}"));
    match &span.status {
        opentelemetry::trace::Status::Error { description } => {
            assert_eq!(description.as_ref(), format!("xxxxxxxx{TRUNCATION_MARKER}"));
        }
        other => panic!("expected an error status, got {other:?}"),
    }
}
