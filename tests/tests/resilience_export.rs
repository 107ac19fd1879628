//! The resilient exporter against the in-process OTLP/HTTP receiver: refused connections,
//! 503 with `Retry-After`, hung and slow answers. The breaker's time is a manual clock; no
//! assertion is about wall time.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use hivetrace::clock::ManualClock;
use hivetrace::exporter::{Exporter, OtlpExporter, Protocol};
use hivetrace::{BatchConfig, Tracer};
use hivetrace_resilience::exporter::{ExporterHandle, ResilientExporter};
use hivetrace_resilience::retry::{Backoff, Jitter, ManualSleeper, RetryPolicy};
use hivetrace_resilience::{CircuitBreaker, SlidingWindow, State};
use hivetrace_tests::{Receiver, Reply, closed_port};

const WAIT: Duration = Duration::from_secs(20);

struct Setup {
    clock: ManualClock,
    attempts: u32,
    min_calls: u32,
    buffer_spans: usize,
    spool: Option<std::path::PathBuf>,
}

impl Setup {
    fn new() -> Self {
        Setup {
            clock: ManualClock::new(),
            attempts: 2,
            min_calls: 1,
            buffer_spans: 1000,
            spool: None,
        }
    }

    fn tracer(&self, port: u16) -> (Tracer, ExporterHandle) {
        let url = format!("http://127.0.0.1:{port}/v1/traces");
        let otlp = OtlpExporter::new(&url, Protocol::HttpProtobuf, &[], Duration::from_secs(2))
            .expect("otlp exporter");
        let breaker = CircuitBreaker::builder("backend")
            .sliding_window(SlidingWindow::Count(4))
            .minimum_calls(self.min_calls)
            .half_open_permits(1)
            .wait_in_open(Duration::from_secs(10))
            .clock(self.clock.clone())
            .build()
            .expect("breaker");
        // Backoff waits advance a clock of their own: instant, and apart from the breaker's.
        let retry_clock = ManualClock::new();
        let retry = RetryPolicy::new(self.attempts)
            .expect("policy")
            .backoff(Backoff::exponential(Duration::from_millis(10)).jitter(Jitter::None))
            .clock(retry_clock.clone());
        let mut builder = ResilientExporter::builder(otlp)
            .breaker(breaker)
            .retry(retry)
            .sleeper(ManualSleeper::new(retry_clock))
            .deadline(Duration::from_secs(15))
            .buffer(self.buffer_spans, 64 << 20);
        if let Some(dir) = &self.spool {
            builder = builder.spool(dir);
        }
        let exporter = builder.build().expect("resilient exporter");
        let handle = exporter.handle();
        let tracer = Tracer::builder()
            .exporter(Exporter::custom(exporter))
            .export_timeout(Duration::from_secs(30))
            .batch(
                BatchConfig::default()
                    .max_queue_size(10_000)
                    .max_export_batch_size(5)
                    .scheduled_delay(Duration::from_secs(600)),
            )
            .build()
            .expect("tracer");
        (tracer, handle)
    }
}

/// Ends `range.len()` spans and returns their ids (hex).
fn produce(tracer: &Tracer, range: std::ops::Range<usize>) -> Vec<String> {
    let ids = range
        .map(|i| {
            let span = tracer.span(format!("s{i}")).start();
            let id = span.span_context().span_id().to_string();
            span.end();
            id
        })
        .collect();
    // Buffered batches are an Ok; only drops are errors, which some tests expect.
    let _ = tracer.force_flush();
    ids
}

fn received_ids(receiver: &Receiver, n: usize) -> Vec<String> {
    receiver
        .wait_for_spans(n, WAIT)
        .expect("spans arrive")
        .iter()
        .map(|s| s.span_id.iter().map(|b| format!("{b:02x}")).collect())
        .collect()
}

fn assert_same_spans(produced: &[String], received: &[String]) {
    assert_eq!(received.len(), produced.len(), "no span lost, none twice");
    let a: BTreeSet<&String> = produced.iter().collect();
    let b: BTreeSet<&String> = received.iter().collect();
    assert_eq!(a, b);
}

#[test]
fn refused_then_recovered_with_the_spool_delivers_exactly_the_spans_produced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let setup = Setup {
        buffer_spans: 5,
        spool: Some(dir.path().to_path_buf()),
        ..Setup::new()
    };
    let (tracer, handle) = setup.tracer(port);
    let mut produced = produce(&tracer, 0..20);
    assert_eq!(
        handle.breaker().state(),
        State::Open,
        "refused connections open it"
    );
    let s = handle.stats();
    assert_eq!(s.dropped(), 0);
    assert_eq!(
        (s.buffered, s.spooled),
        (5, 15),
        "memory first, then the spool"
    );
    assert!(
        s.breaker_rejections >= 3,
        "a dead backend is not called per batch"
    );

    let receiver = Receiver::try_on_port(port, [200]).expect("the backend comes back");
    setup.clock.advance(Duration::from_secs(10));
    produced.extend(produce(&tracer, 20..21));
    assert_same_spans(&produced, &received_ids(&receiver, 21));
    assert_eq!(handle.breaker().state(), State::Closed);
    let s = handle.stats();
    assert_eq!((s.exported, s.replayed, s.dropped()), (21, 20, 0));
    assert_eq!((s.pending_memory_spans, s.pending_spool_records), (0, 0));
    tracer.shutdown().expect("shutdown");
}

#[test]
fn a_503_with_retry_after_opens_the_breaker_and_the_batch_waits() {
    let setup = Setup {
        attempts: 1,
        ..Setup::new()
    };
    let busy = Receiver::with_responses([Reply::status(503).retry_after(Duration::from_secs(1))]);
    let port = busy.addr().port();
    let (tracer, handle) = setup.tracer(port);
    let mut produced = produce(&tracer, 0..5);
    assert_eq!(handle.breaker().state(), State::Open);
    // The server's Retry-After (carried in the OTLP exporter's error), not the breaker's own
    // ten-second wait, sets how long it stays open.
    assert_eq!(
        handle.breaker().snapshot().open_remaining,
        Some(Duration::from_secs(1))
    );
    assert_eq!(handle.stats().pending_memory_spans, 5);
    let refused = busy.requests();
    assert!(!refused.is_empty() && refused.iter().all(|r| r.status() == 503));
    assert!(refused.iter().all(|r| r.spans().count() == 5));
    drop(busy);

    let receiver = Receiver::try_on_port(port, [200]).expect("the backend is back");
    setup.clock.advance(Duration::from_secs(10));
    produced.extend(produce(&tracer, 5..10));
    assert_same_spans(&produced, &received_ids(&receiver, 10));
    assert_eq!(handle.stats().replayed, 5);
    tracer.shutdown().expect("shutdown");
}

#[test]
fn a_flush_of_the_tracer_delivers_the_backlog_once_the_backend_is_back() {
    let port = closed_port();
    let setup = Setup::new();
    let (tracer, handle) = setup.tracer(port);
    let produced = produce(&tracer, 0..10);
    assert_eq!(handle.stats().pending_memory_spans, 10);

    let receiver = Receiver::try_on_port(port, [200]).expect("the backend comes back");
    setup.clock.advance(Duration::from_secs(10));
    // No new span: the flush alone reaches the resilient exporter's backlog.
    tracer.force_flush().expect("flushed");
    assert_same_spans(&produced, &received_ids(&receiver, 10));
    let s = handle.stats();
    assert_eq!((s.replayed, s.pending_memory_spans), (10, 0));
    tracer.shutdown().expect("shutdown");
}

#[test]
fn a_restart_with_a_non_empty_spool_delivers_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = closed_port();
    let setup = Setup {
        spool: Some(dir.path().to_path_buf()),
        ..Setup::new()
    };
    let (tracer, handle) = setup.tracer(port);
    let mut produced = produce(&tracer, 0..10);
    assert_eq!(handle.stats().pending_memory_spans, 10);
    let _ = tracer.shutdown(); // the backend is down: memory goes to the spool
    let s = handle.stats();
    assert_eq!((s.spooled, s.dropped()), (10, 0));
    assert!(spool_files(dir.path()) > 0);
    drop(tracer);

    // "The next process": a new exporter on the same spool, the backend up.
    let receiver = Receiver::start();
    let (tracer, handle) = Setup {
        spool: Some(dir.path().to_path_buf()),
        ..Setup::new()
    }
    .tracer(receiver.addr().port());
    produced.extend(produce(&tracer, 10..11));
    assert_same_spans(&produced, &received_ids(&receiver, 11));
    assert_eq!(handle.stats().replayed, 10);
    tracer.shutdown().expect("shutdown");
}

fn spool_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| d.filter(|e| e.is_ok()).count())
        .unwrap_or(0)
}

#[test]
fn without_the_spool_the_drop_counters_equal_what_is_missing() {
    let port = closed_port();
    let setup = Setup {
        buffer_spans: 5,
        ..Setup::new()
    };
    let (tracer, handle) = setup.tracer(port);
    let mut produced = produce(&tracer, 0..20);
    let receiver = Receiver::try_on_port(port, [200]).expect("the backend comes back");
    setup.clock.advance(Duration::from_secs(10));
    produced.extend(produce(&tracer, 20..21));
    let s = handle.stats();
    let received = received_ids(&receiver, 6);
    assert_eq!(s.dropped_buffer_full, 15);
    assert_eq!(produced.len() as u64 - s.dropped(), received.len() as u64);
    assert_eq!(s.received, s.exported + s.dropped());
    tracer.shutdown().expect("shutdown");
}

#[test]
fn hung_and_slow_answers_are_survived() {
    // One hung request must not open the breaker: it is judged from 3 exports on.
    let setup = Setup {
        min_calls: 3,
        ..Setup::new()
    };
    let receiver = Receiver::with_responses([
        Reply::hang(),
        Reply::ok().delayed(Duration::from_millis(200)),
        Reply::ok(),
    ]);
    let (tracer, handle) = setup.tracer(receiver.addr().port());
    let produced = produce(&tracer, 0..10);
    assert_same_spans(&produced, &received_ids(&receiver, 10));
    assert!(
        receiver.requests().iter().any(|r| r.status() == 0),
        "one request hung"
    );
    assert_eq!(handle.stats().dropped(), 0);
    tracer.shutdown().expect("shutdown");
}
