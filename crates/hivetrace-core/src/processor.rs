//! The span processor every hivetrace tracer ends in: a bounded lock-free queue in front of an
//! export thread.
//!
//! It exists because the SDK's batch processor gets four things wrong for users
//! (`notes/opentelemetry-0.33.md`): it exports unsampled spans, drops silently when its queue is
//! full, has no export deadline, and its flush can hang inside a tokio runtime. Here:
//! - only sampled spans are queued; the others are counted as `unsampled`;
//! - ending a span is one push onto a fixed-size queue: never a lock, never a wait, and a full
//!   queue is a counted drop;
//! - the export thread wakes when a batch is full or the delay passes, finishes the spans
//!   (identity, vocabularies, truncation) off the caller's thread, and exports;
//! - flush and shutdown are messages to that thread, answered within a timeout, so they are
//!   bounded and safe from any thread, including a tokio worker of either runtime flavour.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{JoinHandle, ThreadId};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter as _, SpanProcessor};

use crate::SpanObserver;
use crate::error::{Error, Result};
use crate::exporter::Exporter;
use crate::finish::Finisher;
use crate::stats::{Counters, TracerStats};

/// Batching settings: how many spans wait, how many go in one export, how often.
///
/// The defaults are OpenTelemetry's: a queue of 2048, batches of 512, a 5 s delay, a 30 s
/// export timeout (HoneyHive's per-request timeout).
///
/// ```
/// use std::time::Duration;
/// use hivetrace_core::BatchConfig;
/// let batch = BatchConfig::default().max_queue_size(65_536).scheduled_delay(Duration::from_secs(1));
/// assert_eq!(batch.queue_size(), 65_536);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    pub(crate) max_queue_size: usize,
    pub(crate) max_export_batch_size: usize,
    pub(crate) scheduled_delay: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue_size: 2048,
            max_export_batch_size: 512,
            scheduled_delay: Duration::from_secs(5),
        }
    }
}

impl BatchConfig {
    /// The most spans that wait for export; past it, ended spans are dropped and counted.
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.max_queue_size = size.max(1);
        self
    }

    /// The most spans in one export call.
    pub fn max_export_batch_size(mut self, size: usize) -> Self {
        self.max_export_batch_size = size.max(1);
        self
    }

    /// How long a span may wait before its batch is exported even if not full.
    pub fn scheduled_delay(mut self, delay: Duration) -> Self {
        self.scheduled_delay = delay;
        self
    }

    /// The queue size.
    pub fn queue_size(&self) -> usize {
        self.max_queue_size
    }

    /// The batch size, never more than the queue size.
    pub fn batch_size(&self) -> usize {
        self.max_export_batch_size.min(self.max_queue_size)
    }

    /// The delay.
    pub fn delay(&self) -> Duration {
        self.scheduled_delay
    }
}

enum Control {
    /// A batch is full: export what is queued.
    Export,
    Flush(mpsc::SyncSender<OTelSdkResult>),
    Shutdown(mpsc::SyncSender<OTelSdkResult>),
}

/// State shared between the callers' threads and the export thread.
struct Shared {
    queue: ArrayQueue<SpanData>,
    counters: Counters,
    export_signalled: AtomicBool,
    shut_down: AtomicBool,
    /// Set once the shutdown is over (the export thread has answered it, or the caller stopped
    /// waiting): a shutdown called meanwhile waits for it, rather than returning before the
    /// spans are exported.
    shutdown_over: Mutex<bool>,
    shutdown_over_changed: Condvar,
    batch_size: usize,
}

impl Shared {
    fn end_shutdown(&self) {
        *self
            .shutdown_over
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shutdown_over_changed.notify_all();
    }

    /// Waits, within `timeout`, for a shutdown another caller started.
    fn await_shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let over = self
            .shutdown_over
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (over, _) = self
            .shutdown_over_changed
            .wait_timeout_while(over, timeout, |over| !*over)
            .unwrap_or_else(PoisonError::into_inner);
        if *over {
            Ok(())
        } else {
            Err(OTelSdkError::Timeout(timeout))
        }
    }
}

/// The processor handed to the SDK provider. Clones share one pipeline: the tracer keeps one
/// to flush, shut down and read counters directly, so the SDK provider's error wrapping and its
/// early return after shutdown (which would hide late spans from the counters) are bypassed.
#[derive(Clone)]
pub(crate) struct HivetraceProcessor {
    inner: Arc<Pipeline>,
}

struct Pipeline {
    shared: Arc<Shared>,
    control: mpsc::Sender<Control>,
    /// The export thread, and a channel that disconnects when it has ended (its exporter
    /// dropped).
    worker: Mutex<Option<(JoinHandle<()>, mpsc::Receiver<()>)>>,
    /// The export thread's id: there, a flush or shutdown must not wait for an answer it
    /// would have to give itself (a handle dropped by code an exporter runs).
    worker_id: ThreadId,
    flush_timeout: Duration,
    /// Hooks called on start and end with no copy of the span (the SDK would clone it for
    /// each extra processor).
    observers: Box<[Box<dyn SpanObserver>]>,
}

impl fmt::Debug for HivetraceProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shared = &self.inner.shared;
        f.debug_struct("HivetraceProcessor")
            .field("queue_capacity", &shared.queue.capacity())
            .field("stats", &self.stats())
            .field("shut_down", &shared.shut_down.load(Ordering::Relaxed))
            .finish()
    }
}

impl HivetraceProcessor {
    /// Starts the export thread.
    pub(crate) fn start(
        exporter: Exporter,
        finisher: Finisher,
        batch: BatchConfig,
        export_deadline: Duration,
        flush_timeout: Duration,
        observers: Vec<Box<dyn SpanObserver>>,
    ) -> Result<Self> {
        let shared = Arc::new(Shared {
            queue: ArrayQueue::new(batch.queue_size()),
            counters: Counters::default(),
            export_signalled: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            shutdown_over: Mutex::new(false),
            shutdown_over_changed: Condvar::new(),
            batch_size: batch.batch_size(),
        });
        let (control, inbox) = mpsc::channel();
        let (ended, worker_ended) = mpsc::sync_channel::<()>(0);
        let worker = Worker {
            shared: Arc::clone(&shared),
            exporter,
            finisher,
            batch,
            inbox,
            unreported: None,
            export_deadline,
        };
        let handle = std::thread::Builder::new()
            .name("hivetrace-export".into())
            .spawn(move || {
                let _ended = ended;
                worker.run();
            })
            .map_err(|e| Error::ExporterBuild {
                exporter: "batch",
                reason: format!("could not start the export thread: {e}"),
            })?;
        let worker_id = handle.thread().id();
        Ok(HivetraceProcessor {
            inner: Arc::new(Pipeline {
                shared,
                control,
                worker_id,
                worker: Mutex::new(Some((handle, worker_ended))),
                flush_timeout,
                observers: observers.into_boxed_slice(),
            }),
        })
    }

    pub(crate) fn stats(&self) -> TracerStats {
        let shared = &self.inner.shared;
        shared.counters.snapshot(shared.queue.len())
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.inner.shared.shut_down.load(Ordering::Acquire)
    }

    fn on_export_thread(&self) -> bool {
        std::thread::current().id() == self.inner.worker_id
    }

    fn request(
        &self,
        make: impl FnOnce(mpsc::SyncSender<OTelSdkResult>) -> Control,
        timeout: Duration,
    ) -> OTelSdkResult {
        let (reply, answer) = mpsc::sync_channel(1);
        if self.inner.control.send(make(reply)).is_err() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        match answer.recv_timeout(timeout) {
            Ok(result) => result,
            Err(RecvTimeoutError::Timeout) => Err(OTelSdkError::Timeout(timeout)),
            Err(RecvTimeoutError::Disconnected) => Err(OTelSdkError::AlreadyShutdown),
        }
    }

    /// Exports every span ended so far, within the flush timeout.
    pub(crate) fn flush(&self) -> OTelSdkResult {
        if self.is_shut_down() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        if self.on_export_thread() {
            return Err(OTelSdkError::InternalFailure(
                "flush called from inside an export, which the export thread cannot wait for"
                    .into(),
            ));
        }
        self.request(Control::Flush, self.inner.flush_timeout)
    }

    /// Exports what is queued and stops the export thread, within `timeout`. Idempotent: a
    /// call while another runs waits for it (within `timeout`), later calls return `Ok(())`.
    pub(crate) fn shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let on_export_thread = self.on_export_thread();
        if self.inner.shared.shut_down.swap(true, Ordering::AcqRel) {
            if on_export_thread {
                // The shutdown under way waits for this thread: waiting here would deadlock.
                return Ok(());
            }
            return self.inner.shared.await_shutdown(timeout);
        }
        if on_export_thread {
            // Called by code the exporter runs (the last handle dropped there): the thread
            // exports the queue and stops once the current export returns.
            let (reply, _) = mpsc::sync_channel(1);
            let _ = self.inner.control.send(Control::Shutdown(reply));
            return Err(OTelSdkError::InternalFailure(
                "shutdown called from inside an export: the queue is exported once it returns"
                    .into(),
            ));
        }
        let result = self.run_shutdown(timeout);
        self.inner.shared.end_shutdown();
        result
    }

    fn run_shutdown(&self, timeout: Duration) -> OTelSdkResult {
        let started = Instant::now();
        let result = self.request(Control::Shutdown, timeout);
        // Join only a thread that has answered (whatever its answer, a failed last export
        // included): a wedged exporter must not wedge the caller.
        // It drops the exporter after answering, and a drop may block too (a tokio runtime
        // the exporter owns waits for its blocking tasks): that wait stays within `timeout`.
        if !matches!(result, Err(OTelSdkError::Timeout(_)))
            && let Ok(mut worker) = self.inner.worker.lock()
            && let Some((handle, ended)) = worker.take()
        {
            let left = timeout.saturating_sub(started.elapsed());
            if let Err(RecvTimeoutError::Disconnected) = ended.recv_timeout(left) {
                let _ = handle.join();
            }
            // The thread takes nothing from the queue after answering.
            // A span that passed the shutdown check just before it was set, and was queued
            // after the worker's last drain, is counted as dropped rather than lost.
            let shared = &self.inner.shared;
            while shared.queue.pop().is_some() {
                shared.counters.pushed.fetch_sub(1, Ordering::Relaxed);
                Counters::bump(&shared.counters.dropped, 1);
            }
        }
        result
    }
}

impl SpanProcessor for HivetraceProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        Counters::bump(&self.inner.shared.counters.started, 1);
        for observer in &self.inner.observers {
            observer.on_start(span, cx);
        }
    }

    fn on_end(&self, span: SpanData) {
        for observer in &self.inner.observers {
            observer.on_end(&span);
        }
        let shared = &*self.inner.shared;
        if !span.span_context.is_sampled() {
            Counters::bump(&shared.counters.unsampled, 1);
            return;
        }
        if shared.shut_down.load(Ordering::Relaxed) || shared.queue.push(span).is_err() {
            Counters::bump(&shared.counters.dropped, 1);
            return;
        }
        // Wake the export thread about once per batch. Counting pushes here, rather than
        // reading the queue's length, keeps the consumer's cache lines out of the hot path.
        let pushed = shared.counters.pushed.fetch_add(1, Ordering::Relaxed) + 1;
        if pushed.is_multiple_of(shared.batch_size as u64)
            && !shared.export_signalled.swap(true, Ordering::AcqRel)
        {
            let _ = self.inner.control.send(Control::Export);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown(timeout)
    }
}

struct Worker {
    shared: Arc<Shared>,
    exporter: Exporter,
    finisher: Finisher,
    batch: BatchConfig,
    inbox: mpsc::Receiver<Control>,
    /// The bound on one export call.
    export_deadline: Duration,
    /// The first export failure since the last flush: a flush reports every span ended before
    /// it, including those a full batch already took to the exporter.
    unreported: Option<OTelSdkError>,
}

impl Worker {
    fn run(mut self) {
        let mut deadline = Instant::now() + self.batch.scheduled_delay;
        loop {
            let wait = deadline.saturating_duration_since(Instant::now());
            match self.inbox.recv_timeout(wait) {
                Ok(Control::Export) => {
                    self.shared.export_signalled.store(false, Ordering::Release);
                    self.export_in_background(true);
                }
                Ok(Control::Flush(reply)) => {
                    // Then the exporter's own flush: a file's buffer, a resilient exporter's
                    // backlog waiting for a recovered backend.
                    let result = self.export_and_report();
                    let flushed = contain_panic("flush", &self.exporter, |e| e.force_flush());
                    let _ = reply.send(result.and(flushed));
                }
                Ok(Control::Shutdown(reply)) => {
                    let result = self.export_and_report();
                    let closed = contain_panic("shutdown", &self.exporter, |e| e.shutdown());
                    let _ = reply.send(result.and(closed));
                    self.shared.end_shutdown();
                    return;
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.export_in_background(false);
                    deadline = Instant::now() + self.batch.scheduled_delay;
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.export_queued(false);
                    let _ = contain_panic("shutdown", &self.exporter, |e| e.shutdown());
                    return;
                }
            }
        }
    }

    /// Exports without a caller waiting: a failure is kept for the next flush to report.
    fn export_in_background(&mut self, full_only: bool) {
        if let Err(e) = self.export_queued(full_only)
            && self.unreported.is_none()
        {
            self.unreported = Some(e);
        }
    }

    /// Exports everything queued for a flush or shutdown, reporting failures since the last one.
    fn export_and_report(&mut self) -> OTelSdkResult {
        let result = self.export_queued(false);
        match self.unreported.take() {
            Some(earlier) if result.is_ok() => Err(earlier),
            _ => result,
        }
    }

    /// Exports what is queued, in batches. With `full_only`, stops when less than a full batch
    /// is left (the timer sends the rest). Returns the first error.
    fn export_queued(&mut self, full_only: bool) -> OTelSdkResult {
        let batch_size = self.shared.batch_size;
        let mut result = Ok(());
        loop {
            let queued = self.shared.queue.len();
            if queued == 0 || (full_only && queued < batch_size) {
                return result;
            }
            // The spans stay counted as queued until the exporter answers: counted as exporting
            // before they leave the queue (only this thread takes from it), so a snapshot taken
            // meanwhile never misses them.
            let take = queued.min(batch_size);
            let counters = &self.shared.counters;
            Counters::bump(&counters.exporting, take as u64);
            let mut batch = Vec::with_capacity(take);
            let mut attributes_dropped = 0;
            while batch.len() < take {
                match self.shared.queue.pop() {
                    Some(span) => {
                        attributes_dropped += u64::from(span.dropped_attributes_count);
                        batch.push(span);
                    }
                    None => break,
                }
            }
            let n = batch.len() as u64;
            counters
                .exporting
                .fetch_sub(take as u64 - n, Ordering::Relaxed);
            if attributes_dropped > 0 {
                Counters::bump(&counters.attributes_dropped, attributes_dropped);
            }
            let (finisher, deadline) = (&self.finisher, self.export_deadline);
            let exported = contain_panic("export", &self.exporter, |exporter| {
                for span in batch.iter_mut() {
                    finisher.finish(span);
                }
                exporter.export_blocking(batch, deadline)
            });
            match exported {
                Ok(()) => Counters::bump(&counters.exported, n),
                Err(e) => {
                    Counters::bump(&counters.export_failed, n);
                    Counters::bump(&counters.export_errors, 1);
                    if result.is_ok() {
                        result = Err(e);
                    }
                }
            }
            counters.exporting.fetch_sub(n, Ordering::Relaxed);
        }
    }
}

/// Runs `f` on the export thread's exporter, turning a panic (in the exporter, or in finishing a
/// span) into a failed `operation`. A panic would otherwise end the export thread: every later
/// flush would report a shutdown nobody asked for, and ended spans would wait forever.
fn contain_panic(
    operation: &str,
    exporter: &Exporter,
    f: impl FnOnce(&Exporter) -> OTelSdkResult,
) -> OTelSdkResult {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(exporter))).unwrap_or_else(|_| {
        // The panic's own message went to the panic hook; it is not repeated here, where it
        // could carry what an error must not (a URL with credentials, a header).
        Err(OTelSdkError::InternalFailure(format!(
            "the {} exporter panicked during {operation}",
            exporter.kind()
        )))
    })
}
