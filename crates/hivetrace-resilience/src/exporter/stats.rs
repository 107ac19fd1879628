//! What happened to every span the resilient exporter was given.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts of a [`ResilientExporter`](super::ResilientExporter)'s work, in spans unless
/// said otherwise.
///
/// Every span given to `export` is, at any moment, in exactly one place:
/// `received == exported + dropped() + pending_memory_spans + spans in the spool`, where
/// `exported` includes `replayed`. Spans a previous process left in the spool count as
/// received when they leave it, replayed or dropped, so the equation holds for them too
/// once they are gone (the spans of a record too corrupt to decode are not known: such
/// records count in `corrupt_records` only).
///
/// ```
/// use hivetrace_resilience::exporter::ExportStats;
/// let stats = ExportStats::default();
/// assert_eq!(stats.dropped(), 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExportStats {
    /// Spans handed to `export`, and spans found in the spool at start-up once they are
    /// replayed or dropped.
    pub received: u64,
    /// Spans the inner exporter accepted, replayed ones included.
    pub exported: u64,
    /// Spans delivered late, from the memory buffer or the spool.
    pub replayed: u64,
    /// Export attempts after a failed one (batches).
    pub retried: u64,
    /// Spans that waited in the memory buffer (total).
    pub buffered: u64,
    /// Spans written to the disk spool (total).
    pub spooled: u64,
    /// Spans dropped: the memory buffer was full and no spool was configured.
    pub dropped_buffer_full: u64,
    /// Spans dropped: the spool was at its size cap.
    pub dropped_spool_full: u64,
    /// Spans dropped: the backend refused them in a way retrying will not fix (HTTP 400,
    /// 500 ...), or with an error the classifier called ignored.
    pub dropped_not_retryable: u64,
    /// Spans dropped: the spool could not be written.
    pub dropped_spool_error: u64,
    /// Spans dropped at shutdown: still in memory, and no spool to keep them.
    pub dropped_at_shutdown: u64,
    /// Spool records that failed their checksum or could not be decoded (their spans are
    /// lost; count unknown).
    pub corrupt_records: u64,
    /// Spool segments skipped as corrupt or truncated: a bad header or record length, a
    /// record cut short, a file gone, or a file that failed to be read three times in a row
    /// (the rest of each is lost).
    pub corrupt_segments: u64,
    /// Export attempts the breaker refused (batches).
    pub breaker_rejections: u64,
    /// Inner exports abandoned at the deadline (batches).
    pub deadline_exceeded: u64,
    /// Spans waiting in memory now.
    pub pending_memory_spans: u64,
    /// Estimated bytes waiting in memory now.
    pub pending_memory_bytes: u64,
    /// Records (batches) waiting in the spool now.
    pub pending_spool_records: u64,
    /// Bytes the spool takes on disk now.
    pub pending_spool_bytes: u64,
}

impl ExportStats {
    /// Spans dropped, for every reason.
    pub fn dropped(&self) -> u64 {
        self.dropped_buffer_full
            + self.dropped_spool_full
            + self.dropped_not_retryable
            + self.dropped_spool_error
            + self.dropped_at_shutdown
    }
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) received: AtomicU64,
    pub(crate) exported: AtomicU64,
    pub(crate) replayed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) buffered: AtomicU64,
    pub(crate) spooled: AtomicU64,
    pub(crate) dropped_buffer_full: AtomicU64,
    pub(crate) dropped_spool_full: AtomicU64,
    pub(crate) dropped_not_retryable: AtomicU64,
    pub(crate) dropped_spool_error: AtomicU64,
    pub(crate) dropped_at_shutdown: AtomicU64,
    pub(crate) corrupt_records: AtomicU64,
    pub(crate) corrupt_segments: AtomicU64,
    pub(crate) breaker_rejections: AtomicU64,
    pub(crate) deadline_exceeded: AtomicU64,
    pub(crate) pending_memory_spans: AtomicU64,
    pub(crate) pending_memory_bytes: AtomicU64,
    pub(crate) pending_spool_records: AtomicU64,
    pub(crate) pending_spool_bytes: AtomicU64,
}

pub(crate) fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    pub(crate) fn snapshot(&self) -> ExportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ExportStats {
            received: get(&self.received),
            exported: get(&self.exported),
            replayed: get(&self.replayed),
            retried: get(&self.retried),
            buffered: get(&self.buffered),
            spooled: get(&self.spooled),
            dropped_buffer_full: get(&self.dropped_buffer_full),
            dropped_spool_full: get(&self.dropped_spool_full),
            dropped_not_retryable: get(&self.dropped_not_retryable),
            dropped_spool_error: get(&self.dropped_spool_error),
            dropped_at_shutdown: get(&self.dropped_at_shutdown),
            corrupt_records: get(&self.corrupt_records),
            corrupt_segments: get(&self.corrupt_segments),
            breaker_rejections: get(&self.breaker_rejections),
            deadline_exceeded: get(&self.deadline_exceeded),
            pending_memory_spans: get(&self.pending_memory_spans),
            pending_memory_bytes: get(&self.pending_memory_bytes),
            pending_spool_records: get(&self.pending_spool_records),
            pending_spool_bytes: get(&self.pending_spool_bytes),
        }
    }
}
