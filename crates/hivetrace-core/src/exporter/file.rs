//! OTLP JSON lines in a local file: the default destination, so a first run needs no server.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
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
/// is appended to, never truncated. A line cut short (by a crash, or a write that failed half
/// way) is ended before the next one is written, so it costs only its own batch.
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
    out: Mutex<Out>,
    resource: ResourceAttributesWithSchema,
}

struct Out {
    /// Each line goes to the file in one write, unbuffered: what a failed export leaves behind
    /// is known, and is not written later with another batch.
    file: File,
    /// The file may end inside a line: the next line starts with a newline.
    unterminated: bool,
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
        let unterminated = ends_inside_a_line(&path);
        Ok(FileExporter {
            path,
            out: Mutex::new(Out { file, unterminated }),
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
        let mut line = Vec::with_capacity(1024);
        line.push(b'\n');
        serde_json::to_writer(&mut line, &request)?;
        line.push(b'\n');
        let mut out = self
            .out
            .lock()
            .map_err(|_| std::io::Error::other("trace file lock poisoned"))?;
        let line = if out.unterminated {
            &line[..]
        } else {
            &line[1..]
        };
        let mut written = 0;
        while written < line.len() {
            match out.file.write(&line[written..]) {
                Ok(0) => {
                    out.unterminated |= written > 0;
                    return Err(ErrorKind::WriteZero.into());
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    out.unterminated |= written > 0;
                    return Err(e);
                }
            }
        }
        out.unterminated = false;
        Ok(())
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
            .file
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

/// Whether the regular file at `path` is not empty and does not end with a newline: a line a
/// crash cut short. Anything that cannot be read this way (a pipe, a write-only file) is taken
/// to end cleanly.
fn ends_inside_a_line(path: &Path) -> bool {
    let last_byte = || -> std::io::Result<Option<u8>> {
        let mut file = File::open(path)?;
        let meta = file.metadata()?;
        if !meta.is_file() || meta.len() == 0 {
            return Ok(None);
        }
        file.seek(SeekFrom::End(-1))?;
        let mut last = [0u8; 1];
        file.read_exact(&mut last)?;
        Ok(Some(last[0]))
    };
    matches!(last_byte(), Ok(Some(b)) if b != b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(path: &Path, name: &'static str) {
        let tracer = crate::Tracer::builder()
            .file(path)
            .build()
            .expect("the tracer builds");
        tracer.span(name).start().end();
        tracer.shutdown().expect("the file is written");
    }

    #[test]
    fn a_line_left_unfinished_does_not_swallow_the_next_batch() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces.jsonl");
        export(&path, "before");
        // A process that died while writing its last line.
        let mut file = OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("the file opens");
        file.write_all(br#"{"resourceSpans":[{"reso"#)
            .expect("the cut line is written");
        drop(file);

        export(&path, "after");
        let text = std::fs::read_to_string(&path).expect("the file reads");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, name) in [(lines[0], "before"), (lines[2], "after")] {
            let json: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {line}"));
            let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
            assert_eq!(span["name"], name, "{line}");
        }
        assert!(text.ends_with('\n'));
    }
}
