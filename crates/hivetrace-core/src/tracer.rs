//! The tracer handle: owns its provider, cheap to clone, several per process.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry::{Context, InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{
    SdkTracer, SdkTracerProvider, Span as SdkSpan, SpanData, SpanExporter, SpanProcessor,
};

use crate::config::{Resolved, ResolvedDestination, TracerBuilder};
use crate::conventions::{honeyhive, otel};
use crate::error::{Error, Result};
use crate::exporter::{Exporter, FileExporter, OtlpExporter};
use crate::finish::Finisher;
use crate::processor::HivetraceProcessor;
use crate::span::SpanBuilder;
use crate::stats::TracerStats;

/// Where a tracer sends its spans, for display (no secrets).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Destination {
    /// An OTLP endpoint.
    Otlp {
        /// The traces URL (or gRPC endpoint), credentials redacted.
        endpoint: String,
        /// The protocol.
        protocol: crate::exporter::Protocol,
    },
    /// The local OTLP JSON lines file.
    File(PathBuf),
    /// An exporter given to the builder (`console`, `in-memory`, `custom`).
    Exporter(&'static str),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Otlp { endpoint, protocol } => {
                write!(f, "OTLP {} at {endpoint}", protocol.as_str())
            }
            Destination::File(path) => write!(f, "file {}", path.display()),
            Destination::Exporter(kind) => write!(f, "{kind} exporter"),
        }
    }
}

/// A hivetrace tracer: a handle to an OpenTelemetry provider, its export thread and settings.
///
/// Clones share one provider. Several tracers may live in one process (one per deployment
/// tier, say); none is global unless [`install_global`](Tracer::install_global) is called.
/// When the last clone is dropped the tracer shuts down: queued spans are exported within the
/// flush timeout.
///
/// ```
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// use hivetrace_core::{EventType, Tracer};
/// let tracer = Tracer::builder().project("demo").console_writer(std::io::sink()).build()?;
/// {
///     let span = tracer.span("answer").event_type(EventType::Chain).start();
///     let _current = span.enter();
///     hivetrace_core::enrich_span(|e| {
///         e.metadata("user_tier", "pro");
///     });
/// }
/// tracer.shutdown()?;
/// assert_eq!(tracer.stats().exported, 1);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Tracer {
    inner: Arc<Inner>,
}

struct Inner {
    provider: SdkTracerProvider,
    tracer: SdkTracer,
    pipeline: HivetraceProcessor,
    destination: Destination,
    session_id: String,
    max_attribute_len: usize,
    flush_timeout: Duration,
    /// The span processors the builder added, shut down by the tracer itself: shutting the
    /// provider down instead would make it drop late spans before they reach `pipeline`.
    extra_processors: Vec<BoxedProcessor>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Bounded; the provider itself shuts down (other processors included) when its last
        // clone, here or in spans still alive, is dropped.
        let _ = self.shutdown();
    }
}

impl Inner {
    /// Flushes the builder's span processors within `left`. Their `force_flush` takes no
    /// timeout, so it runs on a thread of its own, waited for no longer than that.
    fn flush_extra_processors(&self, left: Duration) -> OTelSdkResult {
        if self.extra_processors.is_empty() {
            return Ok(());
        }
        if left.is_zero() {
            return Err(OTelSdkError::Timeout(left));
        }
        let processors = self.extra_processors.clone();
        let (reply, answer) = std::sync::mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("hivetrace-flush".into())
            .spawn(move || {
                let mut result = Ok(());
                for processor in &processors {
                    let flushed = processor.force_flush();
                    if result.is_ok() {
                        result = flushed;
                    }
                }
                let _ = reply.send(result);
            })
            .map_err(|e| {
                OTelSdkError::InternalFailure(format!("could not start a flush thread: {e}"))
            })?;
        answer
            .recv_timeout(left)
            .unwrap_or(Err(OTelSdkError::Timeout(left)))
    }

    /// Shuts the pipeline down, then the builder's other processors one by one, all within
    /// the one flush timeout: each processor gets what time is left.
    ///
    /// The provider is left running, so spans ended later still reach our processor and are
    /// counted as dropped.
    fn shutdown(&self) -> OTelSdkResult {
        let started = Instant::now();
        let result = self.pipeline.shutdown(self.flush_timeout);
        for processor in &self.extra_processors {
            let left = self.flush_timeout.saturating_sub(started.elapsed());
            let _ = processor.shutdown_with_timeout(left);
        }
        result
    }
}

impl fmt::Debug for Tracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tracer")
            .field("destination", &self.inner.destination)
            .field("session_id", &self.inner.session_id)
            .field("stats", &self.inner.pipeline.stats())
            .finish_non_exhaustive()
    }
}

impl Tracer {
    /// A builder that reads no environment variables.
    pub fn builder() -> TracerBuilder {
        TracerBuilder::new()
    }

    /// A tracer configured from `OTEL_*` and `HH_*` variables alone.
    ///
    /// With no endpoint and no API key it writes the local file `hivetrace-traces.jsonl`.
    pub fn from_env() -> Result<Tracer> {
        TracerBuilder::from_env().build()
    }

    /// Starts building a span named `name`; see [`SpanBuilder`].
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> SpanBuilder<'_> {
        SpanBuilder::new(self, name.into())
    }

    /// Runs `f` inside a new span named `name`, which ends when `f` returns.
    pub fn in_span<T>(&self, name: impl Into<Cow<'static, str>>, f: impl FnOnce() -> T) -> T {
        self.span(name).start().in_scope(f)
    }

    /// The OpenTelemetry tracer behind this one, for code written against the OpenTelemetry API.
    pub fn otel_tracer(&self) -> &SdkTracer {
        &self.inner.tracer
    }

    /// The OpenTelemetry provider behind this one.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.inner.provider
    }

    /// Where spans go.
    pub fn destination(&self) -> &Destination {
        &self.inner.destination
    }

    /// The session id stamped on spans that carry none of their own.
    pub fn session_id(&self) -> &str {
        &self.inner.session_id
    }

    /// The longest attribute value, in bytes.
    pub fn max_attribute_len(&self) -> usize {
        self.inner.max_attribute_len
    }

    /// What happened to this tracer's spans so far.
    pub fn stats(&self) -> TracerStats {
        self.inner.pipeline.stats()
    }

    /// Exports every span ended so far, then flushes the exporter itself (a file's buffer, a
    /// resilient exporter's backlog) and the span processors added to the builder. Returns
    /// within the flush timeout, from any thread (a tokio worker of either flavour included);
    /// an error says what failed or that time ran out.
    pub fn force_flush(&self) -> Result<()> {
        let timeout = self.inner.flush_timeout;
        let started = Instant::now();
        let result = match self.inner.pipeline.flush() {
            Err(OTelSdkError::AlreadyShutdown) => Err(OTelSdkError::AlreadyShutdown),
            flushed => flushed.and(
                self.inner
                    .flush_extra_processors(timeout.saturating_sub(started.elapsed())),
            ),
        };
        sdk_result("flush", timeout, result)
    }

    /// Exports what is queued and stops the export thread, within the flush timeout.
    /// Idempotent: a call while another runs waits for it to finish (within the flush timeout),
    /// later calls return `Ok(())`. Spans ended afterwards are counted as dropped.
    pub fn shutdown(&self) -> Result<()> {
        sdk_result("shutdown", self.inner.flush_timeout, self.inner.shutdown())
    }

    /// Makes this tracer the process's global one: for spans started without a tracer (the
    /// macros' default), and for OpenTelemetry code using `opentelemetry::global`. Returns the
    /// one it replaces.
    ///
    /// The global slot holds a clone, so dropping your handle no longer shuts the tracer down:
    /// call [`shutdown`](Tracer::shutdown) (or [`Tracer::uninstall_global`]) before exiting.
    pub fn install_global(&self) -> Option<Tracer> {
        crate::global::replace(Some(self.clone()))
    }

    /// The global tracer, if one was installed.
    pub fn global() -> Option<Tracer> {
        crate::global::get()
    }

    /// Removes the global tracer and returns it.
    ///
    /// OpenTelemetry's global provider is left as it is, since other code may have replaced
    /// it since: spans started through `opentelemetry::global` still go to the removed tracer
    /// until its shutdown, or until you set another provider there.
    pub fn uninstall_global() -> Option<Tracer> {
        crate::global::replace(None)
    }

    /// Starts an SDK span under `parent`.
    pub(crate) fn start_span(
        &self,
        builder: opentelemetry::trace::SpanBuilder,
        parent: &Context,
    ) -> SdkSpan {
        use opentelemetry::trace::Tracer as _;
        self.inner.tracer.build_with_context(builder, parent)
    }
}

/// A tracer reference that does not keep it alive.
pub(crate) struct WeakTracer(std::sync::Weak<Inner>);

impl WeakTracer {
    pub(crate) fn upgrade(&self) -> Option<Tracer> {
        self.0.upgrade().map(|inner| Tracer { inner })
    }
}

impl Tracer {
    pub(crate) fn downgrade(&self) -> WeakTracer {
        WeakTracer(Arc::downgrade(&self.inner))
    }
}

fn sdk_result(operation: &'static str, timeout: Duration, r: OTelSdkResult) -> Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(OTelSdkError::Timeout(_)) => Err(Error::Timeout { operation, timeout }),
        Err(OTelSdkError::AlreadyShutdown) => Err(Error::AlreadyShutdown),
        Err(OTelSdkError::InternalFailure(reason)) => Err(Error::Export { operation, reason }),
    }
}

/// A processor given to the builder, shared by the SDK provider and the tracer, which shuts
/// it down once; after that it sees no more spans, as the provider would have ensured.
#[derive(Clone, Debug)]
struct BoxedProcessor(Arc<ExtraProcessor>);

#[derive(Debug)]
struct ExtraProcessor {
    processor: Box<dyn SpanProcessor>,
    shut_down: AtomicBool,
}

impl BoxedProcessor {
    /// `processor`, given the tracer's resource now: once shared, it cannot be reached mutably.
    fn new(mut processor: Box<dyn SpanProcessor>, resource: &Resource) -> Self {
        processor.set_resource(resource);
        BoxedProcessor(Arc::new(ExtraProcessor {
            processor,
            shut_down: AtomicBool::new(false),
        }))
    }

    fn is_shut_down(&self) -> bool {
        self.0.shut_down.load(Ordering::Acquire)
    }
}

impl SpanProcessor for BoxedProcessor {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        if !self.is_shut_down() {
            self.0.processor.on_start(span, cx)
        }
    }

    fn on_end(&self, span: SpanData) {
        if !self.is_shut_down() {
            self.0.processor.on_end(span)
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        if self.is_shut_down() {
            return Err(OTelSdkError::AlreadyShutdown);
        }
        self.0.processor.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        if self.0.shut_down.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.0.processor.shutdown_with_timeout(timeout)
    }

    /// Already given in [`BoxedProcessor::new`]: the provider's resource is the same one.
    fn set_resource(&mut self, _resource: &Resource) {}
}

pub(crate) fn build(mut builder: TracerBuilder) -> Result<Tracer> {
    let resolved = builder.resolve()?;
    let Resolved {
        project,
        source,
        service_name,
        session_name,
        session_id,
        protocol,
        headers,
        export_timeout,
        flush_timeout,
        batch,
        sampler,
        env_resource_attributes,
        resource_attributes,
        max_attribute_len,
        max_attributes_per_span,
        max_events_per_span,
        max_links_per_span,
        conventions,
        destination,
        processors,
        observers,
    } = resolved;

    let resource = Resource::builder_empty()
        .with_attributes(env_resource_attributes)
        .with_attribute(KeyValue::new(otel::SERVICE_NAME, service_name))
        .with_attribute(KeyValue::new(otel::DEPLOYMENT_ENVIRONMENT, source.clone()))
        .with_attributes(resource_attributes)
        .build();

    let (mut exporter, shown) = match destination {
        ResolvedDestination::Otlp(endpoint) => {
            let e = OtlpExporter::new(&endpoint, protocol, &headers, export_timeout)?;
            let endpoint = crate::secret::redact_url(&endpoint);
            (Exporter::Otlp(e), Destination::Otlp { endpoint, protocol })
        }
        ResolvedDestination::File(path, rotation) => {
            let e = FileExporter::with_rotation(&path, rotation)?;
            (Exporter::File(e), Destination::File(path))
        }
        ResolvedDestination::Exporter(e) => {
            let kind = e.kind();
            (*e, Destination::Exporter(kind))
        }
    };
    exporter.set_resource(&resource);

    // Shared strings: the export thread clones these onto every span.
    let shared = |s: String| opentelemetry::Value::from(Arc::<str>::from(s));
    let mut identity = Vec::new();
    if let Some(project) = project {
        identity.push(KeyValue::new(honeyhive::PROJECT, shared(project)));
    }
    identity.push(KeyValue::new(honeyhive::SOURCE, shared(source)));
    if let Some(name) = session_name {
        identity.push(KeyValue::new(honeyhive::SESSION_NAME, shared(name)));
    }
    let finisher = Finisher {
        conventions,
        identity,
        session_id: Some(KeyValue::new(
            honeyhive::SESSION_ID,
            shared(session_id.clone()),
        )),
        max_attribute_len,
    };
    // The exporter bounds its own requests by the export timeout (retries included); the outer
    // deadline leaves it a moment to report its own error first.
    let export_deadline = export_timeout + Duration::from_millis(500);
    let processor = HivetraceProcessor::start(
        exporter,
        finisher,
        batch,
        export_deadline,
        flush_timeout,
        observers,
    )?;
    let pipeline = processor.clone();

    let extra_processors: Vec<BoxedProcessor> = processors
        .into_iter()
        .map(|p| BoxedProcessor::new(p, &resource))
        .collect();
    let mut provider = SdkTracerProvider::builder()
        .with_resource(resource)
        .with_max_attributes_per_span(max_attributes_per_span)
        .with_max_events_per_span(max_events_per_span)
        .with_max_links_per_span(max_links_per_span)
        // Always set, so the SDK does not read OTEL_TRACES_SAMPLER from the process
        // environment behind the configuration's back.
        .with_sampler(sampler);
    for p in &extra_processors {
        provider = provider.with_span_processor(p.clone());
    }
    provider = provider.with_span_processor(processor);
    let provider = provider.build();
    let scope = InstrumentationScope::builder("hivetrace")
        .with_version(env!("CARGO_PKG_VERSION"))
        .build();
    let tracer = provider.tracer_with_scope(scope);

    Ok(Tracer {
        inner: Arc::new(Inner {
            provider,
            tracer,
            pipeline,
            destination: shown,
            session_id,
            max_attribute_len,
            flush_timeout,
            extra_processors,
        }),
    })
}
