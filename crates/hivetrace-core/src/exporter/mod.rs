//! Where spans go, chosen at run time.
//!
//! The SDK's `SpanExporter` returns `impl Future`, so it cannot be a trait object; [`Exporter`]
//! is the enum of the exporters hivetrace ships, plus [`Exporter::custom`] for any other
//! `SpanExporter` (a resilient wrapper, a vendor's exporter), boxed behind an object-safe shim.

mod console;
mod deadline;
mod file;
mod otlp;
pub mod retry_after;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

pub use console::ConsoleExporter;
pub use deadline::block_on_until;
pub use file::{DEFAULT_TRACE_FILE, FileExporter, FileRotation};
pub use otlp::{OtlpExporter, Protocol, RETRY_AFTER_MARKER};

/// Any span exporter a tracer can send to.
///
/// ```
/// use hivetrace_core::exporter::{ConsoleExporter, Exporter};
/// let exporter = Exporter::from(ConsoleExporter::new(std::io::sink()));
/// assert!(format!("{exporter:?}").starts_with("Console"));
/// ```
#[non_exhaustive]
#[allow(
    clippy::large_enum_variant,
    reason = "built once per tracer and owned by its export thread: size does not matter, and boxing would change the public variants"
)]
pub enum Exporter {
    /// OTLP over HTTP (protobuf or JSON) or gRPC.
    Otlp(OtlpExporter),
    /// OTLP JSON lines in a local file: the default when nothing else is configured.
    File(FileExporter),
    /// Readable span trees, for development.
    Console(ConsoleExporter),
    /// The SDK's in-memory exporter, for tests.
    #[cfg(feature = "testing")]
    InMemory(opentelemetry_sdk::trace::InMemorySpanExporter),
    /// Any other exporter.
    Custom(Box<dyn DynSpanExporter>),
}

impl Exporter {
    /// Wraps any `SpanExporter`.
    pub fn custom<E: SpanExporter + 'static>(exporter: E) -> Self {
        Exporter::Custom(Box::new(exporter))
    }

    /// A short name for messages: `otlp`, `file`, `console`, `in-memory`, `custom`.
    pub fn kind(&self) -> &'static str {
        match self {
            Exporter::Otlp(_) => "otlp",
            Exporter::File(_) => "file",
            Exporter::Console(_) => "console",
            #[cfg(feature = "testing")]
            Exporter::InMemory(_) => "in-memory",
            Exporter::Custom(_) => "custom",
        }
    }

    /// Exports one batch on the calling thread, giving up after `timeout`.
    pub(crate) fn export_blocking(&self, batch: Vec<SpanData>, timeout: Duration) -> OTelSdkResult {
        let deadline = std::time::Instant::now() + timeout;
        // Reported as a failed export, not a timeout: the caller's own wait did not run out.
        deadline::block_on_until(SpanExporter::export(self, batch), deadline).unwrap_or_else(|| {
            Err(opentelemetry_sdk::error::OTelSdkError::InternalFailure(
                format!(
                    "the {} export did not finish within {timeout:?}",
                    self.kind()
                ),
            ))
        })
    }
}

impl fmt::Debug for Exporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exporter::Otlp(e) => f.debug_tuple("Otlp").field(e).finish(),
            Exporter::File(e) => f.debug_tuple("File").field(e).finish(),
            Exporter::Console(e) => f.debug_tuple("Console").field(e).finish(),
            #[cfg(feature = "testing")]
            Exporter::InMemory(_) => f.write_str("InMemory"),
            Exporter::Custom(_) => f.write_str("Custom"),
        }
    }
}

impl SpanExporter for Exporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        match self {
            Exporter::Otlp(e) => e.export(batch).await,
            Exporter::File(e) => e.export(batch).await,
            Exporter::Console(e) => e.export(batch).await,
            #[cfg(feature = "testing")]
            Exporter::InMemory(e) => e.export(batch).await,
            Exporter::Custom(e) => e.dyn_export(batch).await,
        }
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        match self {
            Exporter::Otlp(e) => e.shutdown_with_timeout(timeout),
            Exporter::File(e) => e.shutdown_with_timeout(timeout),
            Exporter::Console(e) => e.shutdown_with_timeout(timeout),
            #[cfg(feature = "testing")]
            Exporter::InMemory(e) => e.shutdown_with_timeout(timeout),
            Exporter::Custom(e) => e.dyn_shutdown(timeout),
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        match self {
            Exporter::Otlp(e) => e.force_flush(),
            Exporter::File(e) => e.force_flush(),
            Exporter::Console(e) => e.force_flush(),
            #[cfg(feature = "testing")]
            Exporter::InMemory(e) => e.force_flush(),
            Exporter::Custom(e) => e.dyn_force_flush(),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        match self {
            Exporter::Otlp(e) => e.set_resource(resource),
            Exporter::File(e) => e.set_resource(resource),
            Exporter::Console(e) => e.set_resource(resource),
            #[cfg(feature = "testing")]
            Exporter::InMemory(e) => e.set_resource(resource),
            Exporter::Custom(e) => e.dyn_set_resource(resource),
        }
    }
}

impl From<OtlpExporter> for Exporter {
    fn from(e: OtlpExporter) -> Self {
        Exporter::Otlp(e)
    }
}

impl From<FileExporter> for Exporter {
    fn from(e: FileExporter) -> Self {
        Exporter::File(e)
    }
}

impl From<ConsoleExporter> for Exporter {
    fn from(e: ConsoleExporter) -> Self {
        Exporter::Console(e)
    }
}

#[cfg(feature = "testing")]
impl From<opentelemetry_sdk::trace::InMemorySpanExporter> for Exporter {
    fn from(e: opentelemetry_sdk::trace::InMemorySpanExporter) -> Self {
        Exporter::InMemory(e)
    }
}

/// Rewrites every non-finite double (NaN, ±infinity) in `batch` as a string (`"NaN"`,
/// `"Infinity"`, `"-Infinity"`, the protobuf JSON mapping's spellings), for the OTLP/JSON
/// encodings. An array of doubles holding one becomes an array of strings.
///
/// opentelemetry-proto's JSON encoding writes such a value as `"doubleValue": null`, which
/// OTLP/JSON readers (the Collector's among them) refuse, and with it the whole request or
/// file line. Protobuf carries these values as they are and is left alone.
pub(crate) fn non_finite_doubles_as_strings(batch: &mut [SpanData]) {
    use opentelemetry::{Array, StringValue, Value};
    fn spelled(f: f64) -> String {
        if f.is_nan() {
            "NaN".to_owned()
        } else if f.is_infinite() {
            if f > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
        } else {
            f.to_string()
        }
    }
    for span in batch {
        let events = span.events.events.iter_mut();
        let links = span.links.links.iter_mut();
        let attributes = span
            .attributes
            .iter_mut()
            .chain(events.flat_map(|e| e.attributes.iter_mut()))
            .chain(links.flat_map(|l| l.attributes.iter_mut()));
        for kv in attributes {
            match &kv.value {
                Value::F64(f) if !f.is_finite() => kv.value = Value::from(spelled(*f)),
                Value::Array(Array::F64(items)) if items.iter().any(|f| !f.is_finite()) => {
                    let items = items.iter().map(|&f| StringValue::from(spelled(f)));
                    kv.value = Value::Array(Array::String(items.collect()));
                }
                _ => {}
            }
        }
    }
}

/// A boxed export future.
pub type BoxExportFuture<'a> = Pin<Box<dyn Future<Output = OTelSdkResult> + Send + 'a>>;

/// The object-safe face of a `SpanExporter`, implemented for every one.
pub trait DynSpanExporter: Send + Sync + fmt::Debug {
    /// `SpanExporter::export`, boxed.
    fn dyn_export(&self, batch: Vec<SpanData>) -> BoxExportFuture<'_>;
    /// `SpanExporter::shutdown_with_timeout`.
    fn dyn_shutdown(&self, timeout: Duration) -> OTelSdkResult;
    /// `SpanExporter::force_flush`.
    fn dyn_force_flush(&self) -> OTelSdkResult;
    /// `SpanExporter::set_resource`.
    fn dyn_set_resource(&mut self, resource: &Resource);
}

impl<E: SpanExporter> DynSpanExporter for E {
    fn dyn_export(&self, batch: Vec<SpanData>) -> BoxExportFuture<'_> {
        Box::pin(self.export(batch))
    }

    fn dyn_shutdown(&self, timeout: Duration) -> OTelSdkResult {
        self.shutdown_with_timeout(timeout)
    }

    fn dyn_force_flush(&self) -> OTelSdkResult {
        self.force_flush()
    }

    fn dyn_set_resource(&mut self, resource: &Resource) {
        self.set_resource(resource)
    }
}

/// The value of attribute `key` of the first span in an OTLP/JSON export request, for tests.
#[cfg(test)]
pub(crate) fn first_span_attribute(request: &serde_json::Value, key: &str) -> serde_json::Value {
    let attributes = &request["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["attributes"];
    attributes
        .as_array()
        .and_then(|all| all.iter().find(|kv| kv["key"] == key))
        .map(|kv| kv["value"].clone())
        .unwrap_or_else(|| panic!("no {key} in {attributes}"))
}
