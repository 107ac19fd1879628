//! A tracer from `Tracer::builder()` reads nothing from the process environment, not even the
//! variables the OpenTelemetry SDK would read by itself (`OTEL_TRACES_SAMPLER`, the event and
//! link limits). The test runs itself again in a child process with those variables set,
//! since setting them here would race the other tests of this binary.

mod support;

use std::process::Command;

use hivetrace_core::Tracer;
use opentelemetry::KeyValue;
use opentelemetry::trace::TraceContextExt;
use support::RecordingExporter;

const CHILD: &str = "HIVETRACE_PROCESS_ENV_CHILD";
const TEST: &str = "a_plain_builder_ignores_the_sdk_variables_of_the_process";

#[test]
fn a_plain_builder_ignores_the_sdk_variables_of_the_process() {
    if std::env::var_os(CHILD).is_some() {
        in_the_child();
        return;
    }
    let output = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", TEST, "--test-threads=1"])
        .env(CHILD, "1")
        .env("OTEL_TRACES_SAMPLER", "always_off")
        .env("OTEL_SPAN_EVENT_COUNT_LIMIT", "1")
        .output()
        .expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn in_the_child() {
    let exporter = RecordingExporter::default();
    let tracer = Tracer::builder()
        .exporter(exporter.to_exporter())
        .build()
        .expect("the tracer builds");
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
    tracer.force_flush().expect("flush succeeds");
    let spans = exporter
        .spans
        .lock()
        .expect("the span list is not poisoned");
    assert_eq!(spans.len(), 1);
    assert_eq!(
        spans[0].events.len(),
        3,
        "OTEL_SPAN_EVENT_COUNT_LIMIT=1 was read"
    );
}
