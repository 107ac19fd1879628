//! Turning a function's arguments and return value into attribute values.
//!
//! The choice is made at compile time by autoref specialization: a type that implements
//! `serde::Serialize` is captured as JSON (primitives keep their type), else one that
//! implements `Debug` is captured with `{:?}`, else it is skipped. The macros call
//!
//! ```
//! use hivetrace_core::capture::{Capture, CaptureDebug as _, CaptureSerialize as _, CaptureSkip as _};
//! #[derive(Debug)]
//! struct OnlyDebug(u8);
//! struct Opaque;
//!
//! let limit = 1024;
//! assert_eq!((&&&Capture(&42)).hivetrace_capture(limit), Some(42i64.into()));
//! assert_eq!((&&&Capture(&"hi")).hivetrace_capture(limit), Some("hi".into()));
//! assert_eq!((&&&Capture(&OnlyDebug(7))).hivetrace_capture(limit), Some("OnlyDebug(7)".into()));
//! assert_eq!((&&&Capture(&Opaque)).hivetrace_capture(limit), None);
//! ```
//!
//! Nothing here runs unless the span is recording: the macros only call it then. Formatting and
//! serialization stop once `limit` bytes are written, so a huge argument costs at most the limit.

use std::fmt::{self, Write as _};

use opentelemetry::Value;
use serde::Serialize;

use crate::truncate::BoundedBuf;

/// A borrowed value waiting to be captured. See the [module docs](self).
#[derive(Debug)]
pub struct Capture<'a, T: ?Sized>(pub &'a T);

/// Capture through `serde::Serialize`: the first choice.
pub trait CaptureSerialize {
    /// The value as an attribute, or `None` when it is null.
    fn hivetrace_capture(&self, limit: usize) -> Option<Value>;
}

/// Capture through `Debug`: the second choice.
pub trait CaptureDebug {
    /// The value's `{:?}`, cut at `limit` bytes.
    fn hivetrace_capture(&self, limit: usize) -> Option<Value>;
}

/// No capture: for types that are neither `Serialize` nor `Debug`.
pub trait CaptureSkip {
    /// Always `None`.
    fn hivetrace_capture(&self, limit: usize) -> Option<Value>;
}

impl<T: Serialize + ?Sized> CaptureSerialize for &&Capture<'_, T> {
    fn hivetrace_capture(&self, limit: usize) -> Option<Value> {
        serialize_value(self.0, limit)
    }
}

impl<T: fmt::Debug + ?Sized> CaptureDebug for &Capture<'_, T> {
    fn hivetrace_capture(&self, limit: usize) -> Option<Value> {
        Some(debug_value(self.0, limit))
    }
}

impl<T: ?Sized> CaptureSkip for Capture<'_, T> {
    fn hivetrace_capture(&self, _limit: usize) -> Option<Value> {
        None
    }
}

/// A serializable value as an attribute: strings, integers, floats and booleans keep their
/// type; maps and sequences become JSON text; null is `None`. At most `limit` bytes are written.
pub fn serialize_value<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Value> {
    let mut buf = BoundedBuf::new(limit);
    let complete = serde_json::to_writer(&mut buf, value).is_ok() && !buf.overflowed();
    if !complete {
        if buf.overflowed() {
            return Some(Value::from(buf.finish()));
        }
        // Serialization itself failed (a map with non-string keys, a failing impl):
        // say so rather than drop the value silently.
        return Some(Value::from("<unserializable>"));
    }
    let text = buf.as_bytes();
    match text.first() {
        Some(b'"') => serde_json::from_slice::<String>(text).ok().map(Value::from),
        Some(b'n') => None,
        Some(b't') => Some(Value::Bool(true)),
        Some(b'f') => Some(Value::Bool(false)),
        Some(b'-' | b'0'..=b'9') => {
            let s = std::str::from_utf8(text).ok()?;
            match s.parse::<i64>() {
                Ok(i) => Some(Value::I64(i)),
                Err(_) => s.parse::<f64>().ok().map(Value::F64),
            }
        }
        _ => Some(Value::from(buf.finish())),
    }
}

/// A value's `{:?}` as a string attribute, cut at `limit` bytes.
pub fn debug_value<T: fmt::Debug + ?Sized>(value: &T, limit: usize) -> Value {
    let mut buf = BoundedBuf::new(limit);
    let _ = write!(buf, "{value:?}");
    Value::from(buf.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::truncate::TRUNCATION_MARKER;
    use std::collections::BTreeMap;

    #[derive(Serialize, Debug)]
    struct Doc {
        id: u32,
        text: String,
    }

    #[test]
    fn structured_values_become_json() {
        let v = (&&&Capture(&Doc {
            id: 1,
            text: "a".into(),
        }))
            .hivetrace_capture(1000);
        assert_eq!(v, Some(Value::from(r#"{"id":1,"text":"a"}"#)));
        let v = (&&&Capture(&vec![1, 2])).hivetrace_capture(1000);
        assert_eq!(v, Some(Value::from("[1,2]")));
    }

    #[test]
    fn primitives_keep_their_type() {
        assert_eq!(
            (&&&Capture(&2.5f64)).hivetrace_capture(100),
            Some(Value::F64(2.5))
        );
        assert_eq!(
            (&&&Capture(&true)).hivetrace_capture(100),
            Some(Value::Bool(true))
        );
        assert_eq!(
            (&&&Capture(&String::from("q\"x"))).hivetrace_capture(100),
            Some(Value::from("q\"x"))
        );
        assert_eq!((&&&Capture(&None::<u8>)).hivetrace_capture(100), None);
        assert_eq!(
            (&&&Capture(&u64::MAX)).hivetrace_capture(100),
            Some(Value::F64(u64::MAX as f64))
        );
    }

    #[test]
    fn long_values_are_cut_while_serializing() {
        let big = "x".repeat(1_000_000);
        let v = (&&&Capture(&big)).hivetrace_capture(10);
        assert_eq!(
            v,
            Some(Value::from(format!("\"xxxxxxxxx{TRUNCATION_MARKER}")))
        );
        let v = debug_value(&vec![0u8; 100_000], 8);
        assert_eq!(v, Value::from(format!("[0, 0, 0{TRUNCATION_MARKER}")));
    }

    #[test]
    fn unserializable_maps_are_reported() {
        let mut m = BTreeMap::new();
        m.insert(vec![1u8], 2u8);
        assert_eq!(
            serialize_value(&m, 100),
            Some(Value::from("<unserializable>"))
        );
    }
}
