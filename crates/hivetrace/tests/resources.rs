//! `#[hivetrace::trace(resources)]` finds hivetrace-metrics through the facade's `metrics`
//! module, with no dependency on the metrics crate in the user's manifest.
#![cfg(all(feature = "metrics", feature = "testing", target_os = "linux"))]

use hivetrace::Tracer;
use hivetrace::exporter::Exporter;
use hivetrace::metrics::resources::keys;
use hivetrace::otel::opentelemetry_sdk::trace::InMemorySpanExporter;

#[hivetrace::trace(tracer = tracer, resources)]
fn embed(tracer: &Tracer, n: u64) -> u64 {
    let _ = tracer;
    (0..n).sum()
}

#[test]
fn resources_through_the_facade_writes_cpu_and_memory() {
    let exporter = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .exporter(Exporter::from(exporter.clone()))
        .build()
        .expect("a tracer with an in-memory exporter builds");

    assert_eq!(embed(&tracer, 10), 45);
    tracer.force_flush().expect("flush succeeds");
    let spans = exporter.get_finished_spans().expect("readable");
    let span = spans.iter().find(|s| s.name == "embed").expect("the span");
    for key in [keys::PROCESS_CPU_MS, keys::RSS_AFTER_BYTES] {
        assert!(
            span.attributes.iter().any(|kv| kv.key.as_str() == key),
            "{key} missing: {:?}",
            span.attributes
        );
    }
}
