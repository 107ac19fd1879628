//! Bounding attribute values: prompts can be megabytes, and an OTLP request over the
//! backend's body limit is dropped whole.

use std::fmt;
use std::io;

use opentelemetry::{Array, StringValue, Value};

/// Appended to every value that was cut, so a reader sees that it was.
pub const TRUNCATION_MARKER: &str = "…[truncated]";

/// The default limit on an attribute value's length, in bytes.
pub const DEFAULT_MAX_ATTRIBUTE_LEN: usize = 32 * 1024;

/// The longest prefix of `s` that is at most `limit` bytes and ends on a character boundary.
fn prefix(s: &str, limit: usize) -> &str {
    if s.len() <= limit {
        return s;
    }
    let mut end = limit;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `s` cut to `limit` bytes plus the marker, or `None` when it already fits.
pub(crate) fn truncated(s: &str, limit: usize) -> Option<String> {
    if s.len() <= limit {
        return None;
    }
    let head = prefix(s, limit);
    let mut out = String::with_capacity(head.len() + TRUNCATION_MARKER.len());
    out.push_str(head);
    out.push_str(TRUNCATION_MARKER);
    Some(out)
}

/// Cuts every string inside `value` that is longer than `limit`. Returns whether it changed.
pub(crate) fn truncate_value(value: &mut Value, limit: usize) -> bool {
    match value {
        Value::String(s) => match truncated(s.as_str(), limit) {
            Some(t) => {
                *s = StringValue::from(t);
                true
            }
            None => false,
        },
        Value::Array(Array::String(items)) => {
            let mut changed = false;
            for item in items.iter_mut() {
                if let Some(t) = truncated(item.as_str(), limit) {
                    *item = StringValue::from(t);
                    changed = true;
                }
            }
            changed
        }
        _ => false,
    }
}

/// A writer that keeps at most `limit` bytes and then refuses more, so formatting or
/// serializing a huge value stops early instead of building it whole.
#[derive(Debug)]
pub(crate) struct BoundedBuf {
    buf: Vec<u8>,
    limit: usize,
    overflowed: bool,
}

impl BoundedBuf {
    pub(crate) fn new(limit: usize) -> Self {
        BoundedBuf {
            buf: Vec::new(),
            limit,
            overflowed: false,
        }
    }

    pub(crate) fn overflowed(&self) -> bool {
        self.overflowed
    }

    fn push(&mut self, bytes: &[u8]) -> bool {
        let room = self.limit.saturating_sub(self.buf.len());
        if bytes.len() <= room {
            self.buf.extend_from_slice(bytes);
            true
        } else {
            self.buf.extend_from_slice(&bytes[..room]);
            self.overflowed = true;
            false
        }
    }

    /// The text written, with the marker appended when the value did not fit.
    pub(crate) fn finish(self) -> String {
        let overflowed = self.overflowed;
        let mut s = match String::from_utf8(self.buf) {
            Ok(s) => s,
            Err(e) => {
                // The cut fell inside a multi-byte character: keep the valid prefix.
                let valid = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        if overflowed {
            s.push_str(TRUNCATION_MARKER);
        }
        s
    }
}

impl fmt::Write for BoundedBuf {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.push(s.as_bytes()) {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}

impl io::Write for BoundedBuf {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.push(bytes) {
            Ok(bytes.len())
        } else {
            Err(io::Error::other("value longer than the attribute limit"))
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn short_values_are_untouched() {
        assert_eq!(truncated("abc", 3), None);
        let mut v = Value::from("abc");
        assert!(!truncate_value(&mut v, 10));
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary_with_a_marker() {
        let s = "héllo wörld";
        let t = truncated(s, 2).unwrap_or_default();
        assert_eq!(t, format!("h{TRUNCATION_MARKER}"));
        let mut v = Value::Array(Array::String(vec!["x".repeat(10).into(), "y".into()]));
        assert!(truncate_value(&mut v, 4));
        assert_eq!(
            v,
            Value::Array(Array::String(vec![
                format!("xxxx{TRUNCATION_MARKER}").into(),
                "y".into()
            ]))
        );
    }

    #[test]
    fn bounded_buf_stops_formatting_early() {
        let mut b = BoundedBuf::new(5);
        assert!(write!(b, "{}", "a".repeat(1000)).is_err());
        assert!(b.overflowed());
        assert_eq!(b.finish(), format!("aaaaa{TRUNCATION_MARKER}"));
    }

    #[test]
    fn bounded_buf_drops_a_split_character() {
        let mut b = BoundedBuf::new(2);
        let _ = b.write_str("aé");
        assert_eq!(b.finish(), format!("a{TRUNCATION_MARKER}"));
    }
}
