//! OTLP JSON lines in a local file: the default destination, so a first run needs no server.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::error::{Error, Result};

/// The file written when no endpoint and no API key are configured.
pub const DEFAULT_TRACE_FILE: &str = "hivetrace-traces.jsonl";

/// Writes each batch as one line: an `ExportTraceServiceRequest` in OTLP's JSON encoding.
///
/// That is the format the OpenTelemetry Collector's `file` exporter writes and its
/// `otlpjsonfile` receiver reads, so the file can be replayed into any backend later. The file
/// is appended to, never truncated.
///
/// ```
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let dir = tempfile::tempdir().map_err(|e| hivetrace_core::Error::File { path: ".".into(), source: e })?;
/// let path = dir.path().join("traces.jsonl");
/// let tracer = hivetrace_core::Tracer::builder().file(&path).build()?;
/// tracer.span("hello").start().end();
/// tracer.shutdown()?;
/// let text = std::fs::read_to_string(&path).unwrap_or_default();
/// assert!(text.starts_with(r#"{"resourceSpans""#));
/// # Ok(()) }
/// ```
pub struct FileExporter {
    path: PathBuf,
    out: Mutex<BufWriter<File>>,
    resource: ResourceAttributesWithSchema,
}

impl fmt::Debug for FileExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileExporter")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl FileExporter {
    /// Opens (or creates) `path` for appending.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::File {
                path: path.clone(),
                source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| Error::File {
                path: path.clone(),
                source,
            })?;
        Ok(FileExporter {
            path,
            out: Mutex::new(BufWriter::new(file)),
            resource: ResourceAttributesWithSchema::default(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write(&self, batch: Vec<SpanData>) -> std::io::Result<()> {
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch, &self.resource),
        };
        let mut line = serde_json::to_vec(&request)?;
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("trace file lock poisoned"))?;
        out.write_all(&line)?;
        out.flush()
    }
}

impl SpanExporter for FileExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.write(batch).map_err(|e| {
            OTelSdkError::InternalFailure(format!("writing traces to {}: {e}", self.path.display()))
        })
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.out
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("trace file lock poisoned".into()))?
            .flush()
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }

    fn shutdown_with_timeout(&self, _timeout: std::time::Duration) -> OTelSdkResult {
        self.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.resource = ResourceAttributesWithSchema::from(resource);
    }
}
