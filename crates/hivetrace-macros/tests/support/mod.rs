//! What the behaviour tests share: a tracer per test wired to the in-memory exporter, a
//! sampler that remembers what it saw, and ways to read spans, attributes and trees.
// Each test crate uses a different part of this module.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock, Mutex};

use hivetrace_core::exporter::Exporter;
use hivetrace_core::{Tracer, TracerBuilder};
use opentelemetry::trace::{Link, SpanId, SpanKind, Status, TraceContextExt, TraceId};
use opentelemetry::{Context, KeyValue, Value};
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SamplingDecision, SamplingResult, ShouldSample, SpanData,
};

/// A tracer exporting to its own in-memory exporter.
#[derive(Debug)]
pub(crate) struct Harness {
    pub(crate) tracer: Tracer,
    pub(crate) exporter: InMemorySpanExporter,
}

impl Harness {
    /// A harness with the default configuration.
    pub(crate) fn new() -> Self {
        Self::with(|b| b)
    }

    /// A harness whose builder is configured further by `configure`.
    pub(crate) fn with(configure: impl FnOnce(TracerBuilder) -> TracerBuilder) -> Self {
        let exporter = InMemorySpanExporter::default();
        let tracer = configure(Tracer::builder().exporter(Exporter::from(exporter.clone())))
            .build()
            .expect("a tracer with an in-memory exporter builds");
        Harness { tracer, exporter }
    }

    /// Every span ended so far, after a flush.
    pub(crate) fn spans(&self) -> Vec<SpanData> {
        self.tracer.force_flush().expect("flush succeeds");
        self.exporter
            .get_finished_spans()
            .expect("the in-memory exporter is readable")
    }
}

/// A `static` harness, built on first use: `tracer = H.tracer` in the macro.
pub(crate) type Lazy = LazyLock<Harness>;

/// The one span called `name`.
pub(crate) fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    let mut found = spans.iter().filter(|s| s.name == name);
    let span = found
        .next()
        .unwrap_or_else(|| panic!("no span named {name:?} among {:?}", names(spans)));
    assert!(
        found.next().is_none(),
        "more than one span named {name:?} among {:?}",
        names(spans)
    );
    span
}

/// The names of `spans`, sorted.
pub(crate) fn names(spans: &[SpanData]) -> Vec<String> {
    let mut names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    names
}

/// The value of attribute `key` on `span`, if set.
pub(crate) fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

/// The attributes of `span` whose key starts with `prefix`, as a sorted map.
pub(crate) fn attrs_with_prefix(span: &SpanData, prefix: &str) -> BTreeMap<String, Value> {
    span.attributes
        .iter()
        .filter(|kv| kv.key.as_str().starts_with(prefix))
        .map(|kv| (kv.key.to_string(), kv.value.clone()))
        .collect()
}

/// `honeyhive_inputs.*` of `span`, keyed by argument name.
pub(crate) fn inputs(span: &SpanData) -> BTreeMap<String, Value> {
    attrs_with_prefix(span, "honeyhive_inputs.")
        .into_iter()
        .map(|(k, v)| (k["honeyhive_inputs.".len()..].to_owned(), v))
        .collect()
}

/// `honeyhive_outputs.result` of `span`.
pub(crate) fn output(span: &SpanData) -> Option<Value> {
    attr(span, "honeyhive_outputs.result")
}

/// A string attribute value.
pub(crate) fn s(v: &str) -> Value {
    Value::from(v.to_owned())
}

/// An integer attribute value.
pub(crate) fn i(v: i64) -> Value {
    Value::I64(v)
}

/// The parent of `span`, `None` for a root.
pub(crate) fn parent_of(span: &SpanData) -> Option<SpanId> {
    (span.parent_span_id != SpanId::INVALID).then_some(span.parent_span_id)
}

/// Whether `span` ended with an error status.
pub(crate) fn is_error(span: &SpanData) -> bool {
    matches!(span.status, Status::Error { .. })
}

/// The error status message of `span`, if it has one.
pub(crate) fn error_message(span: &SpanData) -> Option<String> {
    match &span.status {
        Status::Error { description } => Some(description.to_string()),
        _ => None,
    }
}

/// The trees `spans` form, one line per span, children indented under their parent and
/// sorted by name (so concurrent siblings compare deterministically). Also checks every span
/// of a tree shares its root's trace id and that no parent is missing.
pub(crate) fn tree(spans: &[SpanData]) -> Vec<String> {
    let ids: std::collections::HashMap<SpanId, &SpanData> = spans
        .iter()
        .map(|s| (s.span_context.span_id(), s))
        .collect();
    for span in spans {
        if let Some(parent) = parent_of(span) {
            let p = ids
                .get(&parent)
                .unwrap_or_else(|| panic!("the parent of {:?} was not exported", span.name));
            assert_eq!(
                p.span_context.trace_id(),
                span.span_context.trace_id(),
                "{:?} is in another trace than its parent {:?}",
                span.name,
                p.name
            );
        }
    }
    let mut roots: Vec<&SpanData> = spans.iter().filter(|s| parent_of(s).is_none()).collect();
    roots.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = Vec::new();
    for root in roots {
        walk(spans, root, 0, &mut out);
    }
    out
}

fn walk(spans: &[SpanData], span: &SpanData, depth: usize, out: &mut Vec<String>) {
    out.push(format!("{}{}", "  ".repeat(depth), span.name));
    let mut children: Vec<&SpanData> = spans
        .iter()
        .filter(|s| s.parent_span_id == span.span_context.span_id())
        .collect();
    children.sort_by(|a, b| a.name.cmp(&b.name));
    for child in children {
        walk(spans, child, depth + 1, out);
    }
}

/// What a [`Remembering`] sampler saw for one span.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) name: String,
    pub(crate) attributes: Vec<KeyValue>,
}

impl Seen {
    /// The value of attribute `key` as the sampler saw it.
    pub(crate) fn attr(&self, key: &str) -> Option<Value> {
        self.attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.clone())
    }
}

/// A sampler that remembers the name and attributes of every span it is asked about, and
/// drops the spans whose `user.id` is `"blocked"`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Remembering {
    pub(crate) seen: Arc<Mutex<Vec<Seen>>>,
}

impl Remembering {
    /// What it saw for the span called `name`.
    pub(crate) fn seen(&self, name: &str) -> Seen {
        self.seen
            .lock()
            .expect("the sampler's list is not poisoned")
            .iter()
            .find(|s| s.name == name)
            .cloned()
            .unwrap_or_else(|| panic!("the sampler never saw {name:?}"))
    }
}

impl ShouldSample for Remembering {
    fn should_sample(
        &self,
        parent: Option<&Context>,
        _trace_id: TraceId,
        name: &str,
        _kind: &SpanKind,
        attributes: &[KeyValue],
        _links: &[Link],
    ) -> SamplingResult {
        self.seen
            .lock()
            .expect("the sampler's list is not poisoned")
            .push(Seen {
                name: name.to_owned(),
                attributes: attributes.to_vec(),
            });
        let blocked = attributes
            .iter()
            .any(|kv| kv.key.as_str() == "user.id" && kv.value == Value::from("blocked"));
        SamplingResult {
            decision: if blocked {
                SamplingDecision::Drop
            } else {
                SamplingDecision::RecordAndSample
            },
            attributes: Vec::new(),
            trace_state: parent
                .map(|cx| cx.span().span_context().trace_state().clone())
                .unwrap_or_default(),
        }
    }
}
