//! What the export thread does to each span before it leaves: stamp the tracer's identity,
//! write the vocabularies that [`Conventions`] switches on, and bound every value.
//!
//! Doing this on the export thread keeps it off the application's hot path: a span's owner pays
//! for one key per enrichment value, and the translation happens once per exported span.

use std::borrow::Cow;

use opentelemetry::{Array, Key, KeyValue, Value};
use opentelemetry_sdk::trace::SpanData;
use serde_json::{Map, Value as Json};

use crate::conventions::{Conventions, genai, honeyhive, known, openinference, otel};
use crate::event_type::EventType;
use crate::truncate::{truncate_value, truncated};

/// The per-tracer settings the export thread applies to each span.
#[derive(Clone, Debug)]
pub(crate) struct Finisher {
    pub(crate) conventions: Conventions,
    /// `honeyhive.project`, `honeyhive.source`, `honeyhive.session_name`: set on every span.
    pub(crate) identity: Vec<KeyValue>,
    /// `honeyhive.session_id`, unless the span already has one (from baggage, say).
    pub(crate) session_id: Option<KeyValue>,
    pub(crate) max_attribute_len: usize,
}

impl Finisher {
    pub(crate) fn finish(&self, span: &mut SpanData) {
        // A key set twice (an enrichment repeated, a flattened key met again) is sent once, with
        // its last value: OTLP requires unique keys, and HoneyHive's SDK overwrites.
        dedup_last_wins(&mut span.attributes);
        restore_error(span);
        if self.conventions.honeyhive() {
            self.stamp_honeyhive(span);
        }
        if self.conventions.openinference() || self.conventions.genai() {
            let mut derived = Derived::scan(&span.attributes);
            if derived.session_id.is_none() {
                derived.session_id = self.session_id.as_ref().map(|kv| kv.value.clone());
            }
            if self.conventions.openinference() {
                derived.write_openinference(&mut span.attributes);
            }
            if self.conventions.genai() {
                derived.write_genai(&mut span.attributes);
            }
        }
        if !self.conventions.honeyhive() {
            span.attributes
                .retain(|kv| !kv.key.as_str().starts_with("honeyhive"));
        }
        let limit = self.max_attribute_len;
        for kv in span.attributes.iter_mut() {
            truncate_value(&mut kv.value, limit);
        }
        if let opentelemetry::trace::Status::Error { description } = &mut span.status
            && let Some(cut) = truncated(description, limit)
        {
            *description = Cow::Owned(cut);
        }
        if let Some(cut) = truncated(&span.name, limit) {
            span.name = Cow::Owned(cut);
        }
        for event in span.events.events.iter_mut() {
            for kv in event.attributes.iter_mut() {
                truncate_value(&mut kv.value, limit);
            }
        }
    }

    fn stamp_honeyhive(&self, span: &mut SpanData) {
        let mut has_type = false;
        let mut has_session = false;
        let mut has_name = false;
        let mut genai_op = None;
        let mut oi_kind = None;
        for kv in &span.attributes {
            match kv.key.as_str() {
                honeyhive::EVENT_TYPE => has_type = true,
                honeyhive::SESSION_ID => has_session = true,
                honeyhive::EVENT_NAME => has_name = true,
                genai::OPERATION_NAME => genai_op = Some(kv.value.as_str()),
                openinference::SPAN_KIND => oi_kind = Some(kv.value.as_str()),
                _ => {}
            }
        }
        if !has_type {
            let inferred =
                EventType::infer(genai_op.as_deref(), oi_kind.as_deref()).unwrap_or_default();
            span.attributes
                .push(KeyValue::new(honeyhive::EVENT_TYPE, inferred.as_str()));
        }
        if !has_name {
            let name: Value = match &span.name {
                Cow::Borrowed(s) => Value::from(*s),
                Cow::Owned(s) => Value::from(s.clone()),
            };
            span.attributes
                .push(KeyValue::new(honeyhive::EVENT_NAME, name));
        }
        let duration_ms = span
            .end_time
            .duration_since(span.start_time)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        span.attributes
            .push(KeyValue::new(honeyhive::DURATION_MS, duration_ms));
        if !has_session && let Some(session) = &self.session_id {
            span.attributes.push(session.clone());
        }
        // The tracer's identity, unless the span set its own.
        for kv in &self.identity {
            if !span.attributes.iter().any(|a| a.key == kv.key) {
                span.attributes.push(kv.clone());
            }
        }
    }
}

/// Removes every attribute whose key comes again later, keeping the order of the rest.
fn dedup_last_wins(attributes: &mut Vec<KeyValue>) {
    /// Most spans carry a handful of keys: below this, compare pairs and allocate nothing.
    const PAIRWISE: usize = 32;
    let repeated =
        |attrs: &[KeyValue], i: usize| attrs[i + 1..].iter().any(|b| b.key == attrs[i].key);
    if attributes.len() <= PAIRWISE {
        let mut i = 0;
        while i < attributes.len() {
            if repeated(attributes, i) {
                attributes.remove(i);
            } else {
                i += 1;
            }
        }
        return;
    }
    let mut seen = std::collections::HashSet::with_capacity(attributes.len());
    let mut later = vec![false; attributes.len()];
    for (i, kv) in attributes.iter().enumerate().rev() {
        later[i] = !seen.insert(kv.key.as_str());
    }
    drop(seen);
    let mut later = later.into_iter();
    attributes.retain(|_| !later.next().unwrap_or(false));
}

/// Writes a failed span's error attributes again when the span's attribute limit refused them:
/// the status and the `exception` event (limited separately) still say what went wrong.
fn restore_error(span: &mut SpanData) {
    let opentelemetry::trace::Status::Error { description } = &span.status else {
        return;
    };
    if span.dropped_attributes_count == 0 {
        return;
    }
    let has = |key: &str| span.attributes.iter().any(|kv| kv.key.as_str() == key);
    let (has_error, has_type, has_otel_type) = (
        has(honeyhive::ERROR),
        has(honeyhive::ERROR_TYPE),
        has(otel::ERROR_TYPE),
    );
    let error_type = span
        .events
        .iter()
        .rev()
        .find(|e| e.name == otel::EXCEPTION_EVENT)
        .and_then(|e| {
            e.attributes
                .iter()
                .find(|kv| kv.key.as_str() == otel::EXCEPTION_TYPE)
        })
        .map(|kv| kv.value.clone());
    if !has_error && !description.is_empty() {
        let message = Value::from(description.to_string());
        span.attributes
            .push(KeyValue::new(honeyhive::ERROR, message));
    }
    if let Some(error_type) = error_type {
        if !has_type {
            let kv = KeyValue::new(honeyhive::ERROR_TYPE, error_type.clone());
            span.attributes.push(kv);
        }
        if !has_otel_type {
            span.attributes
                .push(KeyValue::new(otel::ERROR_TYPE, error_type));
        }
    }
}

/// What the HoneyHive keys of one span say, gathered in one pass for the other vocabularies.
#[derive(Default)]
struct Derived {
    event_type: Option<EventType>,
    inputs: Map<String, Json>,
    outputs: Map<String, Json>,
    metadata: Map<String, Json>,
    model: Option<Value>,
    provider: Option<Value>,
    temperature: Option<Value>,
    max_tokens: Option<Value>,
    input_tokens: Option<Value>,
    output_tokens: Option<Value>,
    total_tokens: Option<Value>,
    session_id: Option<Value>,
    user_id: Option<Value>,
    present: Vec<Key>,
}

impl Derived {
    fn scan(attributes: &[KeyValue]) -> Self {
        let mut d = Derived::default();
        for kv in attributes {
            let key = kv.key.as_str();
            if key.starts_with("gen_ai.")
                || key.starts_with("llm.")
                || key.starts_with("input.")
                || key.starts_with("output.")
                || matches!(
                    key,
                    openinference::SPAN_KIND
                        | openinference::SESSION_ID
                        | openinference::USER_ID
                        | openinference::METADATA
                )
            {
                d.present.push(kv.key.clone());
                continue;
            }
            let v = || Some(kv.value.clone());
            match key {
                honeyhive::EVENT_TYPE => d.event_type = kv.value.as_str().parse().ok(),
                honeyhive::SESSION_ID => d.session_id = v(),
                known::CONFIG_MODEL => d.model = v(),
                known::CONFIG_PROVIDER => d.provider = v(),
                known::CONFIG_TEMPERATURE => d.temperature = v(),
                known::CONFIG_MAX_TOKENS => d.max_tokens = v(),
                known::METRICS_TOTAL_TOKENS => d.total_tokens = v(),
                k if known::METRICS_INPUT_TOKENS.contains(&k) => d.input_tokens = v(),
                k if known::METRICS_OUTPUT_TOKENS.contains(&k) => d.output_tokens = v(),
                k if known::USER_ID.contains(&k) => d.user_id = v(),
                _ => {}
            }
            let sections = [
                (honeyhive::INPUTS, &mut d.inputs),
                (honeyhive::OUTPUTS, &mut d.outputs),
                (honeyhive::METADATA, &mut d.metadata),
            ];
            for (prefix, map) in sections {
                if let Some(rest) = key.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')) {
                    insert_nested(map, rest, to_json(&kv.value));
                }
            }
        }
        for map in [&mut d.inputs, &mut d.outputs, &mut d.metadata] {
            for value in map.values_mut() {
                restore_arrays(value);
            }
        }
        d
    }

    fn absent(&self, key: &str) -> bool {
        !self.present.iter().any(|k| k.as_str() == key)
    }

    fn push(&self, out: &mut Vec<KeyValue>, key: &'static str, value: Option<Value>) {
        if let Some(value) = value
            && self.absent(key)
        {
            out.push(KeyValue::new(key, value));
        }
    }

    fn write_openinference(&self, out: &mut Vec<KeyValue>) {
        let kind = self.event_type.map(|t| Value::from(t.openinference_kind()));
        self.push(out, openinference::SPAN_KIND, kind);
        if !self.inputs.is_empty() {
            let (value, mime) = one_value(&self.inputs, None);
            self.push(out, openinference::INPUT_VALUE, Some(value));
            self.push(out, openinference::INPUT_MIME_TYPE, Some(mime.into()));
        }
        if !self.outputs.is_empty() {
            let (value, mime) = one_value(&self.outputs, Some("result"));
            self.push(out, openinference::OUTPUT_VALUE, Some(value));
            self.push(out, openinference::OUTPUT_MIME_TYPE, Some(mime.into()));
        }
        if !self.metadata.is_empty() {
            let json = Json::Object(self.metadata.clone()).to_string();
            self.push(out, openinference::METADATA, Some(json.into()));
        }
        self.push(out, openinference::SESSION_ID, self.session_id.clone());
        self.push(out, openinference::USER_ID, self.user_id.clone());
        self.push(out, openinference::LLM_MODEL_NAME, self.model.clone());
        self.push(out, openinference::LLM_PROVIDER, self.provider.clone());
        self.push(
            out,
            openinference::LLM_TOKEN_COUNT_PROMPT,
            self.input_tokens.clone(),
        );
        self.push(
            out,
            openinference::LLM_TOKEN_COUNT_COMPLETION,
            self.output_tokens.clone(),
        );
        let total = self.total_tokens.clone().or_else(|| {
            match (self.input_tokens.as_ref(), self.output_tokens.as_ref()) {
                (Some(Value::I64(a)), Some(Value::I64(b))) => a.checked_add(*b).map(Value::I64),
                _ => None,
            }
        });
        self.push(out, openinference::LLM_TOKEN_COUNT_TOTAL, total);
    }

    fn write_genai(&self, out: &mut Vec<KeyValue>) {
        let op = self.event_type.map(|t| Value::from(t.genai_operation()));
        self.push(out, genai::OPERATION_NAME, op);
        self.push(out, genai::REQUEST_MODEL, self.model.clone());
        self.push(out, genai::PROVIDER_NAME, self.provider.clone());
        self.push(out, genai::REQUEST_TEMPERATURE, self.temperature.clone());
        self.push(out, genai::REQUEST_MAX_TOKENS, self.max_tokens.clone());
        self.push(out, genai::USAGE_INPUT_TOKENS, self.input_tokens.clone());
        self.push(out, genai::USAGE_OUTPUT_TOKENS, self.output_tokens.clone());
    }
}

/// A section as OpenInference's single value: a lone string (or the `result` output) as text,
/// anything else as a JSON object.
fn one_value(map: &Map<String, Json>, lone_key: Option<&str>) -> (Value, &'static str) {
    if map.len() == 1
        && let Some((k, v)) = map.iter().next()
        && (lone_key.is_none() || lone_key == Some(k.as_str()))
    {
        return match v {
            Json::String(s) => (Value::from(s.clone()), openinference::MIME_TEXT),
            other => (Value::from(other.to_string()), openinference::MIME_JSON),
        };
    }
    (
        Value::from(Json::Object(map.clone()).to_string()),
        openinference::MIME_JSON,
    )
}

/// The most levels a dotted key is nested again. Enrichment flattens 8 levels deep, but a key
/// may hold dots of its own (a JSON key from a request body, say): past this depth the rest
/// of the key stays one flat key, so a key with thousands of dots cannot build a value deep
/// enough to overflow the export thread's stack (nesting, serializing and dropping it all
/// recurse), which aborts the process.
const MAX_NESTING: usize = 32;

/// Undoes the flattening of enrichment: `docs.0.id` goes back under `docs` → `0` → `id`.
/// A key that is both a value and a parent keeps both: the later of the two under its full
/// dotted name.
fn insert_nested(map: &mut Map<String, Json>, dotted: &str, value: Json) {
    insert_nested_at(map, dotted, value, 0);
}

fn insert_nested_at(map: &mut Map<String, Json>, dotted: &str, value: Json, depth: usize) {
    let split = if depth < MAX_NESTING {
        dotted.split_once('.')
    } else {
        None
    };
    let Some((head, rest)) = split else {
        // Children met first stay, under their dotted names next to the value.
        if let Some(Json::Object(children)) = map.insert(dotted.to_owned(), value) {
            for (k, v) in children {
                map.insert(format!("{dotted}.{k}"), v);
            }
        }
        return;
    };
    match map
        .entry(head.to_owned())
        .or_insert_with(|| Json::Object(Map::new()))
    {
        Json::Object(child) => insert_nested_at(child, rest, value, depth + 1),
        _ => {
            map.insert(dotted.to_owned(), value);
        }
    }
}

/// Objects whose keys are exactly `0..n` become arrays again.
fn restore_arrays(value: &mut Json) {
    if let Json::Object(map) = value {
        for child in map.values_mut() {
            restore_arrays(child);
        }
        let is_array =
            !map.is_empty() && (0..map.len()).all(|i| map.contains_key(i.to_string().as_str()));
        if is_array {
            let items = (0..map.len())
                .map(|i| map.remove(i.to_string().as_str()).unwrap_or(Json::Null))
                .collect();
            *value = Json::Array(items);
        }
    }
}

fn to_json(value: &Value) -> Json {
    match value {
        Value::Bool(b) => Json::Bool(*b),
        Value::I64(i) => Json::from(*i),
        Value::F64(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::String(s) => Json::String(s.as_str().to_owned()),
        Value::Array(Array::Bool(v)) => v.iter().copied().map(Json::Bool).collect(),
        Value::Array(Array::I64(v)) => v.iter().copied().map(Json::from).collect(),
        Value::Array(Array::F64(v)) => v.iter().map(|f| to_json(&Value::F64(*f))).collect(),
        Value::Array(Array::String(v)) => v
            .iter()
            .map(|s| Json::String(s.as_str().to_owned()))
            .collect(),
        other => Json::String(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn kv(key: &'static str, value: i64) -> KeyValue {
        KeyValue::new(key, value)
    }

    #[test]
    fn a_repeated_key_keeps_its_last_value() {
        for n in [5, 60] {
            let mut attributes: Vec<KeyValue> = (0..n)
                .map(|i| KeyValue::new(format!("k{i}"), i as i64))
                .collect();
            attributes.insert(1, kv("dup", 1));
            attributes.push(kv("dup", 2));
            attributes.push(kv("k0", -1));
            dedup_last_wins(&mut attributes);
            assert_eq!(attributes.len(), n + 1, "n = {n}");
            let value = |key: &str| {
                let found: Vec<_> = attributes
                    .iter()
                    .filter(|kv| kv.key.as_str() == key)
                    .collect();
                assert_eq!(found.len(), 1, "{key} once");
                found[0].value.clone()
            };
            assert_eq!(value("dup"), Value::I64(2));
            assert_eq!(value("k0"), Value::I64(-1));
            assert_eq!(value("k1"), Value::I64(1));
            // The order of what is kept does not change.
            assert_eq!(attributes[0].key.as_str(), "k1");
        }
    }

    #[test]
    fn flattened_keys_are_nested_again_for_openinference() {
        let mut map = Map::new();
        insert_nested(&mut map, "query", json!("hi"));
        insert_nested(&mut map, "docs.0.id", json!(1));
        insert_nested(&mut map, "docs.1.id", json!(2));
        insert_nested(&mut map, "opts.top_k", json!(3));
        let mut value = Json::Object(map);
        restore_arrays(&mut value);
        assert_eq!(
            value,
            json!({"query": "hi", "docs": [{"id": 1}, {"id": 2}], "opts": {"top_k": 3}})
        );
    }

    #[test]
    fn a_key_with_many_dots_is_nested_only_so_deep() {
        let mut map = Map::new();
        let rest = "a.".repeat(100_000) + "b";
        insert_nested(
            &mut map,
            &format!("{}{rest}", "x.".repeat(MAX_NESTING)),
            json!(1),
        );
        let mut value = Json::Object(map);
        for _ in 0..MAX_NESTING {
            value = value
                .as_object_mut()
                .and_then(|m| m.remove("x"))
                .expect("one level per dot, up to the bound");
        }
        assert_eq!(value, json!({ rest: 1 }));
    }

    /// The export thread runs the whole translation: before the bound, a key of 100,000 dots
    /// overflowed its stack and aborted the process.
    #[test]
    fn a_span_with_a_key_of_many_dots_is_finished_on_a_small_stack() {
        let finisher = Finisher {
            conventions: Conventions::all(),
            identity: Vec::new(),
            session_id: None,
            max_attribute_len: 64,
        };
        let key = format!("{}.{}b", honeyhive::INPUTS, "a.".repeat(100_000));
        let finished = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(move || {
                let mut span = test_span(vec![KeyValue::new(key, 1)]);
                finisher.finish(&mut span);
                span.attributes
                    .iter()
                    .any(|kv| kv.key.as_str() == openinference::INPUT_VALUE)
            })
            .expect("a thread")
            .join();
        assert_eq!(finished.ok(), Some(true));
    }

    fn test_span(attributes: Vec<KeyValue>) -> SpanData {
        use opentelemetry::trace::{SpanContext, SpanKind, Status};
        SpanData {
            span_context: SpanContext::empty_context(),
            parent_span_id: opentelemetry::trace::SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: "deep".into(),
            start_time: std::time::SystemTime::UNIX_EPOCH,
            end_time: std::time::SystemTime::UNIX_EPOCH,
            attributes,
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: Default::default(),
        }
    }

    /// Token counts are whatever the application enriched with: a sum past `i64::MAX` gives no
    /// total, instead of an overflow panic on the export thread (debug builds).
    #[test]
    fn token_counts_whose_sum_overflows_give_no_total() {
        let finisher = Finisher {
            conventions: Conventions::all(),
            identity: Vec::new(),
            session_id: None,
            max_attribute_len: 64,
        };
        let mut span = test_span(vec![
            kv("honeyhive_metrics.prompt_tokens", i64::MAX),
            kv("honeyhive_metrics.completion_tokens", 1),
        ]);
        finisher.finish(&mut span);
        let get = |key: &str| {
            span.attributes
                .iter()
                .find(|kv| kv.key.as_str() == key)
                .map(|kv| kv.value.clone())
        };
        assert_eq!(
            get(openinference::LLM_TOKEN_COUNT_PROMPT),
            Some(Value::I64(i64::MAX))
        );
        assert_eq!(get(openinference::LLM_TOKEN_COUNT_TOTAL), None);
    }

    #[test]
    fn a_key_that_is_both_value_and_parent_keeps_both() {
        let mut map = Map::new();
        insert_nested(&mut map, "a", json!(1));
        insert_nested(&mut map, "a.b", json!(2));
        assert_eq!(Json::Object(map), json!({"a": 1, "a.b": 2}));
    }

    /// The value coming after its children (`metadata("user.id", ..)` then
    /// `metadata("user", ..)`) does not replace them.
    #[test]
    fn a_value_after_its_children_keeps_both() {
        let mut map = Map::new();
        insert_nested(&mut map, "a.b", json!(2));
        insert_nested(&mut map, "a.c.d", json!(3));
        insert_nested(&mut map, "a", json!(1));
        assert_eq!(
            Json::Object(map),
            json!({"a": 1, "a.b": 2, "a.c": {"d": 3}})
        );
    }
}
