//! `enrich_span` and `enrich_session`: HoneyHive's way to add data to a running span.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;

use opentelemetry::trace::{SpanRef, TraceContextExt};
use opentelemetry::{Array, Context, Key, KeyValue, StringValue, Value};
use serde_json::Value as Json;
use smallvec::SmallVec;

use crate::conventions::{Section, honeyhive};
use crate::span::SessionSpan;

/// Nested JSON deeper than this is written as one JSON string.
const MAX_DEPTH: usize = 8;

/// A value for enrichment: a plain attribute value, or JSON to flatten into dotted keys.
///
/// Everything that converts into an OpenTelemetry [`Value`] converts into this, as do
/// `serde_json::Value` and the integer and float types; [`EnrichValue::json`] takes any
/// `Serialize`.
#[derive(Clone, Debug, PartialEq)]
pub enum EnrichValue {
    /// Written as it is.
    Value(Value),
    /// Flattened: objects to dotted keys, homogeneous arrays of primitives to arrays, other
    /// arrays to index segments (`docs.0`), nulls skipped.
    Json(Json),
}

impl EnrichValue {
    /// Any serializable value, flattened like JSON.
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_value(value) {
            Ok(json) => EnrichValue::Json(json),
            Err(_) => EnrichValue::Value(Value::from("<unserializable>")),
        }
    }
}

macro_rules! enrich_from {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl From<$t> for EnrichValue {
            fn from($v: $t) -> Self { $e }
        }
    )*};
}

enrich_from! {
    Value => |v| EnrichValue::Value(v);
    Json => |v| EnrichValue::Json(v);
    bool => |v| EnrichValue::Value(Value::Bool(v));
    i64 => |v| EnrichValue::Value(Value::I64(v));
    i32 => |v| EnrichValue::Value(Value::I64(v.into()));
    i16 => |v| EnrichValue::Value(Value::I64(v.into()));
    i8 => |v| EnrichValue::Value(Value::I64(v.into()));
    u32 => |v| EnrichValue::Value(Value::I64(v.into()));
    u16 => |v| EnrichValue::Value(Value::I64(v.into()));
    u8 => |v| EnrichValue::Value(Value::I64(v.into()));
    u64 => |v| EnrichValue::Value(i64::try_from(v).map_or(Value::F64(v as f64), Value::I64));
    usize => |v| EnrichValue::Value(i64::try_from(v).map_or(Value::F64(v as f64), Value::I64));
    f64 => |v| EnrichValue::Value(Value::F64(v));
    f32 => |v| EnrichValue::Value(Value::F64(v.into()));
    &'static str => |v| EnrichValue::Value(Value::from(v));
    String => |v| EnrichValue::Value(Value::from(v));
    Cow<'static, str> => |v| EnrichValue::Value(Value::from(v));
    Arc<str> => |v| EnrichValue::Value(Value::from(v));
    StringValue => |v| EnrichValue::Value(Value::String(v));
    Vec<String> => |v| EnrichValue::Value(Value::Array(Array::String(v.into_iter().map(StringValue::from).collect())));
    Vec<&'static str> => |v| EnrichValue::Value(Value::Array(Array::String(v.into_iter().map(StringValue::from).collect())));
    Vec<i64> => |v| EnrichValue::Value(Value::Array(Array::I64(v)));
    Vec<f64> => |v| EnrichValue::Value(Value::Array(Array::F64(v)));
    Vec<bool> => |v| EnrichValue::Value(Value::Array(Array::Bool(v)));
}

/// The data of one `enrich_span` call, written to the span at once when the closure returns.
///
/// Each section method writes `honeyhive_<section>.<key>`; values keep their types, JSON is
/// flattened to dotted keys. Methods return `&mut Self` to chain.
#[derive(Debug, Default)]
pub struct Enrichment {
    // Inline room for a typical call, so enrichment allocates nothing of its own.
    attributes: SmallVec<[KeyValue; 8]>,
}

impl Enrichment {
    /// A value in any section.
    pub fn section(
        &mut self,
        section: Section,
        key: impl EnrichKey,
        value: impl Into<EnrichValue>,
    ) -> &mut Self {
        match value.into() {
            EnrichValue::Value(v) => self
                .attributes
                .push(KeyValue::new(key.section_key(section), v)),
            EnrichValue::Json(json) => {
                let mut prefix = joined(section, key.as_str());
                flatten(&mut self.attributes, &mut prefix, json, 0);
            }
        }
        self
    }

    /// A whole section from a JSON object (or any `Serialize` through [`EnrichValue::json`]),
    /// like HoneyHive's `enrich_span(metadata={...})`: each top-level key becomes
    /// `honeyhive_<section>.<key>`. A value that is not an object goes under the key `value`.
    pub fn section_json(&mut self, section: Section, value: impl Into<EnrichValue>) -> &mut Self {
        match value.into() {
            EnrichValue::Json(Json::Object(map)) => {
                for (k, v) in map {
                    self.section(section, k, v);
                }
                self
            }
            other => self.section(section, "value", other),
        }
    }

    /// `honeyhive_inputs.<key>`
    pub fn inputs(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Inputs, key, value)
    }

    /// `honeyhive_outputs.<key>`
    pub fn outputs(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Outputs, key, value)
    }

    /// `honeyhive_metadata.<key>`
    pub fn metadata(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Metadata, key, value)
    }

    /// `honeyhive_metrics.<key>`
    pub fn metrics(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Metrics, key, value)
    }

    /// `honeyhive_config.<key>`; `model`, `provider`, `temperature` and `max_tokens` also feed
    /// the GenAI and OpenInference model keys.
    pub fn config(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Config, key, value)
    }

    /// `honeyhive_feedback.<key>`
    pub fn feedback(&mut self, key: impl EnrichKey, value: impl Into<EnrichValue>) -> &mut Self {
        self.section(Section::Feedback, key, value)
    }

    /// `honeyhive_user_properties.<key>`
    pub fn user_properties(
        &mut self,
        key: impl EnrichKey,
        value: impl Into<EnrichValue>,
    ) -> &mut Self {
        self.section(Section::UserProperties, key, value)
    }

    /// A captured input, `honeyhive_inputs.<name>`, when there is one (the macros' capture
    /// gives `None` for values it skips).
    pub fn captured_input(&mut self, name: &'static str, value: Option<Value>) -> &mut Self {
        if let Some(value) = value {
            self.attributes.push(KeyValue::new(
                static_section_key(Section::Inputs, name),
                value,
            ));
        }
        self
    }

    /// `honeyhive_error`: an error message, without changing the span's status.
    pub fn error(&mut self, message: impl Into<StringValue>) -> &mut Self {
        self.attributes.push(KeyValue::new(
            honeyhive::ERROR,
            Value::String(message.into()),
        ));
        self
    }

    /// Any attribute, under its own key.
    pub fn attribute(&mut self, attribute: KeyValue) -> &mut Self {
        self.attributes.push(attribute);
        self
    }
}

/// Adds data to the current span, in HoneyHive's sections.
///
/// `f` runs only when the current span is recording, so nothing is formatted or allocated
/// otherwise: with no span, or an unsampled one, a call costs a few nanoseconds. Returns whether
/// a span was enriched (HoneyHive's SDK reports success even when there is none).
///
/// ```
/// use hivetrace_core::enrich_span;
/// // No span is current here: the closure does not run.
/// let enriched = enrich_span(|e| {
///     e.metadata("customer", "acme")
///         .metrics("latency_ms", 12.5)
///         .config("model", "gpt-4o")
///         .inputs("query", serde_json::json!({"text": "hi", "lang": "en"}));
/// });
/// assert!(!enriched);
/// ```
pub fn enrich_span(f: impl FnOnce(&mut Enrichment)) -> bool {
    // The closure runs outside `map_current`: it may start and enter spans of its own, which
    // needs the context slot that `map_current` holds borrowed.
    let target = Context::map_current(|cx| cx.span().is_recording().then(|| cx.clone()));
    match target {
        Some(cx) => {
            apply(&cx.span(), f);
            true
        }
        None => false,
    }
}

/// Adds data to the current session's span: the nearest enclosing span started with
/// [`EventType::Session`](crate::EventType::Session), from anywhere below it. Returns `false`
/// (without calling `f`) when there is none or it is not recording.
///
/// HoneyHive's SDK makes a blocking REST call for this; here it is an attribute write.
pub fn enrich_session(f: impl FnOnce(&mut Enrichment)) -> bool {
    let target = Context::map_current(|cx| {
        let SessionSpan(session) = cx.get::<SessionSpan>()?;
        session.span().is_recording().then(|| session.clone())
    });
    match target {
        Some(cx) => {
            apply(&cx.span(), f);
            true
        }
        None => false,
    }
}

pub(crate) fn apply(span: &SpanRef<'_>, f: impl FnOnce(&mut Enrichment)) {
    let mut e = Enrichment::default();
    f(&mut e);
    if !e.attributes.is_empty() {
        // Drained in place: moving the inline buffer would copy all of it.
        span.set_attributes(e.attributes.drain(..));
    }
}

/// The name of a value within a section: `"model"` in `honeyhive_config.model`.
///
/// String literals (`&'static str`) are joined to their section's prefix once per thread and
/// then found by address, so the usual case costs no allocation and no string comparison.
/// Owned strings (`String`, for names known only at run time) are joined on each call.
pub trait EnrichKey {
    /// The name.
    fn as_str(&self) -> &str;
    /// `honeyhive_<section>.<name>` as an attribute key.
    fn section_key(self, section: Section) -> Key;
}

impl EnrichKey for &'static str {
    fn as_str(&self) -> &str {
        self
    }

    fn section_key(self, section: Section) -> Key {
        static_section_key(section, self)
    }
}

impl EnrichKey for String {
    fn as_str(&self) -> &str {
        self
    }

    fn section_key(self, section: Section) -> Key {
        Key::from(joined(section, &self))
    }
}

impl EnrichKey for Cow<'static, str> {
    fn as_str(&self) -> &str {
        self
    }

    fn section_key(self, section: Section) -> Key {
        match self {
            Cow::Borrowed(s) => static_section_key(section, s),
            Cow::Owned(s) => s.section_key(section),
        }
    }
}

fn joined(section: Section, key: &str) -> String {
    let mut s = String::with_capacity(section.prefix().len() + 1 + key.len());
    s.push_str(section.prefix());
    s.push('.');
    s.push_str(key);
    s
}

/// Slots in the per-thread cache of joined keys: direct-mapped, so memory is fixed.
const KEY_CACHE_SLOTS: usize = 256;

/// A cached key: the literal's address and length, its section, and the joined key.
type KeySlot = Option<(usize, usize, Section, Key)>;

thread_local! {
    static KEYS: RefCell<[KeySlot; KEY_CACHE_SLOTS]> =
        const { RefCell::new([const { None }; KEY_CACHE_SLOTS]) };
}

/// `honeyhive_<section>.<key>` for a string literal, joined once per thread.
///
/// A `&'static str` never changes, so its address and length identify its contents: a hit is
/// two integer compares, with no hashing or comparing of bytes.
pub(crate) fn static_section_key(section: Section, key: &'static str) -> Key {
    let addr = key.as_ptr() as usize;
    let len = key.len();
    let mixed = (addr ^ (len << 3) ^ section.index()).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let slot = mixed >> (usize::BITS - KEY_CACHE_SLOTS.trailing_zeros());
    let join = || Key::from(Arc::<str>::from(joined(section, key)));
    KEYS.try_with(|cache| {
        let Ok(mut cache) = cache.try_borrow_mut() else {
            return join();
        };
        let entry = &mut cache[slot];
        if let Some((a, l, s, k)) = entry
            && *a == addr
            && *l == len
            && *s == section
        {
            return k.clone();
        }
        let k = join();
        *entry = Some((addr, len, section, k.clone()));
        k
    })
    .unwrap_or_else(|_| join())
}

fn flatten(out: &mut SmallVec<[KeyValue; 8]>, key: &mut String, json: Json, depth: usize) {
    let scalar = |json: Json| -> Option<Value> {
        match json {
            Json::Bool(b) => Some(Value::Bool(b)),
            Json::Number(n) => n
                .as_i64()
                .map(Value::I64)
                .or_else(|| n.as_f64().map(Value::F64)),
            Json::String(s) => Some(Value::from(s)),
            _ => None,
        }
    };
    match json {
        Json::Null => {}
        Json::Array(items) if depth < MAX_DEPTH => {
            if let Some(array) = homogeneous(&items) {
                out.push(KeyValue::new(key.clone(), Value::Array(array)));
                return;
            }
            let len = key.len();
            for (i, item) in items.into_iter().enumerate() {
                key.push('.');
                key.push_str(&i.to_string());
                flatten(out, key, item, depth + 1);
                key.truncate(len);
            }
        }
        Json::Object(map) if depth < MAX_DEPTH => {
            let len = key.len();
            for (k, v) in map {
                key.push('.');
                key.push_str(&k);
                flatten(out, key, v, depth + 1);
                key.truncate(len);
            }
        }
        deep @ (Json::Array(_) | Json::Object(_)) => {
            out.push(KeyValue::new(key.clone(), deep.to_string()));
        }
        primitive => {
            if let Some(v) = scalar(primitive) {
                out.push(KeyValue::new(key.clone(), v));
            }
        }
    }
}

/// A non-empty array whose items are all strings, all booleans, all integers or all numbers.
fn homogeneous(items: &[Json]) -> Option<Array> {
    let first = items.first()?;
    match first {
        Json::String(_) => items
            .iter()
            .map(|j| j.as_str().map(|s| StringValue::from(s.to_owned())))
            .collect::<Option<Vec<_>>>()
            .map(Array::String),
        Json::Bool(_) => items
            .iter()
            .map(Json::as_bool)
            .collect::<Option<Vec<_>>>()
            .map(Array::Bool),
        Json::Number(_) => {
            if let Some(ints) = items.iter().map(Json::as_i64).collect::<Option<Vec<_>>>() {
                Some(Array::I64(ints))
            } else {
                items
                    .iter()
                    .map(Json::as_f64)
                    .collect::<Option<Vec<_>>>()
                    .map(Array::F64)
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn flat(json: Json) -> Vec<(String, Value)> {
        let mut e = Enrichment::default();
        e.inputs("q", json);
        e.attributes
            .into_iter()
            .map(|kv| (kv.key.as_str().to_owned(), kv.value))
            .collect()
    }

    #[test]
    fn nested_objects_flatten_to_dotted_keys_and_keep_types() {
        let got = flat(json!({"a": {"b": 1, "c": "x"}, "d": true, "e": 1.5, "n": null}));
        assert_eq!(
            got,
            vec![
                ("honeyhive_inputs.q.a.b".into(), Value::I64(1)),
                ("honeyhive_inputs.q.a.c".into(), Value::from("x")),
                ("honeyhive_inputs.q.d".into(), Value::Bool(true)),
                ("honeyhive_inputs.q.e".into(), Value::F64(1.5)),
            ]
        );
    }

    #[test]
    fn homogeneous_arrays_stay_arrays_and_mixed_ones_get_index_segments() {
        assert_eq!(
            flat(json!(["a", "b"])),
            vec![(
                "honeyhive_inputs.q".into(),
                Value::Array(Array::String(vec!["a".into(), "b".into()]))
            )]
        );
        assert_eq!(
            flat(json!([1, 2.5])),
            vec![(
                "honeyhive_inputs.q".into(),
                Value::Array(Array::F64(vec![1.0, 2.5]))
            )]
        );
        assert_eq!(
            flat(json!([{"id": 1}, "x"])),
            vec![
                ("honeyhive_inputs.q.0.id".into(), Value::I64(1)),
                ("honeyhive_inputs.q.1".into(), Value::from("x")),
            ]
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut v = json!("leaf");
        for _ in 0..20 {
            v = json!({ "k": v });
        }
        let got = flat(v);
        assert_eq!(got.len(), 1);
        let (key, value) = &got[0];
        assert_eq!(key.matches(".k").count(), MAX_DEPTH);
        assert!(value.as_str().starts_with("{\"k\""));
    }

    #[test]
    fn section_keys_are_joined_once_and_reused() {
        let a = static_section_key(Section::Metrics, "latency");
        let b = static_section_key(Section::Metrics, "latency");
        assert_eq!(a.as_str(), "honeyhive_metrics.latency");
        // The second lookup shares the first key's string rather than joining again.
        assert_eq!(a.as_str().as_ptr(), b.as_str().as_ptr());
        assert_eq!(
            static_section_key(Section::Config, "latency").as_str(),
            "honeyhive_config.latency"
        );
    }

    #[test]
    fn owned_and_literal_names_give_the_same_key() {
        let owned = String::from("lat") + "ency";
        assert_eq!(
            owned.section_key(Section::Metrics),
            "latency".section_key(Section::Metrics)
        );
        let cow: Cow<'static, str> = Cow::Owned("x".into());
        assert_eq!(
            cow.section_key(Section::Inputs).as_str(),
            "honeyhive_inputs.x"
        );
    }

    #[test]
    fn section_json_spreads_an_object() {
        let mut e = Enrichment::default();
        e.section_json(Section::Metadata, json!({"a": 1, "b": {"c": 2}}));
        e.section_json(Section::Feedback, 5i64);
        let keys: Vec<&str> = e.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys,
            vec![
                "honeyhive_metadata.a",
                "honeyhive_metadata.b.c",
                "honeyhive_feedback.value"
            ]
        );
    }
}
