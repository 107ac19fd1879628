//! Support for the code `hivetrace-macros` generates. Not a public API: names and signatures
//! here change without notice.

use std::borrow::Borrow;
use std::error::Error as StdError;
use std::fmt;

use opentelemetry::{KeyValue, StringValue, Value};

pub use crate::capture::{Capture, CaptureDebug, CaptureSerialize, CaptureSkip};
use crate::enrich::EnrichValue;
pub use crate::instrument::Instrument;
pub use opentelemetry::KeyValue as Field;

use crate::event_type::EventType;
use crate::span::Span;
use crate::tracer::Tracer;

/// Starts a span on `tracer`, or on the global tracer when `None`; a [`Span::none`] when
/// there is no tracer at all, in which case `fields` is not evaluated.
pub fn start<const N: usize>(
    tracer: Option<&Tracer>,
    name: &'static str,
    event_type: EventType,
    fields: impl FnOnce() -> [KeyValue; N],
) -> Span {
    let start = |tracer: Option<&Tracer>| match tracer {
        Some(t) => t
            .span(name)
            .event_type(event_type)
            .attributes(fields())
            .start(),
        None => Span::none(),
    };
    match tracer {
        Some(t) => start(Some(t)),
        None => crate::global::with(start),
    }
}

/// Calls `f` once: the traced body, as an `FnOnce` so it may return borrows it moved in.
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Calls the traced body of an `async fn`, given as an async closure with the declared return
/// type (so type errors in the body read as they would untraced).
#[inline(always)]
pub fn call_async<R, F: AsyncFnOnce() -> R>(f: F) -> impl Future<Output = R> {
    f()
}

/// Borrows a tracer given as `Tracer` or `&Tracer` (the `tracer = expr` option).
pub fn tracer_ref<T: Borrow<Tracer>>(tracer: &T) -> Option<&Tracer> {
    Some(tracer.borrow())
}

/// A `fields(key = value)` entry.
pub fn field(key: &'static str, value: impl FieldValue) -> KeyValue {
    KeyValue::new(key, value.into_field_value())
}

/// Values a `fields(...)` entry accepts: numbers, booleans, strings (borrowed ones are copied).
pub trait FieldValue {
    /// The attribute value.
    fn into_field_value(self) -> Value;
}

macro_rules! field_values {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl FieldValue for $t {
            fn into_field_value(self) -> Value { let $v = self; $e }
        }
    )*};
}

field_values! {
    Value => |v| v;
    bool => |v| Value::Bool(v);
    i64 => |v| Value::I64(v);
    i32 => |v| Value::I64(v.into());
    i16 => |v| Value::I64(v.into());
    i8 => |v| Value::I64(v.into());
    isize => |v| Value::I64(v as i64);
    char => |v| Value::from(v.to_string());
    std::borrow::Cow<'_, str> => |v| Value::from(v.into_owned());
    &std::borrow::Cow<'_, str> => |v| Value::from(v.to_string());
    u32 => |v| Value::I64(v.into());
    u16 => |v| Value::I64(v.into());
    u8 => |v| Value::I64(v.into());
    u64 => |v| i64::try_from(v).map_or(Value::F64(v as f64), Value::I64);
    usize => |v| i64::try_from(v).map_or(Value::F64(v as f64), Value::I64);
    f64 => |v| Value::F64(v);
    f32 => |v| Value::F64(v.into());
    String => |v| Value::from(v);
    &String => |v| Value::from(v.clone());
    &str => |v| Value::from(v.to_owned());
    &&str => |v| Value::from((*v).to_owned());
    &&String => |v| Value::from((*v).clone());
    StringValue => |v| Value::String(v);
    &StringValue => |v| Value::String(v.clone());
    &Value => |v| v.clone();
}

macro_rules! field_value_refs {
    ($($t:ty),*) => {$(
        impl FieldValue for &$t {
            fn into_field_value(self) -> Value { (*self).into_field_value() }
        }
    )*};
}

field_value_refs!(
    bool, i64, i32, i16, i8, isize, u32, u16, u8, u64, usize, f64, f32, char
);

macro_rules! field_value_double_refs {
    ($($t:ty),*) => {$(
        impl FieldValue for &&$t {
            fn into_field_value(self) -> Value { (**self).into_field_value() }
        }
    )*};
}

field_value_double_refs!(bool, i64, i32, u32, u64, usize, f64);

/// A `metadata(...)` or `config(...)` value, converted only when the span records. Strings
/// (`&str` of any lifetime, `String`, `&String`, `Cow<str>`) are copied, so an argument
/// borrowed for the call works; anything else is cloned, and converted by the section method. Chosen at
/// compile time like [`Capture`]: `(&&Meta(&value)).hivetrace_enrich_value()`.
#[derive(Debug)]
pub struct Meta<'a, T: ?Sized>(pub &'a T);

/// A string value, copied: the first choice.
pub trait MetaStr {
    /// The value to write.
    fn hivetrace_enrich_value(&self) -> EnrichValue;
}

/// Any other value, cloned (the section method converts it): the second choice.
pub trait MetaClone {
    /// The clone.
    type Value;
    /// The value to write.
    fn hivetrace_enrich_value(&self) -> Self::Value;
}

impl<T: AsRef<str> + ?Sized> MetaStr for &Meta<'_, T> {
    fn hivetrace_enrich_value(&self) -> EnrichValue {
        EnrichValue::Value(Value::from(self.0.as_ref().to_owned()))
    }
}

impl<T: Clone> MetaClone for Meta<'_, T> {
    type Value = T;
    fn hivetrace_enrich_value(&self) -> T {
        self.0.clone()
    }
}

/// An `Err` to record: through `std::error::Error` (with its sources) when it is one or
/// dereferences to one, else its `Display`, else its `Debug`. Chosen at compile time like [`Capture`].
#[derive(Debug)]
pub struct ErrRef<'a, E: ?Sized>(pub &'a E);

/// Records an error that dereferences to a `std::error::Error`: `Box<dyn Error + Send + Sync>`
/// and error reports such as `anyhow::Error`, which are not errors themselves, keep their
/// sources this way.
pub trait RecordDerefError {
    /// Records it on `span`.
    fn hivetrace_record(&self, span: &Span);
}

/// Records an error that implements `std::error::Error`.
pub trait RecordStdError {
    /// Records it on `span`.
    fn hivetrace_record(&self, span: &Span);
}

/// Records an error through `Display`.
pub trait RecordDisplayError {
    /// Records it on `span`.
    fn hivetrace_record(&self, span: &Span);
}

/// Records an error through `Debug`.
pub trait RecordDebugError {
    /// Records it on `span`.
    fn hivetrace_record(&self, span: &Span);
}

impl<E> RecordDerefError for &&&ErrRef<'_, E>
where
    E: std::ops::Deref + ?Sized,
    E::Target: StdError,
{
    fn hivetrace_record(&self, span: &Span) {
        span.record_error(&**self.0);
    }
}

impl<E: StdError + ?Sized> RecordStdError for &&ErrRef<'_, E> {
    fn hivetrace_record(&self, span: &Span) {
        span.record_error(self.0);
    }
}

impl<E: fmt::Display + ?Sized> RecordDisplayError for &ErrRef<'_, E> {
    fn hivetrace_record(&self, span: &Span) {
        if span.is_recording() {
            span.record_error_message(short_name::<E>(), self.0.to_string());
        }
    }
}

impl<E: fmt::Debug + ?Sized> RecordDebugError for ErrRef<'_, E> {
    fn hivetrace_record(&self, span: &Span) {
        if span.is_recording() {
            span.record_error_message(short_name::<E>(), format!("{:?}", self.0));
        }
    }
}

fn short_name<E: ?Sized>() -> &'static str {
    crate::span::error_type_name::<E>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_values_convert() {
        let borrowed: &str = "gold";
        let twice: &&str = &borrowed;
        assert_eq!(field("tier", twice).value, Value::from("gold"));
        let owned = String::from("u-1");
        assert_eq!(field("user.id", &owned).value, Value::from("u-1"));
        assert_eq!(field("n", 3u8).value, Value::I64(3));
        let n = 7i64;
        let by_ref: &i64 = &n;
        assert_eq!(field("n", by_ref).value, Value::I64(7));
        assert_eq!(field("big", u64::MAX).value, Value::F64(u64::MAX as f64));
    }

    #[test]
    fn no_tracer_gives_a_span_that_records_nothing() {
        let span = start(None, "x", EventType::Tool, || -> [KeyValue; 0] {
            unreachable!("fields are not evaluated without a tracer")
        });
        assert!(!span.is_recording());
    }
}
