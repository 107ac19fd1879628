//! Property: through any sequence of outages, recoveries and exports, every span is
//! delivered once, in the order produced, or counted as dropped; nothing else happens to it.

use std::borrow::Cow;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::exporter::ResilientExporter;
use hivetrace_resilience::retry::{ManualSleeper, RetryPolicy};
use hivetrace_resilience::{CircuitBreaker, SlidingWindow};
use opentelemetry::InstrumentationScope;
use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use proptest::prelude::*;

#[derive(Debug, Default)]
struct Backend {
    failure: Option<&'static str>,
    delivered: Vec<u64>,
}

#[derive(Clone, Debug, Default)]
struct Scripted(Arc<Mutex<Backend>>);

impl SpanExporter for Scripted {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut b = self.0.lock().expect("backend");
        if let Some(f) = b.failure {
            return Err(OTelSdkError::InternalFailure(f.into()));
        }
        b.delivered.extend(
            batch
                .iter()
                .map(|s| u64::from_be_bytes(s.span_context.span_id().to_bytes())),
        );
        Ok(())
    }
}

fn span(id: u64) -> SpanData {
    SpanData {
        span_context: SpanContext::new(
            TraceId::from(1u128),
            SpanId::from(id),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: SpanKind::Internal,
        name: Cow::Borrowed("s"),
        start_time: SystemTime::UNIX_EPOCH,
        end_time: SystemTime::UNIX_EPOCH,
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: InstrumentationScope::builder("p").build(),
    }
}

#[derive(Clone, Debug)]
enum Step {
    Export(usize),
    Down(&'static str),
    Up,
    Advance(u64),
    Replay,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (1usize..6).prop_map(Step::Export),
        1 => prop_oneof![
            Just("HTTP export failed with status code: 503"),
            Just("HTTP export failed: network error"),
            Just("HTTP export failed with status code: 400"),
        ].prop_map(Step::Down),
        1 => Just(Step::Up),
        2 => (0u64..20).prop_map(Step::Advance),
        1 => Just(Step::Replay),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn every_span_is_delivered_once_in_order_or_counted(
        steps in prop::collection::vec(step(), 1..60),
        buffer in 0usize..12,
        spool in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = ManualClock::new();
        let backend = Scripted::default();
        let breaker = CircuitBreaker::builder("p")
            .sliding_window(SlidingWindow::Count(3))
            .minimum_calls(1)
            .half_open_permits(1)
            .wait_in_open(Duration::from_secs(5))
            .clock(clock.clone())
            .build()
            .expect("breaker");
        let retry_clock = ManualClock::new();
        let mut builder = ResilientExporter::builder(backend.clone())
            .breaker(breaker)
            .retry(RetryPolicy::new(2).expect("policy").clock(retry_clock.clone()))
            .sleeper(ManualSleeper::new(retry_clock))
            .buffer(buffer, 1 << 20);
        if spool {
            builder = builder.spool(dir.path()).spool_limits(4096, 512).spool_sync(false);
        }
        let e = builder.build().expect("exporter");
        let mut next = 0u64;
        let mut produced = Vec::new();
        for s in steps {
            match s {
                Step::Export(n) => {
                    let batch: Vec<SpanData> = (0..n).map(|_| { next += 1; span(next) }).collect();
                    produced.extend(next - n as u64 + 1..=next);
                    let _ = futures_executor::block_on(e.export(batch));
                }
                Step::Down(f) => backend.0.lock().expect("backend").failure = Some(f),
                Step::Up => backend.0.lock().expect("backend").failure = None,
                Step::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                Step::Replay => e.handle().replay(),
            }
        }
        // The backend comes back for good: everything that waits is delivered.
        backend.0.lock().expect("backend").failure = None;
        clock.advance(Duration::from_secs(3600));
        e.handle().replay();
        let s = e.stats();
        let delivered = backend.0.lock().expect("backend").delivered.clone();
        prop_assert_eq!(s.pending_memory_spans, 0);
        prop_assert_eq!(s.pending_spool_records, 0);
        prop_assert_eq!(s.received, produced.len() as u64);
        prop_assert_eq!(s.exported, delivered.len() as u64);
        prop_assert_eq!(s.received, s.exported + s.dropped(), "{:?}", s);
        // Delivered once each, in the order produced.
        let mut last = 0;
        for id in &delivered {
            prop_assert!(*id > last, "out of order or twice: {:?}", delivered);
            last = *id;
        }
    }
}
