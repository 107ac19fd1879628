//! Lookups in OTLP attribute lists (span, resource, event and scope attributes alike).
//!
//! ```
//! use hivetrace_tests::attributes;
//! use hivetrace_tests::proto::{AnyValue, KeyValue, any_value::Value};
//!
//! let attrs = vec![
//!     KeyValue { key: "service.name".into(), value: Some(AnyValue { value: Some(Value::StringValue("svc".into())) }), ..Default::default() },
//!     KeyValue { key: "tokens".into(), value: Some(AnyValue { value: Some(Value::IntValue(42)) }), ..Default::default() },
//! ];
//! assert_eq!(attributes::str_value(&attrs, "service.name"), Some("svc"));
//! assert_eq!(attributes::int_value(&attrs, "tokens"), Some(42));
//! assert_eq!(attributes::str_value(&attrs, "tokens"), None);
//! assert!(attributes::get(&attrs, "missing").is_none());
//! ```

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;

/// The value of the last attribute named `key` (the one a backend keeps), if any.
pub fn get<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .rev()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// The value of `key` if it is a string.
pub fn str_value<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a str> {
    match get(attributes, key)? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

/// The value of `key` if it is an integer.
pub fn int_value(attributes: &[KeyValue], key: &str) -> Option<i64> {
    match get(attributes, key)? {
        Value::IntValue(i) => Some(*i),
        _ => None,
    }
}

/// The value of `key` if it is a float.
pub fn double_value(attributes: &[KeyValue], key: &str) -> Option<f64> {
    match get(attributes, key)? {
        Value::DoubleValue(d) => Some(*d),
        _ => None,
    }
}

/// The value of `key` if it is a boolean.
pub fn bool_value(attributes: &[KeyValue], key: &str) -> Option<bool> {
    match get(attributes, key)? {
        Value::BoolValue(b) => Some(*b),
        _ => None,
    }
}

/// How many attributes are named `key`: more than one means a duplicate was exported.
pub fn count(attributes: &[KeyValue], key: &str) -> usize {
    attributes.iter().filter(|kv| kv.key == key).count()
}
