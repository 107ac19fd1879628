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

use crate::truncate::{BoundedBuf, truncated};

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
/// type (without going through JSON); maps, sequences and structs become JSON text; null is
/// `None`. At most `limit` bytes are written.
pub fn serialize_value<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Value> {
    match value.serialize(Primitive { limit }) {
        Ok(v) => v,
        Err(NotPrimitive) => json_value(value, limit),
    }
}

/// The JSON text of a structured value, cut at `limit` bytes.
fn json_value<T: Serialize + ?Sized>(value: &T, limit: usize) -> Option<Value> {
    let mut buf = BoundedBuf::new(limit);
    let complete = serde_json::to_writer(&mut buf, value).is_ok();
    if complete || buf.overflowed() {
        Some(Value::from(buf.finish()))
    } else {
        // Serialization itself failed (a map with non-string keys, a failing impl): say so
        // rather than drop the value silently.
        Some(Value::from("<unserializable>"))
    }
}

fn bounded_str(s: &str, limit: usize) -> Value {
    match truncated(s, limit) {
        Some(cut) => Value::from(cut),
        None => Value::from(s.to_owned()),
    }
}

/// A serializer that takes primitives directly and refuses anything structured.
struct Primitive {
    limit: usize,
}

#[derive(Debug)]
struct NotPrimitive;

impl fmt::Display for NotPrimitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a primitive")
    }
}

impl std::error::Error for NotPrimitive {}

impl serde::ser::Error for NotPrimitive {
    fn custom<M: fmt::Display>(_msg: M) -> Self {
        NotPrimitive
    }
}

type Done = Option<Value>;
type Refuse = serde::ser::Impossible<Done, NotPrimitive>;

impl serde::Serializer for Primitive {
    type Ok = Done;
    type Error = NotPrimitive;
    type SerializeSeq = Refuse;
    type SerializeTuple = Refuse;
    type SerializeTupleStruct = Refuse;
    type SerializeTupleVariant = Refuse;
    type SerializeMap = Refuse;
    type SerializeStruct = Refuse;
    type SerializeStructVariant = Refuse;

    fn serialize_bool(self, v: bool) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::Bool(v)))
    }
    fn serialize_i8(self, v: i8) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_i16(self, v: i16) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_i32(self, v: i32) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_i64(self, v: i64) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v)))
    }
    fn serialize_i128(self, v: i128) -> Result<Done, NotPrimitive> {
        Ok(Some(
            i64::try_from(v).map_or(Value::F64(v as f64), Value::I64),
        ))
    }
    fn serialize_u8(self, v: u8) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_u16(self, v: u16) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_u32(self, v: u32) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::I64(v.into())))
    }
    fn serialize_u64(self, v: u64) -> Result<Done, NotPrimitive> {
        Ok(Some(
            i64::try_from(v).map_or(Value::F64(v as f64), Value::I64),
        ))
    }
    fn serialize_u128(self, v: u128) -> Result<Done, NotPrimitive> {
        Ok(Some(
            i64::try_from(v).map_or(Value::F64(v as f64), Value::I64),
        ))
    }
    fn serialize_f32(self, v: f32) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::F64(v.into())))
    }
    fn serialize_f64(self, v: f64) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::F64(v)))
    }
    fn serialize_char(self, v: char) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::from(v.to_string())))
    }
    fn serialize_str(self, v: &str) -> Result<Done, NotPrimitive> {
        Ok(Some(bounded_str(v, self.limit)))
    }
    fn serialize_bytes(self, _v: &[u8]) -> Result<Done, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_none(self) -> Result<Done, NotPrimitive> {
        Ok(None)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Done, NotPrimitive> {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result<Done, NotPrimitive> {
        Ok(None)
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Result<Done, NotPrimitive> {
        Ok(None)
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Done, NotPrimitive> {
        Ok(Some(Value::from(variant)))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Done, NotPrimitive> {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Done, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_seq(self, _len: Option<usize>) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_tuple(self, _len: usize) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Refuse, NotPrimitive> {
        Err(NotPrimitive)
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
        let marker = TRUNCATION_MARKER.len();
        let v = (&&&Capture(&big)).hivetrace_capture(10 + marker);
        assert_eq!(
            v,
            Some(Value::from(format!("xxxxxxxxxx{TRUNCATION_MARKER}")))
        );
        let v = (&&&Capture(&vec![big.as_str()])).hivetrace_capture(10 + marker);
        assert_eq!(
            v,
            Some(Value::from(format!("[\"xxxxxxxx{TRUNCATION_MARKER}")))
        );
        let v = debug_value(&vec![0u8; 100_000], 8 + marker);
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
