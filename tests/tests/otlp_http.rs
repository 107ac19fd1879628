//! Spans exported over OTLP/HTTP, checked at a real (in-process) receiver.

use std::time::{Duration, Instant};

use hivetrace::exporter::{Protocol, RETRY_AFTER_MARKER};
use hivetrace::{BatchConfig, EventType, Tracer, enrich_span};
use hivetrace_tests::proto::Span as ProtoSpan;
use hivetrace_tests::{Encoding, Receiver, Reply, attributes, closed_port};

/// How long a test waits for something that should happen at once. A bound, not a
/// performance expectation: only a hang or a lost span takes this long.
const WAIT: Duration = Duration::from_secs(10);

fn by_name<'a>(spans: &'a [ProtoSpan], name: &str) -> &'a ProtoSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span named {name:?} among {spans:#?}"))
}

/// A parent `chain` span with an enriched `model` child, as an application would make.
fn parent_and_child(tracer: &Tracer) -> (String, String) {
    let parent = tracer
        .span("answer_question")
        .event_type(EventType::Chain)
        .start();
    let parent_id = parent.span_context().span_id().to_string();
    let child_id = parent.in_scope(|| {
        let child = tracer.span("chat").event_type(EventType::Model).start();
        let id = child.span_context().span_id().to_string();
        child.in_scope(|| {
            enrich_span(|e| {
                e.config("model", "gpt-4o")
                    .metrics("prompt_tokens", 42)
                    .metadata("user_tier", "pro");
            });
        });
        id
    });
    drop(parent);
    (parent_id, child_id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn assert_parent_and_child(spans: &[ProtoSpan], parent_id: &str, child_id: &str) {
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let parent = by_name(spans, "answer_question");
    let child = by_name(spans, "chat");

    assert_eq!(hex(&parent.span_id), parent_id);
    assert_eq!(hex(&child.span_id), child_id);
    assert!(parent.parent_span_id.is_empty(), "the root has no parent");
    assert_eq!(
        child.parent_span_id, parent.span_id,
        "child points at its parent"
    );
    assert_eq!(child.trace_id, parent.trace_id, "one trace");
    assert_eq!(parent.trace_id.len(), 16);

    assert_eq!(
        attributes::str_value(&parent.attributes, "honeyhive_event_type"),
        Some("chain")
    );
    assert_eq!(
        attributes::str_value(&child.attributes, "honeyhive_event_type"),
        Some("model")
    );
    assert_eq!(
        attributes::str_value(&child.attributes, "honeyhive_config.model"),
        Some("gpt-4o")
    );
    assert_eq!(
        attributes::int_value(&child.attributes, "honeyhive_metrics.prompt_tokens"),
        Some(42)
    );
    assert_eq!(
        attributes::str_value(&child.attributes, "honeyhive_metadata.user_tier"),
        Some("pro")
    );
    assert_eq!(
        attributes::get(&parent.attributes, "honeyhive_config.model"),
        None,
        "enrichment goes to the current span only"
    );
    for span in [parent, child] {
        assert_eq!(
            attributes::str_value(&span.attributes, "honeyhive.project"),
            Some("support-bot")
        );
        assert_eq!(
            attributes::count(&span.attributes, "honeyhive_event_type"),
            1,
            "no duplicated attributes"
        );
    }
}

#[test]
fn http_protobuf_export_keeps_names_parentage_resource_and_attributes() {
    let receiver = Receiver::start();
    let tracer = Tracer::builder()
        .project("support-bot")
        .service_name("support-api")
        .endpoint(receiver.traces_url())
        .build()
        .expect("a valid configuration");

    let (parent_id, child_id) = parent_and_child(&tracer);
    tracer.force_flush().expect("the receiver accepts");
    let spans = receiver.wait_for_spans(2, WAIT).expect("both spans arrive");
    assert_parent_and_child(&spans, &parent_id, &child_id);

    let requests = receiver.requests();
    let request = &requests[0];
    assert_eq!(request.method(), "POST");
    assert_eq!(request.path(), "/v1/traces");
    assert_eq!(request.encoding(), Encoding::Protobuf);
    assert_eq!(request.content_type(), Some("application/x-protobuf"));
    let decoded = request
        .decoded()
        .expect("a protobuf ExportTraceServiceRequest");
    let resource = decoded.resource_spans[0]
        .resource
        .as_ref()
        .expect("a resource");
    assert_eq!(
        attributes::str_value(&resource.attributes, "service.name"),
        Some("support-api")
    );

    for span in &spans {
        assert_eq!(
            attributes::str_value(&span.attributes, "honeyhive.session_id"),
            Some(tracer.session_id())
        );
    }

    let stats = tracer.stats();
    assert_eq!(stats.exported, 2);
    assert_eq!(stats.export_errors, 0);
}

#[test]
fn http_json_export_sends_otlp_json() {
    let receiver = Receiver::start();
    let tracer = Tracer::builder()
        .project("support-bot")
        .endpoint(receiver.traces_url())
        .protocol(Protocol::HttpJson)
        .build()
        .expect("a valid configuration");

    let (parent_id, child_id) = parent_and_child(&tracer);
    tracer.force_flush().expect("the receiver accepts");
    let spans = receiver.wait_for_spans(2, WAIT).expect("both spans arrive");
    assert_parent_and_child(&spans, &parent_id, &child_id);

    let request = &receiver.requests()[0];
    assert_eq!(request.encoding(), Encoding::Json);
    let body: serde_json::Value = serde_json::from_slice(request.body()).expect("the body is JSON");
    let first_span = &body["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    let trace_id = first_span["traceId"].as_str().expect("traceId is a string");
    assert_eq!(trace_id.len(), 32, "OTLP JSON ids are hex: {trace_id}");
    assert!(
        trace_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{trace_id}"
    );
    let decoded = request.decoded().expect("a JSON ExportTraceServiceRequest");
    let resource = decoded.resource_spans[0]
        .resource
        .as_ref()
        .expect("a resource");
    assert_eq!(
        attributes::str_value(&resource.attributes, "service.name"),
        Some("support-bot"),
        "the service name defaults to the project"
    );
}

#[test]
fn throttled_then_accepted_export_is_retried_and_counted_once() {
    let receiver = Receiver::with_responses([503, 200]);
    let tracer = Tracer::builder()
        .endpoint(receiver.traces_url())
        .export_timeout(WAIT)
        .build()
        .expect("a valid configuration");

    for i in 0..3 {
        tracer.span(format!("step-{i}")).start().end();
    }
    tracer
        .force_flush()
        .expect("the retry succeeds within the export timeout");

    let spans = receiver.wait_for_spans(3, WAIT).expect("the spans arrive");
    let mut names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["step-0", "step-1", "step-2"]);

    let requests = receiver.requests();
    let statuses: Vec<u16> = requests.iter().map(|r| r.status()).collect();
    assert_eq!(statuses, [503, 200], "one refusal, one retry");
    assert_eq!(
        requests[0].body(),
        requests[1].body(),
        "the same batch is resent"
    );

    let stats = tracer.stats();
    assert_eq!(stats.exported, 3);
    assert_eq!(stats.export_failed, 0);
    assert_eq!(stats.export_errors, 0);
}

#[test]
fn retry_after_is_honoured() {
    let throttled = Reply::status(429).retry_after(Duration::from_secs(1));
    let receiver = Receiver::with_responses([throttled, Reply::ok()]);
    let tracer = Tracer::builder()
        .endpoint(receiver.traces_url())
        .export_timeout(WAIT)
        .build()
        .expect("a valid configuration");

    tracer.span("throttled").start().end();
    tracer
        .force_flush()
        .expect("the retry succeeds within the export timeout");

    let requests = receiver.wait_for_requests(2, WAIT).expect("a retry");
    let gap = requests[1].received_at() - requests[0].received_at();
    // A lower bound only: the server asked for a second; sooner would ignore it.
    assert!(gap >= Duration::from_millis(900), "retried after {gap:?}");
    assert_eq!(tracer.stats().exported, 1);
}

#[test]
fn a_failed_exports_error_carries_the_servers_retry_after() {
    // The server asks for a minute, longer than the export may take: the exporter gives up
    // and says how long the server asked for, for a wrapper (ResilientExporter) to honour.
    let throttled = || Reply::status(503).retry_after(Duration::from_secs(60));
    let receiver = Receiver::with_responses([throttled(), throttled(), throttled()]);
    let tracer = Tracer::builder()
        .endpoint(receiver.traces_url())
        .export_timeout(Duration::from_millis(300))
        .build()
        .expect("a valid configuration");

    tracer.span("throttled").start().end();
    let err = tracer.force_flush().expect_err("the server keeps refusing");
    let message = err.to_string();
    assert!(
        message.contains(&format!("{RETRY_AFTER_MARKER}60000 ms)")),
        "the hint is in the error: {message}"
    );
}

#[test]
fn refused_export_is_counted_as_failed() {
    let receiver = Receiver::with_responses([400]);
    let tracer = Tracer::builder()
        .endpoint(receiver.traces_url())
        .export_timeout(WAIT)
        .build()
        .expect("a valid configuration");

    tracer.span("rejected-1").start().end();
    tracer.span("rejected-2").start().end();
    let err = tracer.force_flush().expect_err("the receiver refuses");
    assert!(err.to_string().contains("400"), "the error says why: {err}");

    let requests = receiver.wait_for_requests(1, WAIT).expect("a request");
    assert_eq!(requests.len(), 1, "400 is not retryable: {requests:#?}");
    assert!(receiver.spans().is_empty(), "nothing was accepted");
    let stats = tracer.stats();
    assert_eq!(stats.exported, 0);
    assert_eq!(stats.export_failed, 2);
    assert_eq!(stats.export_errors, 1);
}

#[test]
fn unreachable_endpoint_fails_flush_in_bounded_time_without_slowing_span_ends() {
    let endpoint = format!("http://127.0.0.1:{}/v1/traces", closed_port());
    let tracer = Tracer::builder()
        .endpoint(endpoint)
        .export_timeout(Duration::from_millis(300))
        .flush_timeout(Duration::from_secs(2))
        .build()
        .expect("a valid configuration");

    // Correctness bounds, not performance assertions: ending a span must never wait for
    // the network, so even a slow debug build ends 1000 spans well within them.
    let started = Instant::now();
    for _ in 0..1000 {
        tracer.span("offline").start().end();
    }
    let ending = started.elapsed();
    assert!(
        ending < Duration::from_secs(2),
        "1000 span ends took {ending:?}"
    );

    let started = Instant::now();
    let result = tracer.force_flush();
    let flushing = started.elapsed();
    assert!(result.is_err(), "nothing can be delivered: {result:?}");
    assert!(flushing < WAIT, "force_flush took {flushing:?}");

    let stats = tracer.stats();
    assert_eq!(stats.ended, 1000);
    assert_eq!(stats.exported, 0);
    assert!(stats.export_errors >= 1, "{stats:?}");
}

/// `force_flush` promises that every span ended before it was exported, or an error. When
/// the export thread already took those spans (a full batch wakes it), their failure must
/// still reach the flush.
#[test]
fn flush_reports_failed_exports_of_spans_ended_before_it() {
    let endpoint = format!("http://127.0.0.1:{}/v1/traces", closed_port());
    let tracer = Tracer::builder()
        .endpoint(endpoint)
        .export_timeout(Duration::from_millis(300))
        .flush_timeout(Duration::from_secs(5))
        .batch(BatchConfig::default().max_export_batch_size(10))
        .build()
        .expect("a valid configuration");

    // Exactly one full batch: the export thread is woken and takes all ten.
    for _ in 0..10 {
        tracer.span("offline").start().end();
    }
    let result = tracer.force_flush();
    let stats = tracer.stats();
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert_eq!(stats.export_failed, 10, "{stats:?}");
    assert!(
        result.is_err(),
        "force_flush returned Ok although none of the spans ended before it were delivered: {stats:?}"
    );
}
