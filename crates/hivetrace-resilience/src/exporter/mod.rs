//! `ResilientExporter`: span export that survives a backend outage.
//!
//! It wraps any `SpanExporter`. Each batch is sent with retries (only the failures the OTLP
//! specification calls retryable, with backoff and the server's hint) through a circuit
//! breaker, so a dead backend costs nothing per batch once the breaker is open. Batches that
//! cannot be delivered wait in a bounded memory buffer and, when configured, a disk spool,
//! and are replayed in order when the backend is back, also after a restart. Every span is
//! accounted for ([`ExportStats`]).
//!
//! ```
//! use std::time::Duration;
//! use opentelemetry_sdk::trace::InMemorySpanExporter;
//! use hivetrace_resilience::exporter::ResilientExporter;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let spool = tempfile::tempdir()?;
//! let exporter = ResilientExporter::builder(InMemorySpanExporter::default())
//!     .deadline(Duration::from_secs(5))
//!     .buffer(10_000, 32 << 20)
//!     .spool(spool.path())
//!     .build()?;
//! let handle = exporter.handle(); // stats, breaker, replay
//! let tracer = hivetrace_core::Tracer::builder().exporter(hivetrace_core::exporter::Exporter::custom(exporter)).build()?;
//! tracer.span("work").start().end();
//! tracer.shutdown()?;
//! assert_eq!(handle.stats().exported, 1);
//! # Ok(()) }
//! ```

mod builder;
mod classify;
mod codec;
mod handle;
mod spool;
mod stats;

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hivetrace_core::exporter::block_on_until;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

pub use builder::ResilientExporterBuilder;
pub use classify::{RETRYABLE_GRPC, RETRYABLE_HTTP, classify_export_error, classify_http_response};
pub use handle::ExporterHandle;
pub use stats::ExportStats;

use crate::breaker::CircuitBreaker;
use crate::outcome::Outcome;
use crate::retry::{Attempts, GiveUp, Next, RetryPolicy, Sleeper};
use handle::Handle;
use spool::{AppendError, Spool};
use stats::{Counters, add};

type ClassifyFn = dyn Fn(&OTelSdkError) -> Outcome + Send + Sync;

/// A `SpanExporter` around another that retries, trips a breaker, buffers, spools and
/// replays; see the [module docs](self).
///
/// Exports run to completion on the calling thread (hivetrace's export thread, or the SDK's
/// batch thread), each bounded by the deadline: keep it below the tracer's export timeout.
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanExporter};
/// use hivetrace_resilience::exporter::ResilientExporter;
/// let inner = InMemorySpanExporter::default();
/// let exporter = ResilientExporter::builder(inner.clone()).build()?;
/// futures_executor::block_on(exporter.export(Vec::new())).expect("an empty batch");
/// assert_eq!(exporter.stats().received, 0);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub struct ResilientExporter<E> {
    shared: Arc<Shared<E>>,
}

struct Shared<E> {
    core: Mutex<Core<E>>,
    counters: Counters,
    breaker: CircuitBreaker,
    retry: RetryPolicy,
    sleeper: Arc<dyn Sleeper>,
    classify: Box<ClassifyFn>,
    deadline: Duration,
    max_buffer_spans: usize,
    max_buffer_bytes: usize,
}

struct Core<E> {
    inner: E,
    memory: VecDeque<Waiting>,
    memory_spans: usize,
    memory_bytes: usize,
    spool: Option<Spool>,
}

struct Waiting {
    spans: Vec<SpanData>,
    bytes: usize,
}

/// Why a batch was not delivered.
enum Undelivered {
    /// Worth trying later.
    Later(Vec<SpanData>),
    /// Never worth trying again.
    Refused(usize),
}

impl<E> fmt::Debug for ResilientExporter<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilientExporter")
            .field("breaker", &self.shared.breaker)
            .field("stats", &self.shared.counters.snapshot())
            .finish_non_exhaustive()
    }
}

impl<E: SpanExporter + 'static> ResilientExporter<E> {
    /// A builder around `inner`.
    pub fn builder(inner: E) -> ResilientExporterBuilder<E> {
        ResilientExporterBuilder::new(inner)
    }

    /// A handle for counts, the breaker and replay, usable after the exporter is moved into a
    /// tracer.
    pub fn handle(&self) -> ExporterHandle {
        ExporterHandle {
            shared: Arc::clone(&self.shared) as Arc<dyn Handle>,
        }
    }

    /// What happened to the spans so far.
    pub fn stats(&self) -> ExportStats {
        self.shared.counters.snapshot()
    }

    /// The breaker in front of the backend.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.shared.breaker
    }
}

impl<E: SpanExporter> Shared<E> {
    fn lock(&self) -> MutexGuard<'_, Core<E>> {
        // The state is consistent between statements: a panic elsewhere leaves it usable.
        self.core.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends one batch: attempts through the breaker, backoff between them, within `deadline`.
    fn send(&self, inner: &E, batch: Vec<SpanData>, deadline: Instant) -> Result<(), Undelivered> {
        let mut attempts = Attempts::new(&self.retry);
        loop {
            let Ok(permit) = self.breaker.try_acquire() else {
                add(&self.counters.breaker_rejections, 1);
                return Err(Undelivered::Later(batch));
            };
            if Instant::now() >= deadline {
                drop(permit);
                return Err(Undelivered::Later(batch));
            }
            let (outcome, delivered) = match block_on_until(inner.export(batch.clone()), deadline) {
                Some(Ok(())) => (Outcome::Success, true),
                Some(Err(e)) => ((self.classify)(&e), false),
                None => {
                    add(&self.counters.deadline_exceeded, 1);
                    (Outcome::retryable_failure(), false)
                }
            };
            permit.record(outcome);
            match attempts.after(outcome) {
                Next::Done if delivered => {
                    let n = batch.len() as u64;
                    add(&self.counters.exported, n);
                    return Ok(());
                }
                // An error the classifier ignored (or called a success): the backend did not
                // take the batch, and asking again would be judged the same way.
                Next::Done => return Err(Undelivered::Refused(batch.len())),
                Next::Retry(delay) => {
                    // A delay past what an `Instant` can hold (a server's hint) is past the
                    // deadline too.
                    if Instant::now()
                        .checked_add(delay)
                        .is_none_or(|retry_at| retry_at >= deadline)
                    {
                        return Err(Undelivered::Later(batch));
                    }
                    add(&self.counters.retried, 1);
                    let _ = block_on_until(self.sleeper.sleep(delay), deadline);
                }
                Next::GiveUp(GiveUp::NotRetryable) => {
                    return Err(Undelivered::Refused(batch.len()));
                }
                Next::GiveUp(_) => return Err(Undelivered::Later(batch)),
            }
        }
    }

    /// Delivers what waits, oldest first, until it is all gone or a batch cannot be sent.
    fn drain(&self, core: &mut Core<E>, deadline: Instant) {
        loop {
            if let Some(w) = core.memory.pop_front() {
                let n = w.spans.len();
                core.memory_spans -= n;
                core.memory_bytes -= w.bytes;
                match self.send(&core.inner, w.spans, deadline) {
                    Ok(()) => add(&self.counters.replayed, n as u64),
                    Err(Undelivered::Later(spans)) => {
                        core.memory_spans += n;
                        core.memory_bytes += w.bytes;
                        core.memory.push_front(Waiting {
                            spans,
                            bytes: w.bytes,
                        });
                        return;
                    }
                    Err(Undelivered::Refused(n)) => {
                        add(&self.counters.dropped_not_retryable, n as u64)
                    }
                }
                continue;
            }
            let Some(spool) = core.spool.as_mut() else {
                return;
            };
            let record = spool.peek();
            add(&self.counters.corrupt_segments, spool.take_corrupt());
            add(&self.counters.corrupt_records, spool.take_corrupt_records());
            let Some(record) = record else {
                return;
            };
            let Some(spans) = codec::decode(&record.payload) else {
                add(&self.counters.corrupt_records, 1);
                let _ = spool.ack(&record);
                continue;
            };
            let n = spans.len() as u64;
            match self.send(&core.inner, spans, deadline) {
                Ok(()) => add(&self.counters.replayed, n),
                Err(Undelivered::Later(_)) => return,
                Err(Undelivered::Refused(n)) => add(&self.counters.dropped_not_retryable, n as u64),
            }
            if record.inherited {
                // Spans a previous process spooled are received when they leave the spool,
                // so that `received` balances what was exported and dropped.
                add(&self.counters.received, n);
            }
            if let Some(spool) = core.spool.as_mut() {
                // A failed acknowledgement means the record may be delivered twice after a
                // restart: better than losing it.
                let _ = spool.ack(&record);
            }
        }
    }

    /// Puts a batch behind what already waits. Ok when it waits, Err when it is dropped.
    fn enqueue(&self, core: &mut Core<E>, batch: Vec<SpanData>) -> OTelSdkResult {
        let n = batch.len();
        if n == 0 {
            return Ok(());
        }
        let bytes: usize = batch.iter().map(codec::approx_size).sum();
        let fits = core.memory_spans + n <= self.max_buffer_spans
            && core.memory_bytes + bytes <= self.max_buffer_bytes;
        if let Some(spool) = core.spool.as_mut()
            && (!fits || !spool.is_empty())
        {
            let payload = codec::encode(batch);
            return match spool.append(&payload) {
                Ok(()) => {
                    add(&self.counters.spooled, n as u64);
                    Ok(())
                }
                Err(AppendError::Full) => {
                    add(&self.counters.dropped_spool_full, n as u64);
                    Err(OTelSdkError::InternalFailure(format!(
                        "{n} spans dropped: the span spool in {} is full",
                        spool.dir().display()
                    )))
                }
                Err(AppendError::Io(e)) => {
                    add(&self.counters.dropped_spool_error, n as u64);
                    Err(OTelSdkError::InternalFailure(format!(
                        "{n} spans dropped: writing the span spool in {}: {e}",
                        spool.dir().display()
                    )))
                }
            };
        }
        if fits {
            core.memory_spans += n;
            core.memory_bytes += bytes;
            core.memory.push_back(Waiting {
                spans: batch,
                bytes,
            });
            add(&self.counters.buffered, n as u64);
            return Ok(());
        }
        add(&self.counters.dropped_buffer_full, n as u64);
        Err(OTelSdkError::InternalFailure(format!(
            "{n} spans dropped: the backend is unavailable and the export buffer is full"
        )))
    }

    /// Whether batches wait, as last published (no lock).
    fn is_waiting(&self) -> bool {
        let c = &self.counters;
        c.pending_memory_spans.load(Ordering::Relaxed) > 0
            || c.pending_spool_records.load(Ordering::Relaxed) > 0
    }

    /// Copies the gauges of what waits into the counters.
    fn publish(&self, core: &mut Core<E>) {
        let c = &self.counters;
        c.pending_memory_spans
            .store(core.memory_spans as u64, Ordering::Relaxed);
        c.pending_memory_bytes
            .store(core.memory_bytes as u64, Ordering::Relaxed);
        let (records, bytes) = core
            .spool
            .as_ref()
            .map_or((0, 0), |s| (s.records(), s.bytes()));
        c.pending_spool_records.store(records, Ordering::Relaxed);
        c.pending_spool_bytes.store(bytes, Ordering::Relaxed);
    }

    fn export_now(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let deadline = Instant::now() + self.deadline;
        add(&self.counters.received, batch.len() as u64);
        let mut core = self.lock();
        self.drain(&mut core, deadline);
        let waiting = !core.memory.is_empty() || core.spool.as_ref().is_some_and(|s| !s.is_empty());
        let result = if waiting {
            self.enqueue(&mut core, batch)
        } else {
            match self.send(&core.inner, batch, deadline) {
                Ok(()) => Ok(()),
                Err(Undelivered::Later(batch)) => self.enqueue(&mut core, batch),
                Err(Undelivered::Refused(n)) => {
                    add(&self.counters.dropped_not_retryable, n as u64);
                    Err(OTelSdkError::InternalFailure(format!(
                        "{n} spans dropped: the backend refused them and retrying would not help"
                    )))
                }
            }
        };
        self.publish(&mut core);
        result
    }

    fn shutdown_now(&self, timeout: Duration) -> OTelSdkResult {
        let start = Instant::now();
        let deadline = start + timeout.min(self.deadline);
        let mut core = self.lock();
        self.drain(&mut core, deadline);
        let waiting: Vec<Waiting> = core.memory.drain(..).collect();
        let spans: u64 = waiting.iter().map(|w| w.spans.len() as u64).sum();
        core.memory_spans = 0;
        core.memory_bytes = 0;
        match core.spool.as_mut() {
            Some(spool) if spans > 0 => {
                let payloads: Vec<Vec<u8>> = waiting
                    .into_iter()
                    .map(|w| codec::encode(w.spans))
                    .collect();
                match spool.prepend(&payloads) {
                    Ok(()) => add(&self.counters.spooled, spans),
                    Err(AppendError::Full) => add(&self.counters.dropped_spool_full, spans),
                    Err(AppendError::Io(_)) => add(&self.counters.dropped_spool_error, spans),
                }
            }
            Some(_) => {}
            None => add(&self.counters.dropped_at_shutdown, spans),
        }
        self.publish(&mut core);
        let left = timeout.saturating_sub(start.elapsed());
        core.inner.shutdown_with_timeout(left)
    }
}

impl<E: SpanExporter + 'static> SpanExporter for ResilientExporter<E> {
    /// Delivers what waits, then this batch, within the deadline; a batch that cannot be
    /// delivered waits (Ok) or, when there is no room, is dropped and counted (Err).
    fn export(
        &self,
        batch: Vec<SpanData>,
    ) -> impl std::future::Future<Output = OTelSdkResult> + Send {
        let result = self.shared.export_now(batch);
        std::future::ready(result)
    }

    /// Delivers what waits within the timeout, moves what is still in memory to the spool
    /// (or counts it dropped), and shuts the inner exporter down.
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shared.shutdown_now(timeout)
    }

    /// Delivers what waits, then flushes the inner exporter.
    fn force_flush(&self) -> OTelSdkResult {
        self.shared.replay();
        self.shared.lock().inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.shared.lock().inner.set_resource(resource);
    }
}
