//! The three vocabularies: HoneyHive's keys written while a span runs, and the OpenInference
//! and OpenTelemetry GenAI keys derived from them when it is exported.
#![cfg(feature = "testing")]

mod support;

use hivetrace_core::{Conventions, EventType, Span, Tracer, enrich_span};
use opentelemetry::Value;
use serde_json::json;
use support::{attr, expect_attr, finished, in_memory_tracer, named};

/// A model call inside a chain inside a tool call, enriched the way an LLM wrapper would.
fn record_llm_call(tracer: &Tracer) {
    let chain = tracer.span("chain").event_type(EventType::Chain).start();
    chain.in_scope(|| {
        let model = tracer.span("chat").event_type(EventType::Model).start();
        model.in_scope(|| {
            enrich_span(|e| {
                e.config("model", "gpt-4o")
                    .config("provider", "openai")
                    .config("temperature", 0.3)
                    .config("max_tokens", 256)
                    .metrics("prompt_tokens", 42)
                    .metrics("completion_tokens", 8)
                    .inputs("question", "what is 2+2?")
                    .inputs("max_words", 5)
                    .outputs("result", "4")
                    .metadata("customer", "acme")
                    .metadata("attempt", 2);
            });
        });
        let tool: Span = tracer.span("search").start();
        tool.in_scope(|| {
            enrich_span(|e| {
                e.inputs("query", "2+2");
            });
        });
    });
}

fn json_attr(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> serde_json::Value {
    let text = expect_attr(span, key).as_str();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{key} is not JSON ({e}): {text}"))
}

#[test]
fn openinference_keys_are_derived_from_honeyhive_ones() {
    let (tracer, exporter) = in_memory_tracer(|b| b.conventions(Conventions::all()));
    record_llm_call(&tracer);
    let spans = finished(&tracer, &exporter);
    let (chat, chain, search) = (
        named(&spans, "chat"),
        named(&spans, "chain"),
        named(&spans, "search"),
    );

    assert_eq!(
        expect_attr(chat, "openinference.span.kind"),
        &Value::from("LLM")
    );
    assert_eq!(
        expect_attr(chain, "openinference.span.kind"),
        &Value::from("CHAIN")
    );
    assert_eq!(
        expect_attr(search, "openinference.span.kind"),
        &Value::from("TOOL")
    );

    assert_eq!(
        json_attr(chat, "input.value"),
        json!({"question": "what is 2+2?", "max_words": 5})
    );
    assert_eq!(
        expect_attr(chat, "input.mime_type"),
        &Value::from("application/json")
    );
    assert_eq!(expect_attr(chat, "output.value"), &Value::from("4"));
    assert_eq!(
        expect_attr(chat, "output.mime_type"),
        &Value::from("text/plain")
    );
    assert_eq!(expect_attr(search, "input.value"), &Value::from("2+2"));
    assert_eq!(
        expect_attr(search, "input.mime_type"),
        &Value::from("text/plain")
    );
    assert!(attr(search, "output.value").is_none());

    assert_eq!(
        json_attr(chat, "metadata"),
        json!({"customer": "acme", "attempt": 2})
    );
    assert!(attr(chain, "metadata").is_none(), "no metadata, no key");

    for span in [chat, chain, search] {
        assert_eq!(
            expect_attr(span, "session.id"),
            &Value::from(tracer.session_id().to_owned()),
            "{}",
            span.name
        );
    }
    assert_eq!(expect_attr(chat, "llm.model_name"), &Value::from("gpt-4o"));
    assert_eq!(expect_attr(chat, "llm.provider"), &Value::from("openai"));
    assert_eq!(expect_attr(chat, "llm.token_count.prompt"), &Value::I64(42));
    assert_eq!(
        expect_attr(chat, "llm.token_count.completion"),
        &Value::I64(8)
    );
    assert_eq!(expect_attr(chat, "llm.token_count.total"), &Value::I64(50));
    assert!(attr(search, "llm.model_name").is_none());
}

#[test]
fn genai_keys_are_derived_from_honeyhive_ones() {
    let (tracer, exporter) = in_memory_tracer(|b| b.conventions(Conventions::all()));
    record_llm_call(&tracer);
    let spans = finished(&tracer, &exporter);
    let (chat, chain, search) = (
        named(&spans, "chat"),
        named(&spans, "chain"),
        named(&spans, "search"),
    );

    assert_eq!(
        expect_attr(chat, "gen_ai.operation.name"),
        &Value::from("chat")
    );
    assert_eq!(
        expect_attr(chain, "gen_ai.operation.name"),
        &Value::from("invoke_workflow")
    );
    assert_eq!(
        expect_attr(search, "gen_ai.operation.name"),
        &Value::from("execute_tool")
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.request.model"),
        &Value::from("gpt-4o")
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.provider.name"),
        &Value::from("openai")
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.request.temperature"),
        &Value::F64(0.3)
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.request.max_tokens"),
        &Value::I64(256)
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.usage.input_tokens"),
        &Value::I64(42)
    );
    assert_eq!(
        expect_attr(chat, "gen_ai.usage.output_tokens"),
        &Value::I64(8)
    );
    assert!(attr(search, "gen_ai.request.model").is_none());

    // HoneyHive's keys are still there alongside.
    assert_eq!(
        expect_attr(chat, "honeyhive_config.model"),
        &Value::from("gpt-4o")
    );
    assert_eq!(
        expect_attr(chat, "honeyhive_event_type"),
        &Value::from("model")
    );
}

#[test]
fn keys_set_by_the_user_are_not_overwritten() {
    let (tracer, exporter) = in_memory_tracer(|b| b.conventions(Conventions::all()));
    let span = tracer.span("chat").event_type(EventType::Model).start();
    span.in_scope(|| {
        enrich_span(|e| {
            e.config("model", "gpt-4o")
                .attribute(opentelemetry::KeyValue::new(
                    "gen_ai.request.model",
                    "gpt-4o-2024-08-06",
                ))
                .attribute(opentelemetry::KeyValue::new(
                    "openinference.span.kind",
                    "EMBEDDING",
                ));
        });
    });
    drop(span);

    let spans = finished(&tracer, &exporter);
    let chat = named(&spans, "chat");
    let count = |key: &str| {
        chat.attributes
            .iter()
            .filter(|kv| kv.key.as_str() == key)
            .count()
    };
    assert_eq!(count("gen_ai.request.model"), 1);
    assert_eq!(count("openinference.span.kind"), 1);
    assert_eq!(
        expect_attr(chat, "gen_ai.request.model"),
        &Value::from("gpt-4o-2024-08-06")
    );
    assert_eq!(
        expect_attr(chat, "openinference.span.kind"),
        &Value::from("EMBEDDING")
    );
    // The model name OpenInference did not have is still derived.
    assert_eq!(expect_attr(chat, "llm.model_name"), &Value::from("gpt-4o"));
}

#[test]
fn the_default_writes_honeyhive_keys_only() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    record_llm_call(&tracer);
    let spans = finished(&tracer, &exporter);
    let chat = named(&spans, "chat");
    assert_eq!(
        expect_attr(chat, "honeyhive_config.model"),
        &Value::from("gpt-4o")
    );
    for span in &spans {
        for kv in &span.attributes {
            let key = kv.key.as_str();
            assert!(
                !(key.starts_with("gen_ai.")
                    || key.starts_with("llm.")
                    || key.starts_with("openinference.")
                    || key.starts_with("input.")
                    || key.starts_with("output.")
                    || key == "session.id"
                    || key == "metadata"),
                "{} has {key} with the default conventions",
                span.name
            );
        }
    }
}

#[test]
fn with_honeyhive_off_no_honeyhive_key_remains() {
    let (tracer, exporter) = in_memory_tracer(|b| {
        b.project("p").conventions(
            Conventions::default()
                .with_honeyhive(false)
                .with_openinference(true),
        )
    });
    record_llm_call(&tracer);
    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 3);
    for span in &spans {
        for kv in &span.attributes {
            assert!(
                !kv.key.as_str().starts_with("honeyhive"),
                "{} still has {}",
                span.name,
                kv.key
            );
        }
        assert!(
            attr(span, "gen_ai.operation.name").is_none(),
            "GenAI is off"
        );
    }
    let chat = named(&spans, "chat");
    assert_eq!(
        expect_attr(chat, "openinference.span.kind"),
        &Value::from("LLM")
    );
    assert_eq!(expect_attr(chat, "llm.model_name"), &Value::from("gpt-4o"));
    assert_eq!(expect_attr(chat, "output.value"), &Value::from("4"));
    assert_eq!(
        json_attr(chat, "metadata"),
        json!({"customer": "acme", "attempt": 2})
    );
}

#[test]
fn with_honeyhive_off_openinference_still_gets_the_session_id() {
    let (tracer, exporter) = in_memory_tracer(|b| {
        b.conventions(
            Conventions::default()
                .with_honeyhive(false)
                .with_openinference(true),
        )
    });
    tracer.span("work").start().end();
    let spans = finished(&tracer, &exporter);
    assert_eq!(
        attr(named(&spans, "work"), "session.id"),
        Some(&Value::from(tracer.session_id().to_owned())),
        "the tracer's session must reach OpenInference backends too"
    );
}
