//! Guarded start: untraced while the tracer cannot be built or the backend is down.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hivetrace_core::Tracer;
use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::{CircuitBreaker, GuardedTracer, SlidingWindow};
use opentelemetry_sdk::trace::InMemorySpanExporter;

#[test]
fn the_app_runs_untraced_until_the_tracer_can_be_built() {
    let clock = ManualClock::new();
    let attempts = Arc::new(AtomicU32::new(0));
    let exporter = InMemorySpanExporter::default();
    let (a, e) = (Arc::clone(&attempts), exporter.clone());
    let guarded = GuardedTracer::builder(move || {
        if a.fetch_add(1, Ordering::SeqCst) < 2 {
            // As a tracer with an unusable setting fails.
            Tracer::builder().export_timeout(Duration::ZERO).build()
        } else {
            Tracer::builder().exporter(e.clone()).build()
        }
    })
    .clock(clock.clone())
    .build()
    .expect("guard");

    let out = guarded.in_span("request", || 41 + 1);
    assert_eq!(out, 42, "the work runs either way");
    assert!(!guarded.is_tracing());
    assert!(
        guarded
            .last_error()
            .is_some_and(|e| e.contains("export timeout"))
    );
    assert!(!guarded.span("again").is_recording());
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "the open breaker spares the build"
    );

    clock.advance(Duration::from_secs(5));
    assert!(
        !guarded.span("trial").is_recording(),
        "the trial build fails too"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
    clock.advance(Duration::from_secs(5));
    assert!(
        !guarded.span("waiting").is_recording(),
        "the wait grew to 10 s"
    );
    clock.advance(Duration::from_secs(5));
    let span = guarded.span("traced");
    assert!(span.is_recording());
    span.end();
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    let tracer = guarded.tracer().expect("built");
    tracer.force_flush().expect("flush");
    let names: Vec<String> = exporter
        .get_finished_spans()
        .expect("spans")
        .iter()
        .map(|s| s.name.to_string())
        .collect();
    assert_eq!(names, ["traced"]);
}

#[test]
fn spans_are_off_while_the_backend_breaker_refuses_calls() {
    let clock = ManualClock::new();
    let backend = CircuitBreaker::builder("backend")
        .sliding_window(SlidingWindow::Count(1))
        .minimum_calls(1)
        .wait_in_open(Duration::from_secs(30))
        .clock(clock.clone())
        .build()
        .expect("breaker");
    let guarded = GuardedTracer::builder(|| {
        Tracer::builder()
            .exporter(InMemorySpanExporter::default())
            .build()
    })
    .health(backend.clone())
    .build()
    .expect("guard");
    assert!(guarded.span("up").is_recording());

    backend.try_acquire().expect("closed").failure(); // the backend fails: open
    assert!(!guarded.span("down").is_recording());
    assert!(guarded.tracer().is_none());
    clock.advance(Duration::from_secs(30)); // a trial may go through: spans come back
    assert!(guarded.span("trial").is_recording());
    backend.force_open();
    assert!(!guarded.is_tracing());
    backend.reset();
    assert!(guarded.is_tracing());
}

#[test]
fn a_build_that_panicked_once_is_tried_again() {
    let attempts = Arc::new(AtomicU32::new(0));
    let a = Arc::clone(&attempts);
    let guarded = GuardedTracer::builder(move || {
        if a.fetch_add(1, Ordering::SeqCst) == 0 {
            panic!("the first build panics");
        }
        Tracer::builder()
            .exporter(InMemorySpanExporter::default())
            .build()
    })
    .build()
    .expect("guard");
    let first = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| guarded.tracer()));
    assert!(first.is_err(), "the build's panic reaches the caller");
    assert!(
        guarded.tracer().is_some(),
        "the next call builds the tracer"
    );
    assert!(guarded.is_tracing());
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}
