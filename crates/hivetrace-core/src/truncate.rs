//! Bounding attribute values: prompts can be megabytes, and an OTLP request over the
//! backend's body limit is dropped whole.

use std::fmt;
use std::io;

use opentelemetry::{Array, StringValue, Value};

/// Ends every value that was cut, so a reader sees that it was.
///
/// The marker counts towards the limit: a cut value is the longest prefix that fits in
/// `limit - TRUNCATION_MARKER.len()` bytes (on a character boundary), then the marker. Under a
/// limit shorter than the marker (14 bytes) a value is cut to the limit with no marker.
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

/// How many bytes of text a cut value keeps under `limit`, and whether the marker follows.
fn kept_when_cut(limit: usize) -> (usize, bool) {
    match limit.checked_sub(TRUNCATION_MARKER.len()) {
        Some(text) => (text, true),
        None => (limit, false),
    }
}

/// `s` cut so that it and the marker fit in `limit` bytes, or `None` when `s` already fits.
pub(crate) fn truncated(s: &str, limit: usize) -> Option<String> {
    if s.len() <= limit {
        return None;
    }
    let (text, marked) = kept_when_cut(limit);
    let head = prefix(s, text);
    let mut out = String::with_capacity(limit);
    out.push_str(head);
    if marked {
        out.push_str(TRUNCATION_MARKER);
    }
    Some(out)
}

/// Cuts every string inside `value` that is longer than `limit` (see [`truncated`]). Returns
/// whether it changed.
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

    /// The text written; when the value did not fit, cut as [`truncated`] cuts, so the text
    /// and the marker together stay within the limit.
    pub(crate) fn finish(self) -> String {
        let mut bytes = self.buf;
        let marked = if self.overflowed {
            let (text, marked) = kept_when_cut(self.limit);
            bytes.truncate(text);
            marked
        } else {
            false
        };
        let mut s = match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => {
                // The cut fell inside a multi-byte character: keep the valid prefix.
                let valid = e.utf8_error().valid_up_to();
                let mut bytes = e.into_bytes();
                bytes.truncate(valid);
                String::from_utf8(bytes).unwrap_or_default()
            }
        };
        if marked {
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

    /// The limit that leaves `text` bytes for the value before the marker.
    fn room(text: usize) -> usize {
        text + TRUNCATION_MARKER.len()
    }

    #[test]
    fn long_values_are_cut_on_a_char_boundary_with_a_marker() {
        let s = "héllo wörld".repeat(3);
        let t = truncated(&s, room(2)).unwrap_or_default();
        assert_eq!(t, format!("h{TRUNCATION_MARKER}"));
        let mut v = Value::Array(Array::String(vec!["x".repeat(40).into(), "y".into()]));
        assert!(truncate_value(&mut v, room(4)));
        assert_eq!(
            v,
            Value::Array(Array::String(vec![
                format!("xxxx{TRUNCATION_MARKER}").into(),
                "y".into()
            ]))
        );
    }

    #[test]
    fn cut_values_never_exceed_the_limit() {
        let s = "é".repeat(100);
        for limit in 0..=60 {
            let cut = truncated(&s, limit).unwrap_or_default();
            assert!(cut.len() <= limit, "{limit}: {} bytes", cut.len());
            let mut b = BoundedBuf::new(limit);
            let _ = b.write_str(&s);
            let finished = b.finish();
            assert!(finished.len() <= limit, "{limit}: {} bytes", finished.len());
            assert_eq!(finished, cut, "{limit}");
        }
        assert_eq!(truncated(&"y".repeat(100), 16).map(|t| t.len()), Some(16));
    }

    #[test]
    fn limits_shorter_than_the_marker_cut_without_it() {
        assert_eq!(truncated("abcdefghijklmnopq", 5).as_deref(), Some("abcde"));
        assert_eq!(
            truncated("abcdefghijklmnopq", TRUNCATION_MARKER.len()).as_deref(),
            Some(TRUNCATION_MARKER)
        );
        let mut b = BoundedBuf::new(5);
        let _ = b.write_str("abcdefghijklmnopq");
        assert_eq!(b.finish(), "abcde");
    }

    #[test]
    fn bounded_buf_stops_formatting_early() {
        let mut b = BoundedBuf::new(room(5));
        assert!(write!(b, "{}", "a".repeat(1000)).is_err());
        assert!(b.overflowed());
        assert_eq!(b.finish(), format!("aaaaa{TRUNCATION_MARKER}"));
    }

    #[test]
    fn bounded_buf_keeps_a_value_that_fits_exactly() {
        let mut b = BoundedBuf::new(5);
        assert!(b.write_str("abcde").is_ok());
        assert_eq!(b.finish(), "abcde");
    }

    #[test]
    fn bounded_buf_drops_a_split_character() {
        let mut b = BoundedBuf::new(room(2));
        let _ = b.write_str(&"aé".repeat(10));
        assert_eq!(b.finish(), format!("a{TRUNCATION_MARKER}"));
    }
}
