//! The span processor that turns every ended span into metrics.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use hivetrace_core::clock::Clock;
use hivetrace_core::conventions::{honeyhive, otel};
use opentelemetry::Context;
use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::builder::MetricsProcessorBuilder;
use crate::endpoint::{EndpointStats, Observation, bucket_of};
use crate::exemplar::SpanExemplar;
use crate::series::{SeriesMap, label};
use crate::snapshot::{self, MetricsSnapshot};
use crate::weight::Weighting;
use crate::window::SLOTS;

/// The error type recorded for a failed span that names none.
pub const UNKNOWN_ERROR_TYPE: &str = "unknown";

/// Records every ended span: counts, errors and latency by endpoint (span name), errors by
/// type, uptime. Read it with [`snapshot`](MetricsProcessor::snapshot), expose it to
/// Prometheus with [`register`](MetricsProcessor::register).
///
/// Clones share one set of metrics: give one to the tracer, keep one to read.
///
/// A span is an error when its status is `Error` or it carries `honeyhive_error` (what
/// `Span::record_error` and `enrich_span(|e| e.error(..))` write); its error type is its
/// `honeyhive_error_type` or `error.type` attribute, else [`UNKNOWN_ERROR_TYPE`].
///
/// Cost: [`record`](MetricsProcessor::record) takes one lookup in a read-mostly map, one
/// uncontended lock of a per-thread shard and one sketch insertion, allocating nothing for an
/// endpoint already seen (`cargo bench -p hivetrace-metrics --bench processor`). As a second
/// processor it also makes the OpenTelemetry SDK copy each ended span (the SDK clones a span for
/// every processor once a provider has more than one); the bench's `tracer/*` group measures
/// both parts end to end.
///
/// ```
/// use hivetrace_core::Tracer;
/// use hivetrace_metrics::MetricsProcessor;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = MetricsProcessor::builder().build()?;
/// let tracer = Tracer::builder()
///     .console_writer(std::io::sink())
///     .observer(metrics.clone())
///     .build()?;
/// tracer.span("chat").start().end();
/// tracer.span("chat").start().record_error_message("RateLimited", "429 from the provider");
///
/// let stats = metrics.snapshot();
/// assert_eq!(stats.count, 2.0);
/// assert_eq!(stats.error_rate, 0.5);
/// assert_eq!(stats.endpoints["chat"].error_count, 1.0);
/// assert_eq!(stats.error_types["RateLimited"], 1.0);
/// # tracer.shutdown()?; Ok(()) }
/// ```
#[derive(Clone)]
pub struct MetricsProcessor {
    pub(crate) shared: Arc<Shared>,
}

/// Error counts of one error type: an `f64` in an atomic, added to with compare-and-swap.
#[derive(Debug, Default)]
pub(crate) struct ErrorStats(AtomicU64);

impl ErrorStats {
    fn add(&self, weight: f64) {
        let _ = self
            .0
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + weight).to_bits())
            });
    }

    pub(crate) fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

/// Metric names, made once.
#[derive(Debug)]
pub(crate) struct Names {
    pub(crate) namespace: String,
    pub(crate) traces: String,
    pub(crate) latency: String,
    pub(crate) errors: String,
    pub(crate) overflow: String,
    pub(crate) uptime: String,
}

impl Names {
    fn new(namespace: &str) -> Self {
        Names {
            namespace: namespace.to_owned(),
            traces: format!("{namespace}_traces"),
            latency: format!("{namespace}_trace_latency"),
            errors: format!("{namespace}_trace_errors"),
            overflow: format!("{namespace}_metrics_overflow"),
            uptime: format!("{namespace}_uptime"),
        }
    }
}

pub(crate) struct Shared {
    pub(crate) names: Names,
    pub(crate) endpoints: SeriesMap<EndpointStats>,
    pub(crate) error_types: SeriesMap<ErrorStats>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) created: u64,
    pub(crate) reset_at: AtomicU64,
    pub(crate) slot_nanos: u64,
    pub(crate) window: Duration,
    /// Whether the histogram sync thread was started ([`crate::histogram_sync`]).
    pub(crate) sync_started: AtomicBool,
    shards: usize,
    buckets: Arc<[f64]>,
    weighting: Weighting,
}

impl Shared {
    pub(crate) fn new_endpoint(&self) -> EndpointStats {
        EndpointStats::new(self.shards, &self.buckets)
    }

    /// The window slot of a wall-clock time: spans are placed by their own end time, and the
    /// window ends at the clock's wall time, so no clock is read per span.
    #[inline]
    pub(crate) fn epoch(&self, at: SystemTime) -> u64 {
        crate::endpoint::epoch_of(at, self.slot_nanos)
    }
}

impl fmt::Debug for MetricsProcessor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = &self.shared;
        f.debug_struct("MetricsProcessor")
            .field("namespace", &s.names.namespace)
            .field("endpoints", &s.endpoints.table().series.len())
            .field("window", &s.window)
            .field("weighting", &s.weighting)
            .finish_non_exhaustive()
    }
}

impl MetricsProcessor {
    /// A builder with the defaults: namespace `hivetrace`, 200 series per label, a one-minute
    /// window, LLM-sized buckets, weights from `ot=th:` thresholds, the system clock.
    pub fn builder() -> MetricsProcessorBuilder {
        MetricsProcessorBuilder::default()
    }

    pub(crate) fn from_builder(b: MetricsProcessorBuilder) -> Self {
        let window_nanos = u64::try_from(b.window.as_nanos()).unwrap_or(u64::MAX);
        let created = b.clock.now_nanos();
        let shards = b.shards;
        let buckets: Arc<[f64]> = b.buckets.into();
        let overflow_buckets = Arc::clone(&buckets);
        MetricsProcessor {
            shared: Arc::new(Shared {
                names: Names::new(&b.namespace),
                endpoints: SeriesMap::new(b.max_series, || {
                    EndpointStats::new(shards, &overflow_buckets)
                }),
                error_types: SeriesMap::new(b.max_series, ErrorStats::default),
                clock: b.clock,
                created,
                reset_at: AtomicU64::new(created),
                slot_nanos: (window_nanos / SLOTS as u64).max(1),
                window: b.window,
                sync_started: AtomicBool::new(false),
                shards,
                buckets,
                weighting: b.weighting,
            }),
        }
    }

    /// The prefix of the metric names.
    pub fn namespace(&self) -> &str {
        &self.shared.names.namespace
    }

    /// Records one ended span. What [`SpanProcessor::on_end`] does; public so spans from
    /// another pipeline (an exporter wrapper, a test) can be counted too.
    #[inline]
    pub fn record(&self, span: &SpanData) {
        let s = &*self.shared;
        let seconds = span
            .end_time
            .duration_since(span.start_time)
            .map_or(0.0, |d| d.as_secs_f64());
        let context = &span.span_context;
        let weight = s.weighting.weight(context);
        let error_type = error_type(span);
        let exemplar = context.is_sampled().then(|| {
            (
                SpanExemplar {
                    trace_id: context.trace_id(),
                    span_id: context.span_id(),
                },
                span.end_time,
            )
        });
        let observation = Observation {
            seconds,
            weight,
            error: error_type.is_some(),
            end: span.end_time,
            slot_nanos: s.slot_nanos,
            bucket: bucket_of(&s.buckets, seconds),
            exemplar,
        };
        s.endpoints.with(
            label(&span.name),
            || s.new_endpoint(),
            |e| e.record(&observation, &*s.clock),
        );
        if let Some(error_type) = error_type {
            s.error_types
                .with(label(&error_type), ErrorStats::default, |e| e.add(weight));
        }
    }

    /// Counts, error rates and percentiles so far, overall and per endpoint.
    pub fn snapshot(&self) -> MetricsSnapshot {
        snapshot::take(&self.shared)
    }

    /// Forgets every count and sketch, as if the processor were new; uptime goes on.
    ///
    /// Prometheus sees the counters go back to zero, as after a restart, which `rate()` and
    /// `increase()` handle.
    pub fn reset(&self) {
        let s = &*self.shared;
        s.endpoints.reset(|| s.new_endpoint());
        s.error_types.reset(ErrorStats::default);
        s.reset_at.store(s.clock.now_nanos(), Ordering::Relaxed);
    }
}

/// The error type of a failed span, `None` for a span that succeeded.
#[inline]
fn error_type(span: &SpanData) -> Option<Cow<'_, str>> {
    let mut failed = matches!(span.status, Status::Error { .. });
    let mut kind = None;
    for kv in &span.attributes {
        match kv.key.as_str() {
            honeyhive::ERROR => failed = true,
            honeyhive::ERROR_TYPE => kind = Some(kv.value.as_str()),
            otel::ERROR_TYPE if kind.is_none() => kind = Some(kv.value.as_str()),
            _ => {}
        }
    }
    failed.then(|| kind.unwrap_or(Cow::Borrowed(UNKNOWN_ERROR_TYPE)))
}

/// The cheaper way to attach it to a hivetrace tracer ([`TracerBuilder::observer`]): it reads
/// each ended span where it is, with no copy.
///
/// [`TracerBuilder::observer`]: hivetrace_core::TracerBuilder::observer
impl hivetrace_core::SpanObserver for MetricsProcessor {
    fn on_end(&self, span: &SpanData) {
        self.record(span);
    }
}

/// For any OpenTelemetry provider. Beside another processor the SDK clones each ended span
/// for it; with a hivetrace tracer prefer [`TracerBuilder::observer`].
///
/// [`TracerBuilder::observer`]: hivetrace_core::TracerBuilder::observer
impl SpanProcessor for MetricsProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.record(&span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}
