//! Counters of what happened to a tracer's spans, so no span is lost silently.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// A snapshot of a tracer's span counters, from [`Tracer::stats`](crate::Tracer::stats).
///
/// Every recorded span ends up in exactly one of `exported`, `dropped`, `export_failed`,
/// `unsampled`, or is still queued: `ended == exported + dropped + export_failed + unsampled +
/// queued`.
///
/// ```
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// tracer.span("work").start().end();
/// tracer.force_flush()?;
/// let stats = tracer.stats();
/// assert_eq!((stats.started, stats.exported, stats.dropped), (1, 1, 0));
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TracerStats {
    /// Recording spans started.
    pub started: u64,
    /// Recording spans ended.
    pub ended: u64,
    /// Spans that ended recording but not sampled: never exported, as the spec requires.
    pub unsampled: u64,
    /// Spans the exporter accepted.
    pub exported: u64,
    /// Spans dropped before export: the queue was full, or the tracer was shut down.
    pub dropped: u64,
    /// Spans in batches the exporter failed to deliver.
    pub export_failed: u64,
    /// Export calls that failed or timed out.
    pub export_errors: u64,
    /// Spans waiting for export when the snapshot was taken: in the queue, or in a batch the
    /// exporter has not answered yet.
    pub queued: u64,
    /// Attributes that exported spans lost to the span attribute limit (OpenTelemetry's
    /// default, 128 per span), summed. Not zero means some spans were cut short: enrich with
    /// fewer keys. An error is still recorded, from the span's status and `exception` event.
    pub attributes_dropped: u64,
}

/// The live counters. Each sits on its own cache line: the hot ones are bumped by every thread
/// that ends a span, the others by the export thread.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) started: CachePadded<AtomicU64>,
    pub(crate) unsampled: CachePadded<AtomicU64>,
    pub(crate) dropped: CachePadded<AtomicU64>,
    /// Spans queued for export. `ended` is derived (`unsampled + dropped + pushed`), so ending a
    /// span bumps one counter, not two.
    pub(crate) pushed: CachePadded<AtomicU64>,
    /// Spans taken from the queue whose export has not been answered: still `queued` in a
    /// snapshot.
    pub(crate) exporting: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) export_failed: AtomicU64,
    pub(crate) export_errors: AtomicU64,
    pub(crate) attributes_dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// The counters, with `queued` spans in the queue.
    pub(crate) fn snapshot(&self, queued: usize) -> TracerStats {
        let unsampled = self.unsampled.load(Ordering::Relaxed);
        let dropped = self.dropped.load(Ordering::Relaxed);
        let pushed = self.pushed.load(Ordering::Relaxed);
        TracerStats {
            started: self.started.load(Ordering::Relaxed),
            ended: unsampled + dropped + pushed,
            unsampled,
            exported: self.exported.load(Ordering::Relaxed),
            dropped,
            export_failed: self.export_failed.load(Ordering::Relaxed),
            export_errors: self.export_errors.load(Ordering::Relaxed),
            queued: queued as u64 + self.exporting.load(Ordering::Relaxed),
            attributes_dropped: self.attributes_dropped.load(Ordering::Relaxed),
        }
    }
}
