//! Blue-green switching under load: every span started is exported by exactly one tracer.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use hivetrace_core::Tracer;
use hivetrace_routing::{DeploymentManager, Environment};
use opentelemetry_sdk::trace::InMemorySpanExporter;

fn source_of(span: &opentelemetry_sdk::trace::SpanData) -> String {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == "honeyhive.source")
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_default()
}

#[test]
fn switching_under_concurrent_span_creation_loses_nothing() {
    let blue = InMemorySpanExporter::default();
    let green = InMemorySpanExporter::default();
    let (b, g) = (blue.clone(), green.clone());
    let manager = DeploymentManager::builder()
        .tracer_builder(move |env| {
            let exporter = if env.name() == "green" {
                g.clone()
            } else {
                b.clone()
            };
            // Large queue: the test is about switching, not about queue-full drops.
            Tracer::builder()
                .exporter(exporter)
                .batch(hivetrace_core::BatchConfig::default().max_queue_size(1 << 16))
        })
        .environment(Environment::new("blue").unwrap().project("p"))
        .environment(Environment::new("green").unwrap().project("p"))
        .initial("blue")
        .build()
        .unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let (manager, stop, started) = (manager.clone(), stop.clone(), started.clone());
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) || i < 500 {
                    let tracer = manager.tracer().unwrap();
                    let span = tracer.span(format!("w{w}-{i}")).start();
                    started.fetch_add(1, Ordering::Relaxed);
                    // Some spans stay open across a switch and end on the tracer that started them.
                    if i.is_multiple_of(3) {
                        std::thread::yield_now();
                    }
                    drop(span);
                    i += 1;
                }
            })
        })
        .collect();

    let mut switches = 0;
    while started.load(Ordering::Relaxed) < 20_000 {
        let next = if manager.is_current("blue") {
            "green"
        } else {
            "blue"
        };
        manager.switch(next).unwrap();
        switches += 1;
        std::thread::yield_now();
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }

    manager.force_flush().unwrap();
    let (blue_spans, green_spans) = (
        blue.get_finished_spans().unwrap(),
        green.get_finished_spans().unwrap(),
    );
    let total = started.load(Ordering::Relaxed);
    assert_eq!(
        blue_spans.len() as u64 + green_spans.len() as u64,
        total,
        "after {switches} switches"
    );
    assert!(!blue_spans.is_empty() && !green_spans.is_empty());
    // Each span went out through the tracer that started it.
    assert!(blue_spans.iter().all(|s| source_of(s) == "blue"));
    assert!(green_spans.iter().all(|s| source_of(s) == "green"));
    for (_, tracer) in manager.built_tracers() {
        assert_eq!(tracer.stats().dropped, 0);
    }
    manager.shutdown().unwrap();
}
