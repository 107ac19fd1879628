//! Correlation over the wire: a request's remote parent, request id and session id, carried in
//! `traceparent` and `baggage`, reach every span that the OTLP/HTTP exporter sends, and the
//! tracer's own session id does not override the request's.

use std::time::Duration;

use hivetrace::otel::opentelemetry::Context;
use hivetrace::{Conventions, Tracer};
use hivetrace_correlation::{BaggageSpanProcessor, RequestId, headers};
use hivetrace_tests::{Receiver, attributes};
use hyper::header::{HeaderMap, HeaderValue};

const WAIT: Duration = Duration::from_secs(10);

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn incoming_context_and_ids_reach_every_exported_span() {
    let receiver = Receiver::start();
    let tracer = Tracer::builder()
        .service_name("support-api")
        .session_id("tracer-default-session")
        .conventions(Conventions::all())
        .endpoint(receiver.traces_url())
        .observer(BaggageSpanProcessor::new())
        .build()
        .expect("a valid configuration");

    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    incoming.insert(
        "baggage",
        HeaderValue::from_static("session.id=sess-123,user.tier=pro"),
    );
    incoming.insert("x-request-id", HeaderValue::from_static("req-abc"));
    let cx = headers::extract_with_context(&Context::new(), &incoming);
    let cx = RequestId::from_headers_or_generate(&incoming).in_context(&cx);

    let handler = tracer.span("handle_request").parent(&cx).start();
    handler.in_scope(|| drop(tracer.span("call_model").start()));
    drop(handler);
    tracer.force_flush().expect("the receiver accepts");

    let spans = receiver.wait_for_spans(2, WAIT).expect("both spans arrive");
    for span in &spans {
        assert_eq!(hex(&span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        let attrs = &span.attributes;
        assert_eq!(attributes::str_value(attrs, "request.id"), Some("req-abc"));
        assert_eq!(attributes::str_value(attrs, "session.id"), Some("sess-123"));
        assert_eq!(
            attributes::str_value(attrs, "honeyhive.session_id"),
            Some("sess-123"),
            "the request's session wins over the tracer's default"
        );
        for key in ["request.id", "session.id", "honeyhive.session_id"] {
            assert_eq!(
                attributes::count(attrs, key),
                1,
                "{key} once on {}",
                span.name
            );
        }
        assert_eq!(
            attributes::get(attrs, "user.tier"),
            None,
            "baggage keys off the allow-list stay off spans"
        );
    }
    let handler = spans
        .iter()
        .find(|s| s.name == "handle_request")
        .expect("the handler span");
    assert_eq!(hex(&handler.parent_span_id), "00f067aa0ba902b7");
    tracer.shutdown().expect("shutdown");
}
