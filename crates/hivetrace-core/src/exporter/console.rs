//! Readable span trees on a terminal, for development.

use std::collections::HashMap;
use std::fmt::{self, Write as _};
use std::io::Write;
use std::sync::Mutex;

use opentelemetry::trace::{SpanId, Status};
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use crate::conventions::honeyhive;

/// Prints each batch as indented span trees: name, event type, duration, status, attributes.
///
/// Spans whose parent is in an earlier batch print as roots of their batch, marked `↳`.
///
/// ```
/// use hivetrace_core::exporter::ConsoleExporter;
/// let stdout = ConsoleExporter::stdout();
/// let quiet = ConsoleExporter::new(std::io::sink());
/// # let _ = (stdout, quiet);
/// ```
pub struct ConsoleExporter {
    out: Mutex<Box<dyn Write + Send>>,
}

impl fmt::Debug for ConsoleExporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsoleExporter").finish_non_exhaustive()
    }
}

impl ConsoleExporter {
    /// Prints to standard output.
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }

    /// Prints to any writer.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        ConsoleExporter {
            out: Mutex::new(Box::new(out)),
        }
    }
}

/// Renders a batch as text; separate from the writing so it can be tested.
pub(crate) fn render(batch: &[SpanData]) -> String {
    let ids: HashMap<SpanId, usize> = batch
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_context.span_id(), i))
        .collect();
    let mut children: HashMap<SpanId, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, span) in batch.iter().enumerate() {
        if ids.contains_key(&span.parent_span_id) && span.parent_span_id != SpanId::INVALID {
            children.entry(span.parent_span_id).or_default().push(i);
        } else {
            roots.push(i);
        }
    }
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|&i| batch[i].start_time);
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    let mut out = String::new();
    let mut stack: Vec<(usize, usize)> = roots.iter().rev().map(|&i| (i, 0)).collect();
    while let Some((i, depth)) = stack.pop() {
        line(&mut out, &batch[i], depth);
        if let Some(kids) = children.get(&batch[i].span_context.span_id()) {
            stack.extend(kids.iter().rev().map(|&k| (k, depth + 1)));
        }
    }
    out
}

fn line(out: &mut String, span: &SpanData, depth: usize) {
    let indent = "  ".repeat(depth);
    let orphan = depth == 0 && span.parent_span_id != SpanId::INVALID;
    let duration = span
        .end_time
        .duration_since(span.start_time)
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);
    let event_type = span
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == honeyhive::EVENT_TYPE)
        .map(|kv| kv.value.as_str().into_owned())
        .unwrap_or_default();
    let status = match &span.status {
        Status::Error { description } => format!(" ERROR: {description}"),
        Status::Ok => " ok".to_owned(),
        Status::Unset => String::new(),
    };
    let _ = writeln!(
        out,
        "{indent}{}{} [{event_type}] {duration:.2}ms{status}  trace={}",
        if orphan { "↳ " } else { "" },
        span.name,
        span.span_context.trace_id()
    );
    for kv in &span.attributes {
        let key = kv.key.as_str();
        if key == honeyhive::EVENT_TYPE || key.starts_with("honeyhive.") {
            continue;
        }
        let _ = writeln!(out, "{indent}    {key} = {}", kv.value);
    }
}

impl SpanExporter for ConsoleExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let text = render(&batch);
        let mut out = self
            .out
            .lock()
            .map_err(|_| OTelSdkError::InternalFailure("console lock poisoned".into()))?;
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .map_err(|e| OTelSdkError::InternalFailure(e.to_string()))
    }
}
