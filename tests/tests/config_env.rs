//! Configuration from `HH_*` and `OTEL_*` variables, checked by what reaches the wire.

use std::time::Duration;

use hivetrace::otel::opentelemetry::KeyValue;
use hivetrace::otel::opentelemetry::trace::TraceContextExt;
use hivetrace::{Destination, Tracer, TracerBuilder};
use hivetrace_tests::fake_env::{in_child_process, is_child_process, vars};
use hivetrace_tests::{Encoding, Receiver, RecordedRequest, attributes};

const WAIT: Duration = Duration::from_secs(10);

/// Builds a tracer from `env`, sends one span named `probe`, and returns the request that
/// carried it.
fn probe(receiver: &Receiver, builder: TracerBuilder) -> RecordedRequest {
    let tracer = builder.build().expect("a valid configuration");
    tracer.span("probe").start().end();
    tracer.force_flush().expect("the receiver accepts");
    let requests = receiver.wait_for_requests(1, WAIT).expect("a request");
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = requests.into_iter().next().expect("one request");
    let names: Vec<&str> = request.spans().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["probe"]);
    request
}

fn span_attribute(request: &RecordedRequest, key: &str) -> Option<String> {
    let span = request.spans().next()?;
    attributes::str_value(&span.attributes, key).map(str::to_owned)
}

fn resource_attribute(request: &RecordedRequest, key: &str) -> Option<String> {
    let resource = request
        .decoded()
        .ok()?
        .resource_spans
        .first()?
        .resource
        .as_ref()?;
    attributes::str_value(&resource.attributes, key).map(str::to_owned)
}

#[test]
fn api_key_sends_bearer_token_and_source_to_the_honeyhive_path() {
    let receiver = Receiver::start();
    let env = vars([
        ("HH_API_KEY", "hh-test-key-123"),
        ("HH_API_URL", receiver.url().as_str()),
        ("HH_PROJECT", "support-bot"),
        ("HH_SOURCE", "staging"),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));

    assert_eq!(request.path(), "/opentelemetry/v1/traces");
    assert_eq!(
        request.header("authorization"),
        Some("Bearer hh-test-key-123")
    );
    assert_eq!(request.header("x-source"), Some("staging"));
    assert_eq!(request.encoding(), Encoding::Protobuf);
    assert_eq!(
        span_attribute(&request, "honeyhive.project").as_deref(),
        Some("support-bot")
    );
    assert_eq!(
        span_attribute(&request, "honeyhive.source").as_deref(),
        Some("staging")
    );
}

#[test]
fn api_url_with_a_trailing_slash_gets_one_separator() {
    let receiver = Receiver::start();
    let env = vars([
        ("HH_API_KEY", "hh-test-key"),
        ("HH_API_URL", format!("{}/", receiver.url()).as_str()),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));
    assert_eq!(request.path(), "/opentelemetry/v1/traces");
    assert_eq!(
        request.header("x-source"),
        Some("dev"),
        "the default source"
    );
}

#[test]
fn otlp_headers_from_the_environment_are_sent_percent_decoded() {
    let receiver = Receiver::start();
    let env = vars([
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.traces_url()),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-tenant=acme, x-api-token=tok%20123".to_owned(),
        ),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));
    assert_eq!(request.header("x-tenant"), Some("acme"));
    assert_eq!(request.header("x-api-token"), Some("tok 123"));
    assert_eq!(
        request.header("authorization"),
        None,
        "no API key, no bearer"
    );
}

#[test]
fn traces_headers_win_over_general_headers() {
    let receiver = Receiver::start();
    let env = vars([
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.traces_url()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=general".to_owned()),
        (
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-tenant=traces".to_owned(),
        ),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));
    assert_eq!(request.header("x-tenant"), Some("traces"));
}

#[test]
fn explicit_builder_values_win_over_the_environment() {
    let from_env = Receiver::start();
    let explicit = Receiver::start();
    let env = vars([
        ("HH_PROJECT", "env-project".to_owned()),
        ("HH_SOURCE", "env-source".to_owned()),
        ("HH_API_KEY", "env-key".to_owned()),
        ("OTEL_SERVICE_NAME", "env-service".to_owned()),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", from_env.traces_url()),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=env".to_owned()),
    ]);
    let builder = TracerBuilder::from_env_with(env)
        .project("explicit-project")
        .source("explicit-source")
        .api_key("explicit-key")
        .service_name("explicit-service")
        .header("x-tenant", "explicit")
        .endpoint(format!("{}/custom/traces", explicit.url()));
    let request = probe(&explicit, builder);

    assert_eq!(request.path(), "/custom/traces");
    assert_eq!(
        span_attribute(&request, "honeyhive.project").as_deref(),
        Some("explicit-project")
    );
    assert_eq!(
        span_attribute(&request, "honeyhive.source").as_deref(),
        Some("explicit-source")
    );
    assert_eq!(
        resource_attribute(&request, "service.name").as_deref(),
        Some("explicit-service")
    );
    assert_eq!(request.header("authorization"), Some("Bearer explicit-key"));
    assert_eq!(request.header("x-source"), Some("explicit-source"));
    assert_eq!(request.header("x-tenant"), Some("explicit"));
    assert!(
        from_env.requests().is_empty(),
        "the environment's endpoint got {:#?}",
        from_env.requests()
    );
}

#[test]
fn general_endpoint_gets_the_signal_path_appended() {
    for suffix in ["", "/", "/collector", "/collector/"] {
        let receiver = Receiver::start();
        let env = vars([(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("{}{suffix}", receiver.url()),
        )]);
        let request = probe(&receiver, TracerBuilder::from_env_with(env));
        let expected = format!("{}/v1/traces", suffix.trim_end_matches('/'));
        assert_eq!(request.path(), expected, "endpoint suffix {suffix:?}");
    }
}

#[test]
fn traces_endpoint_is_used_verbatim_and_wins_over_the_general_one() {
    let receiver = Receiver::start();
    let other = Receiver::start();
    let env = vars([
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            format!("{}/ingest/spans", receiver.url()),
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", other.url()),
    ]);
    let builder = TracerBuilder::from_env_with(env);
    let request = probe(&receiver, builder);
    assert_eq!(request.path(), "/ingest/spans");
    assert!(other.requests().is_empty());
}

#[test]
fn otlp_endpoint_wins_over_the_honeyhive_url() {
    let otlp = Receiver::start();
    let honeyhive = Receiver::start();
    let env = vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.url()),
        ("HH_API_URL", honeyhive.url()),
        ("HH_API_KEY", "hh-key".to_owned()),
    ]);
    let request = probe(&otlp, TracerBuilder::from_env_with(env));
    assert_eq!(request.path(), "/v1/traces");
    assert_eq!(
        request.header("authorization"),
        None,
        "the HoneyHive key is not sent to an endpoint that came from OTEL_* variables"
    );
    assert!(honeyhive.requests().is_empty());
}

#[test]
fn an_endpoint_set_in_code_gets_the_api_key() {
    let receiver = Receiver::start();
    let env = vars([("HH_API_KEY", "hh-key".to_owned())]);
    let builder = TracerBuilder::from_env_with(env).endpoint(receiver.traces_url());
    let request = probe(&receiver, builder);
    assert_eq!(request.header("authorization"), Some("Bearer hh-key"));
    assert_eq!(request.header("x-source"), Some("dev"));
}

#[test]
fn process_environment_headers_do_not_override_explicit_ones() {
    // opentelemetry-otlp reads OTEL_EXPORTER_OTLP_HEADERS from the process environment by
    // itself. Setting a variable in this process is unsafe, so the check runs in a child.
    if !is_child_process() {
        return in_child_process(
            "process_environment_headers_do_not_override_explicit_ones",
            &[(
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20from-env,x-only-in-env=1",
            )],
        );
    }
    let receiver = Receiver::start();
    let builder = TracerBuilder::new()
        .endpoint(receiver.traces_url())
        .header("authorization", "Bearer explicit");
    let request = probe(&receiver, builder);
    assert_eq!(request.header("authorization"), Some("Bearer explicit"));
    assert_eq!(
        request.header("x-only-in-env"),
        None,
        "new() reads no environment"
    );
}

#[test]
fn a_plain_builder_ignores_the_sdk_variables_of_the_process() {
    // The OpenTelemetry SDK reads OTEL_TRACES_SAMPLER and the event and link limits from the
    // process environment by itself; a builder not made from the environment must not.
    if !is_child_process() {
        return in_child_process(
            "a_plain_builder_ignores_the_sdk_variables_of_the_process",
            &[
                ("OTEL_TRACES_SAMPLER", "always_off"),
                ("OTEL_SPAN_EVENT_COUNT_LIMIT", "1"),
            ],
        );
    }
    let receiver = Receiver::start();
    let tracer = TracerBuilder::new()
        .endpoint(receiver.traces_url())
        .build()
        .expect("a valid configuration");
    let span = tracer.span("plain").start();
    assert!(
        span.is_recording(),
        "OTEL_TRACES_SAMPLER=always_off was read"
    );
    for n in 0..3 {
        span.context()
            .span()
            .add_event("step", vec![KeyValue::new("n", n)]);
    }
    span.end();
    tracer.force_flush().expect("the receiver accepts");
    let spans = receiver.wait_for_spans(1, WAIT).expect("the span arrives");
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].events.len(),
        3,
        "OTEL_SPAN_EVENT_COUNT_LIMIT=1 was read"
    );
}

#[test]
fn protocol_from_the_environment_selects_json() {
    let receiver = Receiver::start();
    let env = vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".to_owned()),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));
    assert_eq!(request.encoding(), Encoding::Json);
    assert_eq!(request.content_type(), Some("application/json"));
}

#[test]
fn service_name_and_resource_attributes_come_from_the_environment() {
    let receiver = Receiver::start();
    let env = vars([
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url()),
        ("OTEL_SERVICE_NAME", "answer-api".to_owned()),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=search,region=eu%2Dwest%201".to_owned(),
        ),
    ]);
    let request = probe(&receiver, TracerBuilder::from_env_with(env));
    assert_eq!(
        resource_attribute(&request, "service.name").as_deref(),
        Some("answer-api")
    );
    assert_eq!(
        resource_attribute(&request, "team").as_deref(),
        Some("search")
    );
    assert_eq!(
        resource_attribute(&request, "region").as_deref(),
        Some("eu-west 1")
    );
}

#[test]
fn destination_reports_the_resolved_endpoint() {
    let receiver = Receiver::start();
    let env = vars([("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url())]);
    let tracer: Tracer = TracerBuilder::from_env_with(env)
        .build()
        .expect("a valid configuration");
    match tracer.destination() {
        Destination::Otlp { endpoint, .. } => assert_eq!(*endpoint, receiver.traces_url()),
        other => panic!("expected an OTLP destination, got {other:?}"),
    }
}
