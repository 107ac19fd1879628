//! OTLP JSON lines in a local file: the default destination, so a first run needs no server.

use std::fmt;
use std::fs::{File, Metadata, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::num::NonZeroU64;
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

/// How large the trace file may grow before it is rotated, and how many full files are kept.
///
/// When the next line would take the file past [`max_bytes`](Self::max_bytes), the file is
/// renamed with a number before its extension (`traces.jsonl` becomes `traces.1.jsonl`, the
/// previous `traces.1.jsonl` becomes `traces.2.jsonl`, and so on), the oldest past
/// [`keep`](Self::keep) is deleted, and a new file is started. The files together take at
/// most `(keep + 1) × max_bytes`; a single batch larger than `max_bytes` is still written,
/// alone in its file.
///
/// The default is 100 MiB and 3 rotated files (the OpenTelemetry Collector's file exporter
/// rotates at 100 MiB too), so a tracer left on writes at most 400 MiB.
///
/// ```
/// use hivetrace_core::exporter::FileRotation;
/// let rotation = FileRotation::new(10 * 1024 * 1024, 5)?;
/// assert_eq!(rotation.max_bytes(), Some(10 * 1024 * 1024));
/// assert_eq!(FileRotation::NEVER.max_bytes(), None);
/// assert!(FileRotation::new(0, 5).is_err());
/// # Ok::<(), hivetrace_core::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRotation {
    max_bytes: Option<NonZeroU64>,
    keep: u32,
}

impl FileRotation {
    /// The default size at which the file is rotated: 100 MiB.
    pub const DEFAULT_MAX_BYTES: u64 = 100 * 1024 * 1024;
    /// The default number of rotated files kept.
    pub const DEFAULT_KEEP: u32 = 3;
    /// Never rotate: the file grows without bound, as a file exporter without rotation does.
    pub const NEVER: FileRotation = FileRotation {
        max_bytes: None,
        keep: 0,
    };

    /// Rotates when the file would pass `max_bytes`, keeping `keep` rotated files (0 keeps
    /// only the file being written). `max_bytes` must be above 0; use
    /// [`NEVER`](Self::NEVER) for no limit.
    pub fn new(max_bytes: u64, keep: u32) -> Result<Self> {
        let max_bytes = NonZeroU64::new(max_bytes).ok_or_else(|| {
            Error::invalid(
                "file rotation size",
                "0",
                "expected a size in bytes greater than 0 (FileRotation::NEVER turns rotation off)",
            )
        })?;
        Ok(FileRotation {
            max_bytes: Some(max_bytes),
            keep,
        })
    }

    /// The size in bytes the file stays within, or `None` when it is never rotated.
    pub fn max_bytes(&self) -> Option<u64> {
        self.max_bytes.map(NonZeroU64::get)
    }

    /// How many rotated files are kept besides the one being written.
    pub fn keep(&self) -> u32 {
        self.keep
    }
}

impl Default for FileRotation {
    fn default() -> Self {
        FileRotation {
            max_bytes: NonZeroU64::new(Self::DEFAULT_MAX_BYTES),
            keep: Self::DEFAULT_KEEP,
        }
    }
}

/// Writes each batch as one line: an `ExportTraceServiceRequest` in OTLP's JSON encoding.
///
/// That is the format the OpenTelemetry Collector's `file` exporter writes and its
/// `otlpjsonfile` receiver reads, so the file can be replayed into any backend later. The file
/// is appended to, never truncated. A double that is NaN or infinite is written as a string
/// (`"NaN"`, `"Infinity"`, `"-Infinity"`), since `null`, which the OTLP JSON encoder would
/// write, makes readers refuse the line. A line cut short (by a crash, or a write that failed half
/// way) is ended before the next one is written, so it costs only its own batch.
///
/// The file is rotated by size ([`FileRotation`], 100 MiB by default). Before each batch the
/// exporter checks that the path still names the file it writes: when another tracer or
/// process (or a tool such as `logrotate`) has moved it away, the exporter starts the new file
/// at the path rather than writing on into the moved one. Several writers of one path each
/// rotate it by the size they see; two rotating at the same moment may shift the files one
/// place further than needed, but no line is cut or mixed with another.
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
    rotation: FileRotation,
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
            .field("rotation", &self.rotation)
            .finish_non_exhaustive()
    }
}

impl FileExporter {
    /// Opens (or creates) `path` for appending, rotated by [`FileRotation::default`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::with_rotation(path, FileRotation::default())
    }

    /// Opens (or creates) `path` for appending, rotated as `rotation` says.
    pub fn with_rotation(path: impl AsRef<Path>, rotation: FileRotation) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| Error::File {
                path: path.clone(),
                source,
            })?;
        }
        let out = Out::open(&path).map_err(|source| Error::File {
            path: path.clone(),
            source,
        })?;
        Ok(FileExporter {
            path,
            rotation,
            out: Mutex::new(out),
            resource: ResourceAttributesWithSchema::default(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the file is rotated.
    pub fn rotation(&self) -> FileRotation {
        self.rotation
    }

    fn write(&self, mut batch: Vec<SpanData>) -> std::io::Result<()> {
        super::non_finite_doubles_as_strings(&mut batch);
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
        let mut meta = out.file.metadata()?;
        if !names_file(&self.path, &meta) {
            // Moved away by someone else: the path is where traces are looked for.
            *out = Out::open(&self.path)?;
            meta = out.file.metadata()?;
        }
        if let Some(max) = self.rotation.max_bytes()
            && needs_rotation(&meta, (line.len() - 1) as u64, max)
        {
            self.rotate(&mut out)?;
        }
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

    /// Moves the full file to number 1 (shifting older ones, dropping the oldest past `keep`)
    /// and starts a new one at the path.
    fn rotate(&self, out: &mut Out) -> std::io::Result<()> {
        if out.unterminated {
            // The cut line ends where it is, not glued to nothing in a file never written again.
            out.file.write_all(b"\n")?;
        }
        let keep = self.rotation.keep;
        let moved = if keep == 0 {
            std::fs::remove_file(&self.path)
        } else {
            // Shift only the files that exist: the first gap ends the chain.
            let mut last = 1;
            while last < keep && rotated_path(&self.path, last).exists() {
                last += 1;
            }
            for n in (1..last).rev() {
                match std::fs::rename(rotated_path(&self.path, n), rotated_path(&self.path, n + 1))
                {
                    Err(e) if e.kind() != ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            }
            std::fs::rename(&self.path, rotated_path(&self.path, 1))
        };
        match moved {
            // Another writer rotated it first: its new file is ours too.
            Err(e) if e.kind() != ErrorKind::NotFound => Err(e),
            _ => {
                *out = Out::open(&self.path)?;
                Ok(())
            }
        }
    }
}

impl Out {
    fn open(path: &Path) -> std::io::Result<Out> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let unterminated = ends_inside_a_line(path);
        Ok(Out { file, unterminated })
    }
}

/// `path` with `.n` before its extension: `traces.jsonl` → `traces.2.jsonl`.
fn rotated_path(path: &Path, n: u32) -> PathBuf {
    let stem = path.file_stem().unwrap_or(path.as_os_str());
    let mut name = stem.to_os_string();
    name.push(format!(".{n}"));
    if let Some(ext) = path.extension() {
        name.push(".");
        name.push(ext);
    }
    path.with_file_name(name)
}

/// Whether a line of `len` bytes must start a new file: only regular files are rotated (a
/// path such as `/dev/stdout` or a pipe is written as it is), and a file that is still empty
/// takes any line.
fn needs_rotation(meta: &Metadata, len: u64, max: u64) -> bool {
    meta.is_file() && meta.len() > 0 && meta.len().saturating_add(len) > max
}

/// Whether `path` still names the open file described by `meta`. Anything but a regular file
/// is taken as it is; a path that cannot be checked for another reason than being gone is
/// assumed unchanged.
fn names_file(path: &Path, meta: &Metadata) -> bool {
    if !meta.is_file() {
        return true;
    }
    match std::fs::metadata(path) {
        Ok(at_path) => same_file(meta, &at_path),
        Err(e) => e.kind() != ErrorKind::NotFound,
    }
}

#[cfg(unix)]
fn same_file(a: &Metadata, b: &Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// Without file identities, only a missing path is noticed.
#[cfg(not(unix))]
fn same_file(_: &Metadata, _: &Metadata) -> bool {
    true
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

    /// The span names of each line of `path`, oldest first; panics on a line that is not
    /// OTLP JSON. No file reads as no lines.
    fn names_in(path: &Path) -> Vec<String> {
        let Ok(text) = std::fs::read_to_string(path) else {
            return Vec::new();
        };
        assert!(text.ends_with('\n'), "{}: {text:?}", path.display());
        text.lines()
            .map(|line| {
                let json: serde_json::Value =
                    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
                let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
                span["name"].as_str().expect("a span name").to_owned()
            })
            .collect()
    }

    /// A tracer writing `path` with `rotation`, each span flushed as its own batch.
    fn tracer(path: &Path, rotation: FileRotation) -> crate::Tracer {
        crate::Tracer::builder()
            .file(path)
            .file_rotation(rotation)
            .build()
            .expect("the tracer builds")
    }

    fn write_spans(tracer: &crate::Tracer, names: &[&'static str]) {
        for &name in names {
            tracer.span(name).start().end();
            tracer.force_flush().expect("the batch is written");
        }
    }

    /// The length of one line holding one span named like the tests' (`s0`, `s1`, ...).
    fn line_len(dir: &Path) -> u64 {
        let probe = dir.join("probe.jsonl");
        export(&probe, "s0");
        std::fs::metadata(&probe)
            .expect("the probe is written")
            .len()
    }

    #[test]
    fn rotates_at_the_size_limit_and_keeps_the_newest_files() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let line = line_len(dir.path());
        // Two lines fit, a third does not.
        let max = line * 5 / 2;
        let path = dir.path().join("traces.jsonl");
        let tracer = tracer(&path, FileRotation::new(max, 2).expect("valid"));
        write_spans(&tracer, &["s0", "s1", "s2", "s3", "s4", "s5", "s6"]);
        tracer.shutdown().expect("the file is written");

        let rotated = |n| dir.path().join(format!("traces.{n}.jsonl"));
        assert_eq!(names_in(&path), ["s6"]);
        assert_eq!(names_in(&rotated(1)), ["s4", "s5"]);
        assert_eq!(names_in(&rotated(2)), ["s2", "s3"]);
        assert!(!rotated(3).exists(), "only two rotated files are kept");
        for file in [path, rotated(1), rotated(2)] {
            let len = std::fs::metadata(&file).expect("the file exists").len();
            assert!(len <= max, "{}: {len} > {max}", file.display());
        }
    }

    #[test]
    fn keeping_no_rotated_file_leaves_only_the_current_one() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let line = line_len(dir.path());
        let path = dir.path().join("traces.jsonl");
        // Each new exporter sees the file its predecessor left: the limit holds across runs.
        for name in ["s0", "s1", "s2"] {
            let tracer = tracer(&path, FileRotation::new(line * 3 / 2, 0).expect("valid"));
            write_spans(&tracer, &[name]);
            tracer.shutdown().expect("the file is written");
        }
        assert_eq!(names_in(&path), ["s2"]);
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .expect("the directory lists")
            .map(|e| e.expect("an entry").file_name())
            .collect();
        files.sort();
        assert_eq!(files, ["probe.jsonl", "traces.jsonl"]);
    }

    #[test]
    fn a_batch_larger_than_the_limit_is_written_alone_not_dropped() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces");
        let tracer = tracer(&path, FileRotation::new(10, 1).expect("valid"));
        write_spans(&tracer, &["s0", "s1"]);
        tracer.shutdown().expect("the file is written");
        assert_eq!(names_in(&path), ["s1"]);
        // Without an extension the number goes last.
        assert_eq!(names_in(&dir.path().join("traces.1")), ["s0"]);
    }

    #[test]
    fn never_rotating_lets_the_file_grow() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces.jsonl");
        let tracer = tracer(&path, FileRotation::NEVER);
        write_spans(&tracer, &["s0", "s1", "s2"]);
        tracer.shutdown().expect("the file is written");
        assert_eq!(names_in(&path), ["s0", "s1", "s2"]);
        assert!(!dir.path().join("traces.1.jsonl").exists());
    }

    #[test]
    fn a_file_moved_away_by_someone_else_is_started_again_at_the_path() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces.jsonl");
        let moved = dir.path().join("archived.jsonl");
        let tracer = tracer(&path, FileRotation::NEVER);
        write_spans(&tracer, &["s0"]);
        // Another writer rotates: its new file is at the path.
        std::fs::rename(&path, &moved).expect("the file moves");
        std::fs::write(&path, "").expect("a new file starts");
        write_spans(&tracer, &["s1"]);
        assert_eq!(names_in(&path), ["s1"]);
        // Someone deletes it.
        std::fs::remove_file(&path).expect("the file is deleted");
        write_spans(&tracer, &["s2"]);
        tracer.shutdown().expect("the file is written");
        assert_eq!(names_in(&moved), ["s0"]);
        assert_eq!(names_in(&path), ["s2"]);
    }

    #[test]
    fn two_tracers_sharing_a_file_rotate_it_without_losing_lines() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let line = line_len(dir.path());
        let max = line * 5 / 2;
        let path = dir.path().join("traces.jsonl");
        let rotation = FileRotation::new(max, 20).expect("valid");
        let (a, b) = (tracer(&path, rotation), tracer(&path, rotation));
        let names = ["s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9"];
        for pair in names.chunks(2) {
            write_spans(&a, &pair[..1]);
            write_spans(&b, &pair[1..]);
        }
        a.shutdown().expect("a's file is written");
        b.shutdown().expect("b's file is written");

        // Newest file first, so reading them backwards gives the order written.
        let mut files = vec![path.clone()];
        files.extend((1..=20).map(|n| dir.path().join(format!("traces.{n}.jsonl"))));
        let files: Vec<_> = files.into_iter().filter(|f| f.exists()).collect();
        let mut seen = Vec::new();
        for file in files.iter().rev() {
            let len = std::fs::metadata(file).expect("the file exists").len();
            assert!(len <= max, "{}: {len} > {max}", file.display());
            seen.extend(names_in(file));
        }
        assert_eq!(seen, names);
    }

    #[test]
    fn a_cut_line_is_ended_before_its_file_is_rotated() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces.jsonl");
        std::fs::write(&path, r#"{"resourceSpans":[{"reso"#).expect("the cut line is written");
        let tracer = tracer(&path, FileRotation::new(30, 1).expect("valid"));
        write_spans(&tracer, &["s0"]);
        tracer.shutdown().expect("the file is written");
        let old = std::fs::read_to_string(dir.path().join("traces.1.jsonl"))
            .expect("the old file was rotated");
        assert_eq!(old, "{\"resourceSpans\":[{\"reso\n");
        assert_eq!(names_in(&path), ["s0"]);
    }

    #[test]
    fn non_finite_doubles_do_not_make_the_line_unreadable() {
        use opentelemetry::{Array, KeyValue, Value};
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("traces.jsonl");
        let tracer = tracer(&path, FileRotation::NEVER);
        let span = tracer.span("scores").start();
        span.in_scope(|| {
            crate::enrich_span(|e| {
                e.metrics("nan", f64::NAN)
                    .metrics("inf", f64::INFINITY)
                    .metrics("neg_inf", f64::NEG_INFINITY)
                    .metrics("fine", 0.5)
                    .attribute(KeyValue::new(
                        "series",
                        Value::Array(Array::F64(vec![1.5, f64::NAN])),
                    ));
            });
        });
        span.end();
        tracer.shutdown().expect("the file is written");

        let text = std::fs::read_to_string(&path).expect("the file reads");
        // opentelemetry-proto writes a non-finite double as `null`, which OTLP/JSON readers
        // (the Collector's otlpjsonfile receiver) refuse, and with it the whole line.
        assert!(!text.contains("null"), "{text}");
        let json: serde_json::Value = serde_json::from_str(text.trim_end()).expect("one line");
        let value = |key: &str| crate::exporter::first_span_attribute(&json, key);
        assert_eq!(
            value("honeyhive_metrics.nan"),
            serde_json::json!({"stringValue": "NaN"})
        );
        assert_eq!(
            value("honeyhive_metrics.inf"),
            serde_json::json!({"stringValue": "Infinity"})
        );
        assert_eq!(
            value("honeyhive_metrics.neg_inf"),
            serde_json::json!({"stringValue": "-Infinity"})
        );
        assert_eq!(
            value("honeyhive_metrics.fine"),
            serde_json::json!({"doubleValue": 0.5})
        );
        assert_eq!(
            value("series"),
            serde_json::json!({"arrayValue": {"values": [
                {"stringValue": "1.5"},
                {"stringValue": "NaN"}
            ]}})
        );
    }

    #[test]
    fn only_regular_files_are_rotated() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let file = dir.path().join("f");
        std::fs::write(&file, b"0123456789").expect("the file is written");
        let meta = std::fs::metadata(&file).expect("metadata");
        assert!(needs_rotation(&meta, 1, 10));
        assert!(!needs_rotation(&meta, 0, 10));
        assert!(!needs_rotation(&meta, u64::MAX - 5, u64::MAX));
        assert!(needs_rotation(&meta, u64::MAX, u64::MAX - 1));
        // A directory stands in for a device or a pipe: whatever size it reports, it is
        // written as it is and never renamed.
        let not_a_file = std::fs::metadata(dir.path()).expect("metadata");
        assert!(!needs_rotation(&not_a_file, u64::MAX, 1));
        assert!(names_file(Path::new("/no/such/path"), &not_a_file));
    }

    #[test]
    fn rotated_files_are_numbered_before_the_extension() {
        let path = Path::new("logs/hivetrace-traces.jsonl");
        assert_eq!(
            rotated_path(path, 2),
            Path::new("logs/hivetrace-traces.2.jsonl")
        );
        assert_eq!(rotated_path(Path::new("traces"), 1), Path::new("traces.1"));
        assert_eq!(
            rotated_path(Path::new(".hidden"), 3),
            Path::new(".hidden.3")
        );
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
