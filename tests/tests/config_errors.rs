//! Unusable configuration is an error that names the setting, never a panic, and secrets
//! never reach an error or a `Debug` string.

use hivetrace::{Error, Tracer, TracerBuilder};
use hivetrace_tests::fake_env::vars;
use hivetrace_tests::{Receiver, closed_port};

/// Builds from `env` alone, expecting an error. The lookup also names a trace file in a
/// temporary directory, so a build that wrongly succeeds writes nothing into the repository.
fn build_error(env: &[(&str, &str)]) -> Error {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("traces.jsonl");
    let mut pairs: Vec<(String, String)> = vec![(
        "HH_TRACE_FILE".to_owned(),
        file.to_string_lossy().into_owned(),
    )];
    pairs.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    match TracerBuilder::from_env_with(vars(pairs)).build() {
        Ok(tracer) => panic!("{env:?} should not build, got {tracer:?}"),
        Err(e) => e,
    }
}

#[test]
fn unparsable_values_are_errors_naming_the_variable_and_the_value() {
    let cases = [
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "soon"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "10s"),
        ("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "-5"),
        ("OTEL_BSP_EXPORT_TIMEOUT", "1.5"),
        ("OTEL_BSP_SCHEDULE_DELAY", "fast"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "0"),
        ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "many"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/xml"),
        ("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "-1"),
        ("HH_CONVENTIONS", "zipkin"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team"),
    ];
    for (name, value) in cases {
        let err = build_error(&[(name, value)]);
        let msg = err.to_string();
        assert!(
            matches!(err, Error::InvalidConfig { .. }),
            "{name}={value}: {err:?}"
        );
        assert!(msg.contains(name), "{name}={value}: {msg}");
        assert!(msg.contains(value), "{name}={value}: {msg}");
    }
}

#[test]
fn endpoints_that_are_not_urls_are_errors_naming_the_variable_and_the_value() {
    for name in [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "HH_API_URL",
        "HONEYHIVE_SERVER_URL",
    ] {
        for value in ["not a url", "localhost:4318", "ftp://collector/v1/traces"] {
            let err = build_error(&[(name, value)]);
            let msg = err.to_string();
            assert!(msg.contains(name), "{name}={value}: {msg}");
            assert!(msg.contains(value), "{name}={value}: {msg}");
        }
    }
}

#[test]
fn an_explicit_endpoint_that_is_not_a_url_is_an_error() {
    let err = Tracer::builder()
        .endpoint("collector:4318")
        .build()
        .expect_err("not a URL");
    let msg = err.to_string();
    assert!(msg.contains("endpoint"), "{msg}");
    assert!(msg.contains("collector:4318"), "{msg}");
}

#[test]
fn malformed_header_lists_name_the_variable_but_never_a_value() {
    let err = build_error(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "authorization=Bearer sk-live-first,sk-live-second",
        ),
    ]);
    let shown = format!("{err} / {err:?}");
    assert!(shown.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{shown}");
    assert!(!shown.contains("sk-live"), "a header value leaked: {shown}");
}

#[test]
fn header_values_http_cannot_carry_are_errors_without_the_value() {
    for name in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        let err = build_error(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"),
            (name, "x-api-key=sk-live-abc%0Aevil"),
        ]);
        let shown = format!("{err} / {err:?}");
        assert!(shown.contains(name), "{shown}");
        assert!(!shown.contains("sk-live"), "a header value leaked: {shown}");
    }
}

#[test]
fn an_api_key_http_cannot_carry_is_an_error_without_the_key() {
    let err = build_error(&[
        ("HH_API_URL", "http://127.0.0.1:4318"),
        ("HH_API_KEY", "sk-live-abc\nevil"),
    ]);
    let shown = format!("{err} / {err:?}");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    assert!(!shown.contains("sk-live"), "the key leaked: {shown}");
}

#[test]
fn debug_never_shows_the_api_key_or_header_values() {
    let receiver = Receiver::start();
    let builder = Tracer::builder()
        .api_key("hh-secret-key-42")
        .api_url(receiver.url())
        .header("x-api-token", "tok-secret-43");
    let shown = format!("{builder:?} {builder:#?}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(
        shown.contains("x-api-token"),
        "names are fine to show: {shown}"
    );

    let tracer = builder.build().expect("a valid configuration");
    let shown = format!(
        "{tracer:?} {tracer:#?} {} {:?}",
        tracer.destination(),
        tracer.destination()
    );
    assert!(!shown.contains("secret"), "{shown}");

    // The key did reach the wire, so the test above was not vacuous.
    tracer.span("probe").start().end();
    tracer.force_flush().expect("the receiver accepts");
    let requests = receiver.requests();
    assert_eq!(
        requests[0].header("authorization"),
        Some("Bearer hh-secret-key-42")
    );
    assert_eq!(requests[0].header("x-api-token"), Some("tok-secret-43"));
}

#[test]
fn debug_of_a_tracer_configured_from_the_environment_never_shows_the_api_key() {
    let env = vars([
        ("HH_API_KEY", "hh-secret-key-44".to_owned()),
        ("HH_API_URL", format!("http://127.0.0.1:{}", closed_port())),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-token=tok-secret-45".to_owned(),
        ),
    ]);
    let builder = TracerBuilder::from_env_with(env);
    assert!(!format!("{builder:?}").contains("secret"));
    let tracer = builder.build().expect("a valid configuration");
    let shown = format!("{tracer:?} {tracer:#?} {}", tracer.destination());
    assert!(!shown.contains("secret"), "{shown}");
}
