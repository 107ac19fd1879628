//! A background thread that keeps the Prometheus latency histograms close to the shards.
//!
//! Spans only touch their shard; the histograms are brought up to date by
//! [`EndpointStats::sync_histogram`](crate::endpoint::EndpointStats::sync_histogram), whose
//! work grows with the spans recorded since the previous call. A scrape calls it, and so does
//! this thread once a second, so that a scrape after a long quiet spell (Prometheus down,
//! not yet configured) never has hours of spans to catch up on. The thread starts with the
//! first collector and ends within a second of the processor's last handle being dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::processor::Shared;

/// How often the thread brings the histograms up to date.
pub(crate) const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Starts the thread for `shared`, once.
pub(crate) fn start(shared: &Arc<Shared>) {
    if shared.sync_started.swap(true, Ordering::AcqRel) {
        return;
    }
    let weak = Arc::downgrade(shared);
    // Without the thread (none could be spawned) scrapes still sync, only with more to do.
    let _ = std::thread::Builder::new()
        .name("hivetrace-metrics-sync".into())
        .spawn(move || run(&weak));
}

fn run(weak: &Weak<Shared>) {
    loop {
        std::thread::sleep(SYNC_INTERVAL);
        let Some(shared) = weak.upgrade() else {
            return;
        };
        sync_all(&shared);
    }
}

/// Brings every endpoint's histogram up to date.
pub(crate) fn sync_all(shared: &Shared) {
    let table = shared.endpoints.table();
    for stats in table.series.values() {
        stats.sync_histogram();
    }
    table.overflow.sync_histogram();
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::borrow::Cow;
    use std::time::{Duration, SystemTime};

    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
    use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
    use prometheus_client::registry::Registry;

    use crate::MetricsProcessor;

    fn span(name: &'static str) -> SpanData {
        let start = SystemTime::now();
        SpanData {
            span_context: SpanContext::new(
                TraceId::from(7u128),
                SpanId::from(7u64),
                TraceFlags::SAMPLED,
                false,
                Default::default(),
            ),
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: Cow::Borrowed(name),
            start_time: start,
            end_time: start + Duration::from_millis(30),
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    #[test]
    fn sync_all_updates_every_histogram_and_the_overflow_one() {
        let metrics = MetricsProcessor::builder().max_series(1).build().unwrap();
        metrics.record(&span("chat"));
        metrics.record(&span("tool"));
        metrics.record(&span("tool"));
        super::sync_all(&metrics.shared);
        let table = metrics.shared.endpoints.table();
        let mut registry = Registry::default();
        registry.register("chat", "", table.series["chat"].histogram.clone());
        registry.register("overflow", "", table.overflow.histogram.clone());
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        assert!(text.contains("chat_count 1\n"), "{text}");
        assert!(text.contains("overflow_count 2\n"), "{text}");
    }
}
