//! Flush, shutdown and drop: bounded, idempotent, safe inside tokio, and no span lost without
//! being counted.

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use hivetrace_core::exporter::Exporter;
use hivetrace_core::{BatchConfig, Error, Tracer};
use support::{HangingExporter, RecordingExporter};

/// A tracer whose batches only leave on flush, shutdown or a full batch.
fn tracer_to(exporter: &RecordingExporter) -> Tracer {
    Tracer::builder()
        .exporter(exporter.to_exporter())
        .batch(BatchConfig::default().scheduled_delay(Duration::from_secs(3600)))
        .flush_timeout(Duration::from_secs(10))
        .build()
        .expect("the tracer builds")
}

/// A tracer to `exporter` with `extra` added as a span processor of the builder's.
fn tracer_with_processor(exporter: &RecordingExporter, extra: &CountingProcessor) -> Tracer {
    Tracer::builder()
        .exporter(exporter.to_exporter())
        .span_processor(extra.clone())
        .build()
        .expect("the tracer builds")
}

#[test]
fn shutdown_is_idempotent_and_flush_after_it_fails() {
    let exporter = RecordingExporter::default();
    let tracer = tracer_to(&exporter);
    tracer.span("before").start().end();

    tracer.shutdown().expect("the first shutdown succeeds");
    assert_eq!(
        exporter.names(),
        vec!["before"],
        "shutdown exports what is queued"
    );
    assert!(
        exporter.shut_down.load(Ordering::SeqCst),
        "the exporter is shut down"
    );
    tracer.shutdown().expect("a second shutdown is Ok");
    assert!(matches!(tracer.force_flush(), Err(Error::AlreadyShutdown)));
    assert_eq!(tracer.stats().exported, 1);
}

#[test]
fn a_span_ended_after_shutdown_is_counted_as_dropped() {
    let exporter = RecordingExporter::default();
    let tracer = tracer_to(&exporter);
    let late = tracer.span("late").start();
    assert!(late.is_recording());
    tracer.shutdown().expect("shutdown succeeds");
    drop(late);

    let stats = tracer.stats();
    assert!(exporter.names().is_empty());
    assert_eq!(
        (stats.started, stats.ended, stats.dropped),
        (1, 1, 1),
        "documented: spans ended after shutdown are counted as dropped; got {stats:?}"
    );
}

#[tokio::test]
async fn flush_and_shutdown_return_inside_a_current_thread_runtime() {
    let exporter = RecordingExporter::default();
    let tracer = tracer_to(&exporter);
    tracer.span("one").start().end();
    tokio::task::yield_now().await;

    let started = Instant::now();
    tracer
        .force_flush()
        .expect("flush succeeds on a current-thread runtime");
    assert_eq!(exporter.names(), vec!["one"]);
    tracer.span("two").start().end();
    tracer
        .shutdown()
        .expect("shutdown succeeds on a current-thread runtime");
    assert_eq!(exporter.names(), vec!["one", "two"]);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush_and_shutdown_return_inside_a_multi_thread_runtime() {
    let exporter = RecordingExporter::default();
    let tracer = tracer_to(&exporter);
    tracer.span("one").start().end();
    tokio::task::yield_now().await;

    let started = Instant::now();
    tracer
        .force_flush()
        .expect("flush succeeds on a worker thread");
    assert_eq!(exporter.names(), vec!["one"]);
    let t = tracer.clone();
    tokio::spawn(async move {
        t.span("two").start().end();
        t.force_flush().expect("flush succeeds in a spawned task");
    })
    .await
    .expect("the task completes");
    tracer
        .shutdown()
        .expect("shutdown succeeds on a worker thread");
    assert_eq!(exporter.names(), vec!["one", "two"]);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn dropping_the_last_clone_flushes() {
    let exporter = RecordingExporter::default();
    let tracer = tracer_to(&exporter);
    let clone = tracer.clone();
    clone.span("a").start().end();
    tracer.span("b").start().end();

    drop(clone);
    assert!(
        exporter.names().is_empty(),
        "dropping a clone while another lives exports nothing"
    );
    assert!(!exporter.shut_down.load(Ordering::SeqCst));
    drop(tracer);
    assert_eq!(exporter.names(), vec!["a", "b"]);
    assert!(exporter.shut_down.load(Ordering::SeqCst));
}

#[test]
fn a_full_batch_is_exported_without_a_flush() {
    let exporter = RecordingExporter::default();
    let tracer = Tracer::builder()
        .exporter(exporter.to_exporter())
        .batch(
            BatchConfig::default()
                .max_export_batch_size(2)
                .scheduled_delay(Duration::from_secs(3600)),
        )
        .build()
        .expect("the tracer builds");
    tracer.span("a").start().end();
    tracer.span("b").start().end();
    let deadline = Instant::now() + Duration::from_secs(5);
    while exporter.names().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(exporter.names(), vec!["a", "b"]);
}

/// A tracer whose exporter hangs until the returned sender is dropped (or sent to), with a
/// 200 ms flush timeout.
fn hung_tracer() -> (Tracer, std::sync::mpsc::Sender<()>) {
    let (hanging, release) = HangingExporter::new();
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(hanging))
        .flush_timeout(Duration::from_millis(200))
        .build()
        .expect("the tracer builds");
    (tracer, release)
}

#[test]
fn a_hung_exporter_makes_flush_and_shutdown_time_out() {
    let (hanging, release) = HangingExporter::new();
    let flush_timeout = Duration::from_millis(300);
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(hanging))
        .flush_timeout(flush_timeout)
        .build()
        .expect("the tracer builds");
    tracer.span("stuck").start().end();

    let started = Instant::now();
    let flushed = tracer.force_flush();
    let took = started.elapsed();
    assert!(took >= flush_timeout, "flush gave up early, after {took:?}");
    assert!(took < Duration::from_secs(3), "flush took {took:?}");
    assert!(
        matches!(flushed, Err(Error::Timeout { operation: "flush", timeout }) if timeout == flush_timeout),
        "expected a flush timeout, got {flushed:?}"
    );

    let started = Instant::now();
    let shut = tracer.shutdown();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    assert!(
        matches!(
            shut,
            Err(Error::Timeout {
                operation: "shutdown",
                ..
            })
        ),
        "expected a shutdown timeout, got {shut:?}"
    );
    drop(release);
}

#[test]
fn dropping_a_tracer_with_a_hung_exporter_returns_within_the_flush_timeout() {
    let (tracer, release) = hung_tracer();
    tracer.span("stuck").start().end();
    let started = Instant::now();
    drop(tracer);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
    drop(release);
}

#[test]
fn queue_full_drops_are_counted_and_every_span_is_accounted_for() {
    let exporter = RecordingExporter::slow(Duration::from_millis(50));
    let tracer = Tracer::builder()
        .exporter(exporter.to_exporter())
        .batch(BatchConfig::default().max_queue_size(4))
        .build()
        .expect("the tracer builds");
    const SPANS: u64 = 200;
    for _ in 0..SPANS {
        tracer.span("burst").start().end();
    }
    let during = tracer.stats();
    assert!(
        during.dropped > 0,
        "a queue of 4 behind a slow exporter drops: {during:?}"
    );
    assert!(
        during.queued <= 4 + 4,
        "at most the queue and the batch being exported: {during:?}"
    );

    tracer.force_flush().expect("flush succeeds");
    let stats = tracer.stats();
    assert_eq!(stats.ended, SPANS);
    assert_eq!(stats.queued, 0, "flush empties the queue");
    assert_eq!(
        stats.ended,
        stats.exported + stats.dropped + stats.export_failed + stats.unsampled + stats.queued,
        "{stats:?}"
    );
    assert_eq!(stats.exported, exporter.names().len() as u64);
    assert_eq!(stats.export_failed, 0);
    assert!(
        stats.exported >= 4,
        "what fit in the queue was exported: {stats:?}"
    );
}

#[test]
fn export_failures_are_counted_and_reported_by_flush() {
    let exporter = RecordingExporter::failing();
    let tracer = tracer_to(&exporter);
    tracer.span("a").start().end();
    tracer.span("b").start().end();

    let flushed = tracer.force_flush();
    assert!(
        matches!(
            flushed,
            Err(Error::Export {
                operation: "flush",
                ..
            })
        ),
        "expected an export error, got {flushed:?}"
    );
    let stats = tracer.stats();
    assert_eq!((stats.export_failed, stats.exported), (2, 0));
    assert!(stats.export_errors >= 1);
    assert_eq!(
        stats.ended,
        stats.exported + stats.dropped + stats.export_failed + stats.unsampled + stats.queued
    );
}

/// An exporter whose first export never completes (a dead connection that never errors); later
/// exports are recorded.
#[derive(Debug, Default)]
struct NeverThenRecord {
    calls: std::sync::atomic::AtomicUsize,
    exported: std::sync::Mutex<Vec<String>>,
}

#[derive(Debug)]
struct SharedNever(std::sync::Arc<NeverThenRecord>);

impl opentelemetry_sdk::trace::SpanExporter for SharedNever {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let this = &self.0;
        if this.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            std::future::pending::<()>().await;
        }
        if let Ok(mut names) = this.exported.lock() {
            names.extend(batch.into_iter().map(|s| s.name.into_owned()));
        }
        Ok(())
    }
}

#[test]
fn an_export_that_never_completes_is_abandoned_at_its_deadline() {
    let exporter = std::sync::Arc::new(NeverThenRecord::default());
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(SharedNever(std::sync::Arc::clone(
            &exporter,
        ))))
        .export_timeout(Duration::from_millis(100))
        .flush_timeout(Duration::from_secs(5))
        .build()
        .expect("the tracer builds");
    tracer.span("lost").start().end();
    let started = Instant::now();
    let flushed = tracer.force_flush();
    assert!(
        matches!(
            flushed,
            Err(Error::Export {
                operation: "flush",
                ..
            })
        ),
        "the abandoned export is reported, got {flushed:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the export deadline, not the flush timeout, ended the wait"
    );
    // The export thread is free again: the next span goes out.
    tracer.span("delivered").start().end();
    tracer.force_flush().expect("the second export completes");
    let stats = tracer.stats();
    assert_eq!(
        (stats.exported, stats.export_failed, stats.export_errors),
        (1, 1, 1)
    );
    let names = exporter
        .exported
        .lock()
        .map(|n| n.clone())
        .unwrap_or_default();
    assert_eq!(names, vec!["delivered".to_owned()]);
}

/// An exporter with a bug: it panics on a span named `boom`, and records the others.
#[derive(Debug, Default)]
struct PanicsOnBoom(RecordingExporter);

impl opentelemetry_sdk::trace::SpanExporter for PanicsOnBoom {
    async fn export(
        &self,
        batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        if batch.iter().any(|s| s.name == "boom") {
            panic!("a bug in the exporter");
        }
        self.0.export(batch).await
    }
}

#[test]
fn a_panicking_exporter_fails_its_batch_and_the_export_thread_goes_on() {
    let recorded = RecordingExporter::default();
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(PanicsOnBoom(recorded.clone())))
        .batch(BatchConfig::default().scheduled_delay(Duration::from_secs(3600)))
        .flush_timeout(Duration::from_secs(10))
        .build()
        .expect("the tracer builds");
    tracer.span("boom").start().end();
    let flushed = tracer.force_flush();
    assert!(
        matches!(&flushed, Err(Error::Export { reason, .. }) if reason.contains("panicked")),
        "the panic is reported as a failed export, got {flushed:?}"
    );

    tracer.span("after").start().end();
    tracer
        .force_flush()
        .expect("the export thread survived the panic");
    assert_eq!(recorded.names(), vec!["after"]);
    let stats = tracer.stats();
    assert_eq!(
        (stats.exported, stats.export_failed, stats.queued),
        (1, 1, 0),
        "{stats:?}"
    );
    tracer.shutdown().expect("shutdown succeeds");
}

#[test]
fn spans_being_exported_are_still_accounted_for() {
    let (tracer, release) = hung_tracer();
    tracer.span("slow").start().end();
    // Times out while the exporter holds the batch.
    let _ = tracer.force_flush();
    let during = tracer.stats();
    drop(release);
    assert_eq!(
        during.ended,
        during.exported + during.dropped + during.export_failed + during.unsampled + during.queued,
        "a span in an unanswered export is still queued: {during:?}"
    );
    assert_eq!(during.queued, 1, "{during:?}");
    tracer.force_flush().expect("the released export completes");
    let after = tracer.stats();
    assert_eq!((after.exported, after.queued), (1, 0), "{after:?}");
}

/// A span processor of the user's that counts what it sees.
#[derive(Debug, Default, Clone)]
struct CountingProcessor {
    ended: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    shutdowns: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    flushes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl opentelemetry_sdk::trace::SpanProcessor for CountingProcessor {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, _span: opentelemetry_sdk::trace::SpanData) {
        self.ended.fetch_add(1, Ordering::SeqCst);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn with_extra_processors_a_span_ended_after_shutdown_is_still_counted_as_dropped() {
    let extra = CountingProcessor::default();
    let exporter = RecordingExporter::default();
    let tracer = tracer_with_processor(&exporter, &extra);
    tracer.span("on time").start().end();
    let late = tracer.span("late").start();
    tracer.shutdown().expect("shutdown succeeds");
    drop(late);
    tracer.span("after").start().end();

    let stats = tracer.stats();
    assert_eq!(exporter.names(), vec!["on time"]);
    assert_eq!(
        (stats.started, stats.ended, stats.exported, stats.dropped),
        (3, 3, 1, 2),
        "spans ended after shutdown are counted as dropped: {stats:?}"
    );
    assert_eq!(
        extra.ended.load(Ordering::SeqCst),
        1,
        "shut down, it sees no more spans"
    );
    drop(tracer);
    assert_eq!(extra.shutdowns.load(Ordering::SeqCst), 1, "shut down once");
}

/// An exporter whose drop blocks until the test releases it (or a minute passes), like one
/// that owns a tokio runtime with a blocking task stuck on the network.
#[derive(Debug)]
struct SlowToDrop(std::sync::Mutex<std::sync::mpsc::Receiver<()>>);

impl opentelemetry_sdk::trace::SpanExporter for SlowToDrop {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }
}

impl Drop for SlowToDrop {
    fn drop(&mut self) {
        if let Ok(release) = self.0.lock() {
            let _ = release.recv_timeout(Duration::from_secs(60));
        }
    }
}

#[test]
fn shutdown_returns_within_its_timeout_when_the_exporter_is_slow_to_drop() {
    let (release, wait) = std::sync::mpsc::channel();
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(SlowToDrop(std::sync::Mutex::new(wait))))
        .flush_timeout(Duration::from_millis(300))
        .build()
        .expect("the tracer builds");
    tracer.span("one").start().end();
    let started = Instant::now();
    let shut = tracer.shutdown();
    let took = started.elapsed();
    drop(release);
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
    shut.expect("the exporter shut down; only its drop is slow");
    assert_eq!(tracer.stats().exported, 1);
}

/// An exporter whose exports fail, and which says when it has been dropped, after a drop
/// that takes a moment (a runtime winding down).
#[derive(Debug)]
struct FailsThenDropsSlowly(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl opentelemetry_sdk::trace::SpanExporter for FailsThenDropsSlowly {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
            "the collector refused the batch".into(),
        ))
    }
}

impl Drop for FailsThenDropsSlowly {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(300));
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn a_shutdown_whose_last_export_fails_still_waits_for_the_export_thread_to_end() {
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(FailsThenDropsSlowly(
            std::sync::Arc::clone(&dropped),
        )))
        .flush_timeout(Duration::from_secs(10))
        .build()
        .expect("the tracer builds");
    tracer.span("refused").start().end();
    assert!(tracer.shutdown().is_err(), "the last export failed");
    // The thread answered: shutdown waits for it to end (within its timeout), so nothing of
    // the tracer is still running when it returns, whatever the answer was.
    assert!(
        dropped.load(Ordering::SeqCst),
        "shutdown returned while the export thread was still dropping the exporter"
    );
    let stats = tracer.stats();
    assert_eq!((stats.exported, stats.export_errors), (0, 1), "{stats:?}");
}

/// An exporter that says when an export has started, then waits until the test opens the
/// gate (or a minute passes).
#[derive(Debug)]
struct GatedExporter {
    entered: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    gate: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl opentelemetry_sdk::trace::SpanExporter for GatedExporter {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        if let Ok(entered) = self.entered.lock() {
            let _ = entered.send(());
        }
        if let Ok(gate) = self.gate.lock() {
            let _ = gate.recv_timeout(Duration::from_secs(60));
        }
        Ok(())
    }
}

#[test]
fn a_shutdown_racing_another_returns_once_the_spans_are_exported() {
    let (entered, export_started) = std::sync::mpsc::channel();
    let (open, gate) = std::sync::mpsc::channel::<()>();
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(GatedExporter {
            entered: std::sync::Mutex::new(entered),
            gate: std::sync::Mutex::new(gate),
        }))
        .batch(BatchConfig::default().scheduled_delay(Duration::from_secs(3600)))
        .flush_timeout(Duration::from_secs(30))
        .build()
        .expect("the tracer builds");
    tracer.span("a").start().end();

    let first = {
        let tracer = tracer.clone();
        std::thread::spawn(move || tracer.shutdown())
    };
    export_started
        .recv_timeout(Duration::from_secs(10))
        .expect("the first shutdown reached the exporter");
    // The export finishes a moment after the second shutdown has started.
    let opener = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(open);
    });
    let second = tracer.shutdown();
    let stats = tracer.stats();
    assert_eq!(
        (stats.exported, stats.queued),
        (1, 0),
        "the second shutdown returned {second:?} before the first had exported: {stats:?}"
    );
    second.expect("the second shutdown succeeds");
    first
        .join()
        .expect("the first shutdown does not panic")
        .expect("the first shutdown succeeds");
    opener.join().expect("the opener does not panic");
}

/// An exporter holding a tracer handle, which it drops during its first export: the way a
/// helper traced inside an exporter can hold the last handle to a tracer (the global one,
/// uninstalled meanwhile). It reports how long that drop took, and whether it was shut down.
#[derive(Debug)]
struct DropsHandleInExport {
    handle: std::sync::Arc<std::sync::Mutex<Option<Tracer>>>,
    dropped: std::sync::Mutex<std::sync::mpsc::Sender<Duration>>,
    shut_down: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl opentelemetry_sdk::trace::SpanExporter for DropsHandleInExport {
    async fn export(
        &self,
        _batch: Vec<opentelemetry_sdk::trace::SpanData>,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        let handle = self.handle.lock().ok().and_then(|mut h| h.take());
        if let Some(handle) = handle {
            let started = Instant::now();
            drop(handle);
            if let Ok(dropped) = self.dropped.lock() {
                let _ = dropped.send(started.elapsed());
            }
        }
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        self.shut_down.store(true, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn the_last_handle_dropped_on_the_export_thread_does_not_wait_for_itself() {
    let handle = std::sync::Arc::new(std::sync::Mutex::new(None));
    let shut_down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (dropped, drop_took) = std::sync::mpsc::channel();
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(DropsHandleInExport {
            handle: std::sync::Arc::clone(&handle),
            dropped: std::sync::Mutex::new(dropped),
            shut_down: std::sync::Arc::clone(&shut_down),
        }))
        .batch(
            BatchConfig::default()
                .max_export_batch_size(1)
                .scheduled_delay(Duration::from_secs(3600)),
        )
        .flush_timeout(Duration::from_secs(60))
        .build()
        .expect("the tracer builds");
    let span = tracer.span("a").start();
    *handle.lock().expect("the slot is not poisoned") = Some(tracer.clone());
    drop(tracer);
    // A full batch: the export thread exports it and drops the last handle there.
    drop(span);

    let took = drop_took
        .recv_timeout(Duration::from_secs(10))
        .expect("dropping the last handle on the export thread returns, not waiting on itself");
    assert!(took < Duration::from_secs(10), "the drop took {took:?}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !shut_down.load(Ordering::SeqCst) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(
        shut_down.load(Ordering::SeqCst),
        "the export thread shuts the exporter down once the export has returned"
    );
}

/// A span processor whose shutdown takes all the time it is given, like a batch processor
/// in front of a backend that does not answer. It keeps the timeouts it was given.
#[derive(Debug, Default, Clone)]
struct TakesItsTime {
    given: std::sync::Arc<std::sync::Mutex<Vec<Duration>>>,
}

impl opentelemetry_sdk::trace::SpanProcessor for TakesItsTime {
    fn on_start(&self, _span: &mut opentelemetry_sdk::trace::Span, _cx: &opentelemetry::Context) {}

    fn on_end(&self, _span: opentelemetry_sdk::trace::SpanData) {}

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> opentelemetry_sdk::error::OTelSdkResult {
        if let Ok(mut given) = self.given.lock() {
            given.push(timeout);
        }
        std::thread::sleep(timeout);
        Err(opentelemetry_sdk::error::OTelSdkError::Timeout(timeout))
    }
}

#[test]
fn shutdown_with_span_processors_stays_within_the_one_flush_timeout() {
    let (hanging, release) = HangingExporter::new();
    let extra = TakesItsTime::default();
    let flush_timeout = Duration::from_millis(500);
    let tracer = Tracer::builder()
        .exporter(Exporter::custom(hanging))
        .span_processor(extra.clone())
        .span_processor(extra.clone())
        .flush_timeout(flush_timeout)
        .build()
        .expect("the tracer builds");
    tracer.span("stuck").start().end();

    let started = Instant::now();
    let shut = tracer.shutdown();
    let took = started.elapsed();
    drop(release);
    assert!(
        matches!(shut, Err(Error::Timeout { .. })),
        "expected a timeout, got {shut:?}"
    );
    let given = extra.given.lock().expect("not poisoned").clone();
    assert_eq!(given.len(), 2, "each processor is shut down");
    assert!(
        given.iter().all(|t| *t < flush_timeout / 2),
        "the export thread used the whole timeout, yet the processors were given {given:?}"
    );
    assert!(took < flush_timeout * 2, "shutdown took {took:?}");
}

#[test]
fn force_flush_flushes_the_builders_span_processors_too() {
    let extra = CountingProcessor::default();
    let exporter = RecordingExporter::default();
    let tracer = tracer_with_processor(&exporter, &extra);
    tracer.span("a").start().end();
    tracer.force_flush().expect("the flush succeeds");
    assert_eq!(exporter.names(), vec!["a"]);
    assert_eq!(
        extra.flushes.load(Ordering::SeqCst),
        1,
        "a processor the user added (a batch processor to another backend, say) is flushed"
    );
}
