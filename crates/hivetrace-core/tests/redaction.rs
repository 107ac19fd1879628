//! Secrets given to the builder never reach `Debug` output or error messages.

use hivetrace_core::{Error, Tracer};

const SECRET: &str = "sk-secret-123";

#[test]
fn builder_debug_hides_the_api_key_and_secret_headers() {
    let builder = Tracer::builder()
        .project("p")
        .api_key(SECRET)
        .header("x-api-key", SECRET)
        .header("authorization", format!("Bearer {SECRET}"));
    for shown in [format!("{builder:?}"), format!("{builder:#?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(
        format!("{builder:?}").contains("x-api-key"),
        "header names are shown"
    );
}

/// Neither `Debug` (plain or pretty) nor `destination()` shows [`SECRET`].
fn assert_never_shown(tracer: &Tracer) {
    for shown in [
        format!("{tracer:?}"),
        format!("{tracer:#?}"),
        format!("{:?}", tracer.destination()),
        tracer.destination().to_string(),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[test]
fn tracer_debug_hides_the_api_key() {
    let tracer = Tracer::builder()
        .project("p")
        .api_key(SECRET)
        .build()
        .expect("a tracer with an API key builds without contacting anyone");
    assert_never_shown(&tracer);
    assert!(
        tracer.destination().to_string().contains("honeyhive.ai"),
        "an API key alone sends to HoneyHive: {}",
        tracer.destination()
    );
    tracer
        .shutdown()
        .expect("shutdown with nothing to send succeeds");
}

#[test]
fn an_invalid_secret_header_is_rejected_without_showing_it() {
    let err = Tracer::builder()
        .api_key(format!("{SECRET}\n"))
        .build()
        .expect_err("a newline cannot go in a header");
    assert!(matches!(err, Error::InvalidConfig { .. }), "{err:?}");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}

#[test]
fn a_token_in_the_endpoint_query_is_never_shown() {
    // Some receivers take their key in the query string; the endpoint is otherwise printed
    // (`destination()`, `Debug`, build errors), so the values must not be.
    let endpoint = format!("http://127.0.0.1:4318/v1/traces?api_key={SECRET}&tenant=t1");
    let builder = Tracer::builder().endpoint(endpoint.clone());
    let tracer = builder
        .build()
        .expect("an endpoint with a query builds without contacting anyone");
    assert_never_shown(&tracer);
    assert!(
        tracer
            .destination()
            .to_string()
            .contains("?api_key=<redacted>"),
        "the parameter's name stays readable: {}",
        tracer.destination()
    );
    tracer
        .shutdown()
        .expect("shutdown with nothing to send succeeds");

    // A URL the HTTP client refuses (the port is out of range) is shown in the error.
    let err = Tracer::builder()
        .endpoint(format!("http://127.0.0.1:99999/v1/traces?api_key={SECRET}"))
        .build()
        .expect_err("the port is out of range");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
}
