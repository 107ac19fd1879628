//! `enrich_span` and `enrich_session`: HoneyHive's sections as typed, flattened attributes on
//! the right span, and nothing done when there is no span to enrich.
#![cfg(feature = "testing")]

mod support;

use std::cell::Cell;

use hivetrace_core::{EnrichValue, EventType, Section, enrich_session, enrich_span};
use opentelemetry::trace::Status;
use opentelemetry::{Array, KeyValue, Value};
use serde_json::json;
use support::{attr, expect_attr, finished, in_memory_tracer, named};

#[test]
fn sections_become_prefixed_keys_that_keep_their_types() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("enriched").start();
    let enriched = span.in_scope(|| {
        enrich_span(|e| {
            e.metadata("customer", "acme")
                .metrics("latency_ms", 12.5)
                .metrics("calls", 3)
                .feedback("liked", true)
                .config("temperature", 0.2)
                .user_properties("tier", "pro")
                .outputs("answer", "hello")
                .inputs(
                    "query",
                    json!({"text": "hi", "opts": {"lang": "en", "n": 2}, "tags": ["a", "b"], "none": null}),
                )
                .attribute(KeyValue::new("custom.key", 7_i64));
        })
    });
    assert!(enriched, "a recording span was current");
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "enriched");
    let expected = [
        ("honeyhive_metadata.customer", Value::from("acme")),
        ("honeyhive_metrics.latency_ms", Value::F64(12.5)),
        ("honeyhive_metrics.calls", Value::I64(3)),
        ("honeyhive_feedback.liked", Value::Bool(true)),
        ("honeyhive_config.temperature", Value::F64(0.2)),
        ("honeyhive_user_properties.tier", Value::from("pro")),
        ("honeyhive_outputs.answer", Value::from("hello")),
        ("honeyhive_inputs.query.text", Value::from("hi")),
        ("honeyhive_inputs.query.opts.lang", Value::from("en")),
        ("honeyhive_inputs.query.opts.n", Value::I64(2)),
        (
            "honeyhive_inputs.query.tags",
            Value::Array(Array::String(vec!["a".into(), "b".into()])),
        ),
        ("custom.key", Value::I64(7)),
    ];
    for (key, value) in expected {
        assert_eq!(expect_attr(span, key), &value, "{key}");
    }
    assert!(
        attr(span, "honeyhive_inputs.query.none").is_none(),
        "nulls are skipped"
    );
    assert!(
        attr(span, "honeyhive_inputs.query").is_none(),
        "objects are flattened"
    );
}

#[test]
fn section_json_and_serialize_values_are_flattened() {
    #[derive(serde::Serialize)]
    struct Usage {
        prompt_tokens: u32,
        completion_tokens: u32,
    }
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("json").start();
    span.enrich(|e| {
        e.section_json(Section::Metadata, json!({"run": {"id": 9}, "ok": false}))
            .section(
                Section::Metrics,
                "usage",
                EnrichValue::json(&Usage {
                    prompt_tokens: 10,
                    completion_tokens: 5,
                }),
            );
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "json");
    assert_eq!(
        expect_attr(span, "honeyhive_metadata.run.id"),
        &Value::I64(9)
    );
    assert_eq!(
        expect_attr(span, "honeyhive_metadata.ok"),
        &Value::Bool(false)
    );
    assert_eq!(
        expect_attr(span, "honeyhive_metrics.usage.prompt_tokens"),
        &Value::I64(10)
    );
    assert_eq!(
        expect_attr(span, "honeyhive_metrics.usage.completion_tokens"),
        &Value::I64(5)
    );
}

#[test]
fn enrich_error_sets_the_message_but_not_the_status() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("soft_failure").start();
    span.in_scope(|| {
        enrich_span(|e| {
            e.error("retrying after a rate limit");
        })
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "soft_failure");
    assert_eq!(
        expect_attr(span, "honeyhive_error"),
        &Value::from("retrying after a rate limit")
    );
    assert_eq!(span.status, Status::Unset);
}

#[test]
fn without_a_current_span_enrich_span_returns_false_and_skips_the_closure() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let ran = Cell::new(false);
    assert!(!enrich_span(|_| ran.set(true)));
    assert!(!ran.get());

    // A span that exists but is not entered is not current either.
    let span = tracer.span("not_entered").start();
    assert!(!enrich_span(|_| ran.set(true)));
    assert!(!ran.get());
    {
        let _current = span.enter();
    }
    assert!(!enrich_span(|_| ran.set(true)), "the guard is gone");
    assert!(!ran.get());
    drop(span);

    let spans = finished(&tracer, &exporter);
    assert!(
        named(&spans, "not_entered")
            .attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("honeyhive_metadata")),
    );
}

#[test]
fn enrich_session_writes_to_the_enclosing_session_span() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let session = tracer
        .span("session")
        .event_type(EventType::Session)
        .start();
    session.in_scope(|| {
        let chain = tracer.span("chain").event_type(EventType::Chain).start();
        chain.in_scope(|| {
            let model = tracer.span("model").event_type(EventType::Model).start();
            model.in_scope(|| {
                assert!(enrich_session(|e| {
                    e.metadata("turn", 3).user_properties("user_id", "u-7");
                }));
                assert!(enrich_span(|e| {
                    e.metadata("own", "model");
                }));
            });
        });
    });
    drop(session);

    let spans = finished(&tracer, &exporter);
    let session = named(&spans, "session");
    let model = named(&spans, "model");
    let chain = named(&spans, "chain");
    assert_eq!(
        expect_attr(session, "honeyhive_metadata.turn"),
        &Value::I64(3)
    );
    assert_eq!(
        expect_attr(session, "honeyhive_user_properties.user_id"),
        &Value::from("u-7")
    );
    assert!(attr(session, "honeyhive_metadata.own").is_none());
    for span in [model, chain] {
        assert!(
            attr(span, "honeyhive_metadata.turn").is_none(),
            "{} got the session's data",
            span.name
        );
    }
    assert_eq!(
        expect_attr(model, "honeyhive_metadata.own"),
        &Value::from("model")
    );
}

#[test]
fn enrich_session_without_a_session_span_returns_false() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let ran = Cell::new(false);
    assert!(!enrich_session(|_| ran.set(true)), "no span at all");

    let chain = tracer.span("chain").event_type(EventType::Chain).start();
    chain.in_scope(|| {
        let tool = tracer.span("tool").start();
        tool.in_scope(|| assert!(!enrich_session(|_| ran.set(true))));
    });
    assert!(!ran.get());
    drop(chain);

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 2);
    for span in &spans {
        assert!(
            span.attributes
                .iter()
                .all(|kv| !kv.key.as_str().starts_with("honeyhive_metadata"))
        );
    }
}

#[test]
fn a_key_set_twice_is_exported_once_with_its_last_value() {
    let (tracer, exporter) = in_memory_tracer(|b| b.project("tracer-project"));
    let span = tracer
        .span("twice")
        .attribute(KeyValue::new("honeyhive.project", "span-project"))
        .start();
    span.in_scope(|| {
        enrich_span(|e| {
            e.metadata("k", 1)
                .metadata("k", 2)
                .metadata("a.b", "flat")
                .metadata("a", json!({"b": "nested"}));
        })
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "twice");
    let count = |key: &str| {
        span.attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .count()
    };
    for key in [
        "honeyhive_metadata.k",
        "honeyhive_metadata.a.b",
        "honeyhive.project",
    ] {
        assert_eq!(count(key), 1, "{key}");
    }
    assert_eq!(expect_attr(span, "honeyhive_metadata.k"), &Value::I64(2));
    assert_eq!(
        expect_attr(span, "honeyhive_metadata.a.b"),
        &Value::from("nested")
    );
    // The span's own value wins over the tracer's identity.
    assert_eq!(
        expect_attr(span, "honeyhive.project"),
        &Value::from("span-project")
    );
}

#[test]
fn an_error_survives_a_span_full_of_attributes_and_the_loss_is_counted() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let span = tracer.span("full").start();
    span.in_scope(enrich_200_inputs);
    span.record_error(&std::io::Error::other("the model timed out"));
    drop(span);

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "full");
    assert!(span.dropped_attributes_count > 0);
    assert_eq!(
        expect_attr(span, "honeyhive_error"),
        &Value::from("the model timed out")
    );
    assert_eq!(expect_attr(span, "error.type"), &Value::from("Error"));
    assert_eq!(
        expect_attr(span, "honeyhive_error_type"),
        &Value::from("Error")
    );
    assert!(matches!(span.status, Status::Error { .. }));
    assert_eq!(
        tracer.stats().attributes_dropped,
        u64::from(span.dropped_attributes_count)
    );
}

#[test]
fn the_attribute_count_limit_is_configurable_and_checked() {
    let (tracer, exporter) = in_memory_tracer(|b| b.max_attributes_per_span(300));
    let span = tracer.span("roomy").start();
    span.in_scope(enrich_200_inputs);
    drop(span);
    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "roomy");
    assert_eq!(span.dropped_attributes_count, 0);
    assert_eq!(
        expect_attr(span, "honeyhive_inputs.big.k199"),
        &Value::I64(199)
    );
    assert_eq!(tracer.stats().attributes_dropped, 0);

    let from_env = |value: &'static str| {
        hivetrace_core::TracerBuilder::from_env_with(move |k| {
            (k == "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT").then(|| value.to_owned())
        })
        .console_writer(std::io::sink())
        .build()
    };
    assert!(from_env("256").is_ok());
    for bad in ["0", "-1", "many", "99999999999"] {
        let err = from_env(bad).expect_err(bad).to_string();
        assert!(err.contains("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"), "{err}");
    }
    let err = hivetrace_core::Tracer::builder()
        .console_writer(std::io::sink())
        .max_attributes_per_span(0)
        .build()
        .expect_err("zero")
        .to_string();
    assert!(err.contains("max_attributes_per_span"), "{err}");
}

/// Enriches the current span with one input of 200 keys: 200 flattened attributes.
fn enrich_200_inputs() {
    let inputs: serde_json::Map<String, serde_json::Value> =
        (0..200).map(|i| (format!("k{i}"), json!(i))).collect();
    enrich_span(|e| {
        e.inputs("big", serde_json::Value::Object(inputs));
    });
}
