//! The resilient exporter against a scripted inner exporter: retries, breaker, buffer, spool,
//! replay, accounting. Time is a manual clock; waits are manual sleeps.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::exporter::{ExportStats, ResilientExporter, ResilientExporterBuilder};
use hivetrace_resilience::retry::{Backoff, Jitter, ManualSleeper, RetryPolicy};
use hivetrace_resilience::{CircuitBreaker, Outcome, SlidingWindow, State, hint};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};

#[derive(Debug, Default)]
struct Backend {
    /// `Some(message)`: every export fails with it.
    down: Option<String>,
    /// Export calls that hang until the deadline.
    hang: bool,
    delivered: Vec<String>,
    calls: usize,
}

#[derive(Clone, Debug, Default)]
struct Scripted(Arc<Mutex<Backend>>);

impl Scripted {
    fn set_down(&self, message: Option<&str>) {
        self.0.lock().expect("backend").down = message.map(str::to_owned);
    }
    fn delivered(&self) -> Vec<String> {
        self.0.lock().expect("backend").delivered.clone()
    }
    fn calls(&self) -> usize {
        self.0.lock().expect("backend").calls
    }
}

impl SpanExporter for Scripted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let hang = {
            let mut b = self.0.lock().expect("backend");
            b.calls += 1;
            if let Some(message) = &b.down {
                return Err(OTelSdkError::InternalFailure(message.clone()));
            }
            if !b.hang {
                b.delivered.extend(batch.iter().map(|s| s.name.to_string()));
            }
            b.hang
        };
        if hang {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

const DOWN: &str = "HTTP export failed with status code: 503";

fn span(name: String) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(7u128),
            SpanId::from(name.len() as u64 + 1),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Owned(name),
        start_time: SystemTime::UNIX_EPOCH + Duration::from_secs(1),
        end_time: SystemTime::UNIX_EPOCH + Duration::from_secs(2),
        attributes: vec![opentelemetry::KeyValue::new("k", "v")],
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("test").build(),
    }
}

fn batch(range: std::ops::Range<usize>) -> Vec<SpanData> {
    range.map(|i| span(format!("s{i}"))).collect()
}

fn names(range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("s{i}")).collect()
}

struct Setup {
    backend: Scripted,
    clock: ManualClock,
    sleeper: ManualSleeper,
}

impl Setup {
    fn new() -> Self {
        let clock = ManualClock::new();
        Setup {
            backend: Scripted::default(),
            sleeper: ManualSleeper::new(clock.clone()),
            clock,
        }
    }

    fn builder(&self) -> ResilientExporterBuilder<Scripted> {
        let breaker = CircuitBreaker::builder("export")
            .sliding_window(SlidingWindow::Count(4))
            .minimum_calls(2)
            .half_open_permits(1)
            .wait_in_open(Duration::from_secs(30))
            .clock(self.clock.clone())
            .build()
            .expect("breaker");
        let retry = RetryPolicy::new(2)
            .expect("policy")
            .backoff(Backoff::exponential(Duration::from_millis(100)).jitter(Jitter::None))
            .clock(self.clock.clone());
        ResilientExporter::builder(self.backend.clone())
            .breaker(breaker)
            .retry(retry)
            .sleeper(self.sleeper.clone())
            .clock(self.clock.clone())
    }
}

fn export(e: &ResilientExporter<Scripted>, b: Vec<SpanData>) -> OTelSdkResult {
    futures_executor::block_on(e.export(b))
}

/// Every span is exported, dropped or waiting in memory (no spool).
fn balanced(s: &ExportStats) -> bool {
    s.received == s.exported + s.dropped() + s.pending_memory_spans
}

#[test]
fn a_healthy_backend_gets_every_batch_once() {
    let t = Setup::new();
    let e = t.builder().build().expect("exporter");
    export(&e, batch(0..3)).expect("ok");
    export(&e, batch(3..5)).expect("ok");
    assert_eq!(t.backend.delivered(), names(0..5));
    let s = e.stats();
    assert_eq!(
        (s.received, s.exported, s.retried, s.dropped()),
        (5, 5, 0, 0)
    );
}

#[test]
fn retryable_failures_are_retried_with_backoff_and_others_are_not() {
    let t = Setup::new();
    let e = t.builder().build().expect("exporter");
    t.backend
        .set_down(Some("HTTP export failed with status code: 400"));
    let err = export(&e, batch(0..2)).expect_err("refused");
    assert!(err.to_string().contains("retrying would not help"));
    assert_eq!(t.backend.calls(), 1, "a 400 is not retried");
    assert_eq!(e.stats().dropped_not_retryable, 2);
    assert!(t.sleeper.slept().is_empty());

    // A fresh exporter: the 400 above already counts as a failure for the breaker.
    let t = Setup::new();
    let e = t.builder().build().expect("exporter");
    t.backend.set_down(Some(DOWN));
    export(&e, batch(2..3)).expect("kept for later");
    assert_eq!(t.backend.calls(), 2, "a 503 is retried once (2 attempts)");
    assert_eq!(t.sleeper.slept(), [Duration::from_millis(100)]);
    assert_eq!(e.stats().retried, 1);
}

#[test]
fn an_error_the_classifier_ignores_is_a_drop_not_an_export() {
    let t = Setup::new();
    let e = t
        .builder()
        .classify(|_: &OTelSdkError| Outcome::Ignored)
        .build()
        .expect("exporter");
    t.backend.set_down(Some(DOWN));
    let err = export(&e, batch(0..2)).expect_err("the backend took nothing");
    assert!(err.to_string().contains("2 spans dropped"), "{err}");
    assert_eq!(t.backend.calls(), 1, "ignored: not retried");
    let s = e.stats();
    assert_eq!((s.exported, s.dropped_not_retryable), (0, 2));
    assert!(balanced(&s));
    let b = e.breaker().snapshot();
    assert_eq!(
        (b.calls, b.ignored_total),
        (0, 1),
        "nothing for the breaker to judge"
    );

    t.backend.set_down(None);
    export(&e, batch(2..3)).expect("delivered");
    assert_eq!(e.stats().exported, 1);
}

#[test]
fn a_hint_past_the_end_of_time_keeps_the_batch_for_later() {
    let t = Setup::new();
    let retry = RetryPolicy::new(3)
        .expect("policy")
        .max_hint(Duration::MAX)
        .clock(t.clock.clone());
    // A server's `Retry-After: 18446744073709551615`, read by a classifier of its own.
    let hint = hint::parse_retry_after("18446744073709551615", SystemTime::UNIX_EPOCH)
        .expect("a number of seconds");
    let e = t
        .builder()
        .retry(retry)
        .classify(move |_: &OTelSdkError| Outcome::retryable_failure().with_retry_after(hint))
        .build()
        .expect("exporter");
    t.backend.set_down(Some(DOWN));
    export(&e, batch(0..2)).expect("kept for later");
    assert_eq!(t.backend.calls(), 1, "no retry within the deadline");
    assert!(t.sleeper.slept().is_empty());
    let s = e.stats();
    assert_eq!((s.exported, s.pending_memory_spans), (0, 2));
    assert!(balanced(&s));
}

#[test]
fn an_outage_opens_the_breaker_buffers_and_replays_in_order() {
    let t = Setup::new();
    let e = t.builder().build().expect("exporter");
    t.backend.set_down(Some(DOWN));
    export(&e, batch(0..2)).expect("buffered");
    assert_eq!(e.breaker().state(), State::Open, "two failed attempts");
    let calls = t.backend.calls();
    for i in 1..5 {
        export(&e, batch(i * 2..i * 2 + 2)).expect("buffered");
    }
    assert_eq!(
        t.backend.calls(),
        calls,
        "an open breaker costs the backend nothing"
    );
    let s = e.stats();
    assert_eq!(
        (s.buffered, s.pending_memory_spans, s.exported),
        (10, 10, 0)
    );
    assert!(s.breaker_rejections >= 4);

    t.backend.set_down(None);
    t.clock.advance(Duration::from_secs(30));
    export(&e, batch(10..11)).expect("delivered");
    assert_eq!(
        t.backend.delivered(),
        names(0..11),
        "oldest first, nothing lost"
    );
    let s = e.stats();
    assert_eq!(
        (s.exported, s.replayed, s.pending_memory_spans),
        (11, 10, 0)
    );
    assert_eq!(e.breaker().state(), State::Closed);
}

#[test]
fn without_a_spool_a_full_buffer_drops_and_counts() {
    let t = Setup::new();
    let e = t.builder().buffer(5, 1 << 20).build().expect("exporter");
    t.backend.set_down(Some(DOWN));
    export(&e, batch(0..3)).expect("buffered");
    export(&e, batch(3..5)).expect("buffered");
    let err = export(&e, batch(5..8)).expect_err("no room");
    assert!(err.to_string().contains("buffer is full"));
    let s = e.stats();
    assert_eq!((s.dropped_buffer_full, s.pending_memory_spans), (3, 5));

    t.backend.set_down(None);
    t.clock.advance(Duration::from_secs(30));
    e.handle().replay();
    let s = e.stats();
    assert_eq!(t.backend.delivered(), names(0..5));
    assert_eq!(s.received, s.exported + s.dropped());
    assert!(balanced(&s));
}

#[test]
fn the_spool_takes_the_overflow_and_replays_it_after_memory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Setup::new();
    let e = t
        .builder()
        .buffer(4, 1 << 20)
        .spool(dir.path())
        .spool_limits(1 << 20, 300)
        .build()
        .expect("exporter");
    t.backend.set_down(Some(DOWN));
    for i in 0..6 {
        export(&e, batch(i * 2..i * 2 + 2)).expect("kept");
    }
    let s = e.stats();
    assert_eq!((s.buffered, s.spooled, s.dropped()), (4, 8, 0));
    assert_eq!(s.pending_spool_records, 4);

    t.backend.set_down(None);
    t.clock.advance(Duration::from_secs(30));
    e.handle().replay();
    assert_eq!(t.backend.delivered(), names(0..12));
    let s = e.stats();
    assert_eq!(
        (s.replayed, s.pending_spool_records, s.pending_memory_spans),
        (12, 0, 0)
    );
}

#[test]
fn a_restart_with_a_non_empty_spool_delivers_the_rest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Setup::new();
    {
        let e = t
            .builder()
            .buffer(4, 1 << 20)
            .spool(dir.path())
            .build()
            .expect("exporter");
        t.backend.set_down(Some(DOWN));
        for i in 0..5 {
            export(&e, batch(i * 2..i * 2 + 2)).expect("kept");
        }
        e.shutdown_with_timeout(Duration::from_secs(1))
            .expect("shutdown");
        let s = e.stats();
        assert_eq!(s.dropped(), 0, "memory moved to the spool at shutdown");
        assert_eq!(s.pending_memory_spans, 0);
    }
    let t2 = Setup::new();
    let e = t2
        .builder()
        .spool(dir.path())
        .build()
        .expect("exporter after restart");
    assert_eq!(e.stats().pending_spool_records, 5);
    export(&e, batch(10..11)).expect("delivered");
    assert_eq!(
        t2.backend.delivered(),
        names(0..11),
        "in the original order"
    );
    let s = e.stats();
    assert_eq!((s.replayed, s.pending_spool_records), (10, 0));
    assert_eq!(
        (s.received, s.exported),
        (11, 11),
        "the spooled spans are received when replayed"
    );
    assert!(balanced(&s));
}

#[test]
fn spans_left_in_the_spool_are_received_when_dropped_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Setup::new();
    {
        let e = t
            .builder()
            .buffer(0, 0)
            .spool(dir.path())
            .build()
            .expect("exporter");
        t.backend.set_down(Some(DOWN));
        export(&e, batch(0..4)).expect("spooled");
        assert_eq!(e.stats().spooled, 4);
    }
    let t2 = Setup::new();
    let e = t2
        .builder()
        .spool(dir.path())
        .build()
        .expect("exporter after restart");
    assert_eq!(
        e.stats().received,
        0,
        "nothing received before it leaves the spool"
    );
    t2.backend
        .set_down(Some("HTTP export failed with status code: 400"));
    e.handle().replay();
    let s = e.stats();
    assert_eq!(
        (s.received, s.dropped_not_retryable, s.pending_spool_records),
        (4, 4, 0)
    );
    assert!(balanced(&s));
}

#[test]
fn a_corrupt_spool_record_is_skipped_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let t = Setup::new();
    {
        let e = t
            .builder()
            .buffer(0, 0)
            .spool(dir.path())
            .spool_limits(1 << 20, 1)
            .build()
            .expect("exporter");
        t.backend.set_down(Some(DOWN));
        for i in 0..3 {
            export(&e, batch(i..i + 1)).expect("spooled");
        }
    }
    let mut segments: Vec<_> = std::fs::read_dir(dir.path())
        .expect("dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "spool"))
        .collect();
    segments.sort();
    assert_eq!(
        segments.len(),
        3,
        "one segment per record with 1-byte segments"
    );
    let mut bytes = std::fs::read(&segments[1]).expect("read");
    let n = bytes.len();
    bytes[n - 2] ^= 0x55;
    std::fs::write(&segments[1], bytes).expect("write");

    let t2 = Setup::new();
    let e = t2.builder().spool(dir.path()).build().expect("exporter");
    e.handle().replay();
    assert_eq!(t2.backend.delivered(), ["s0", "s2"]);
    // A payload byte: the record fails its checksum, its segment's frame is sound.
    assert_eq!(e.stats().corrupt_records, 1);
    assert_eq!(e.stats().corrupt_segments, 0);
}

#[test]
fn a_hung_backend_is_abandoned_at_the_deadline_and_the_batch_kept() {
    let t = Setup::new();
    let e = t
        .builder()
        .deadline(Duration::from_millis(50))
        .build()
        .expect("exporter");
    t.backend.0.lock().expect("backend").hang = true;
    export(&e, batch(0..2)).expect("kept");
    let s = e.stats();
    assert_eq!(s.deadline_exceeded, 1);
    assert_eq!(s.pending_memory_spans, 2);
}

#[test]
fn an_endless_deadline_is_taken_as_a_day_instead_of_overflowing() {
    let t = Setup::new();
    let e = t
        .builder()
        .deadline(Duration::MAX)
        .build()
        .expect("exporter");
    export(&e, batch(0..2)).expect("exported");
    assert_eq!(e.stats().exported, 2);
    e.force_flush().expect("flushed");
}

#[test]
fn the_replay_thread_delivers_the_backlog_without_new_spans() {
    let t = Setup::new();
    let e = t
        .builder()
        .replay_every(Duration::from_millis(5))
        .build()
        .expect("exporter");
    t.backend.set_down(Some(DOWN));
    export(&e, batch(0..3)).expect("buffered");
    assert_eq!(e.stats().pending_memory_spans, 3);
    t.backend.set_down(None);
    t.clock.advance(Duration::from_secs(30));
    // No export call from here on: the background thread replays. Wait for it, bounded.
    let give_up = std::time::Instant::now() + Duration::from_secs(20);
    while e.stats().replayed < 3 && std::time::Instant::now() < give_up {
        std::thread::yield_now();
    }
    assert_eq!(t.backend.delivered(), names(0..3));
    assert_eq!(e.stats().replayed, 3);
}
