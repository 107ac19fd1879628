//! The W3C Trace Context Level 2 `traceparent` header: parse and format.
//!
//! `version "-" trace-id "-" parent-id "-" trace-flags`, lowercase hex only. Version `00` is
//! exactly 55 bytes; a higher version is parsed by the `00` prefix and must be followed by the
//! end of the value or a `-` (the spec's forward-compatibility rule); version `ff` is invalid;
//! an all-zero trace id or parent id is invalid.

use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

use crate::error::{Error, Result};
use crate::hex;

/// The length of a version-`00` `traceparent` value.
pub const TRACEPARENT_LEN: usize = 55;

/// The flags version `00` defines: sampled (`01`) and random trace id (`02`, Level 2).
/// Level 2 says the other bits must be set to zero.
const KNOWN_FLAGS_V0: u8 = 0x03;

/// A parsed `traceparent`: the ids and flags of the remote parent.
///
/// ```
/// use hivetrace_correlation::Traceparent;
/// let tp = Traceparent::parse(b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")?;
/// assert!(tp.flags.is_sampled());
/// assert_eq!(&tp.format(), b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// # Ok::<(), hivetrace_correlation::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Traceparent {
    /// The version the sender wrote (`00` today; higher versions are parsed by prefix).
    pub version: u8,
    /// The trace id; never all zeros.
    pub trace_id: TraceId,
    /// The parent's span id; never all zeros.
    pub span_id: SpanId,
    /// The flags this version defines (sampled, random); others are cleared.
    pub flags: TraceFlags,
}

impl Traceparent {
    /// Parses a `traceparent` value (surrounding spaces and tabs are ignored).
    pub fn parse(value: &[u8]) -> Result<Traceparent> {
        let value = trim_ows(value);
        if value.len() < TRACEPARENT_LEN {
            return Err(invalid("shorter than 55 bytes"));
        }
        if value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
            return Err(invalid("fields not separated by '-' at bytes 2, 35 and 52"));
        }
        let version = hex::decode_u64(&value[0..2])
            .ok_or_else(|| invalid("version is not two lowercase hex digits"))?
            as u8;
        if version == 0xff {
            return Err(invalid("version ff is forbidden"));
        }
        if version == 0 && value.len() != TRACEPARENT_LEN {
            return Err(invalid("version 00 must be exactly 55 bytes"));
        }
        if version > 0 && value.len() > TRACEPARENT_LEN && value[TRACEPARENT_LEN] != b'-' {
            return Err(invalid(
                "flags of a future version must be followed by '-' or the end",
            ));
        }
        let trace_id = value[3..35]
            .try_into()
            .ok()
            .and_then(hex::decode_u128)
            .ok_or_else(|| invalid("trace-id is not 32 lowercase hex digits"))?;
        if trace_id == 0 {
            return Err(invalid("trace-id is all zeros"));
        }
        let span_id = value[36..52]
            .try_into()
            .ok()
            .and_then(hex::decode16)
            .ok_or_else(|| invalid("parent-id is not 16 lowercase hex digits"))?;
        if span_id == 0 {
            return Err(invalid("parent-id is all zeros"));
        }
        let flags = hex::decode_u64(&value[53..55])
            .ok_or_else(|| invalid("trace-flags is not two lowercase hex digits"))?
            as u8;
        // A later version may give the other bits meanings we do not know: keep only sampled.
        let known = if version == 0 { KNOWN_FLAGS_V0 } else { 0x01 };
        Ok(Traceparent {
            version,
            trace_id: TraceId::from(trace_id),
            span_id: SpanId::from(span_id),
            flags: TraceFlags::new(flags & known),
        })
    }

    /// The `traceparent` of a span context, if it is valid.
    pub fn from_span_context(cx: &SpanContext) -> Option<Traceparent> {
        cx.is_valid().then(|| Traceparent {
            version: 0,
            trace_id: cx.trace_id(),
            span_id: cx.span_id(),
            flags: cx.trace_flags(),
        })
    }

    /// A remote span context with these ids and flags and the given `tracestate`.
    pub fn into_span_context(self, trace_state: TraceState) -> SpanContext {
        SpanContext::new(self.trace_id, self.span_id, self.flags, true, trace_state)
    }

    /// Formats as version `00` (the version this crate speaks), whatever version was parsed.
    pub fn format(&self) -> [u8; TRACEPARENT_LEN] {
        format_ids(self.trace_id, self.span_id, self.flags)
    }
}

/// Writes `00-<trace-id>-<span-id>-<flags>` into a stack buffer.
#[inline]
pub(crate) fn format_ids(
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
) -> [u8; TRACEPARENT_LEN] {
    let mut out = [b'-'; TRACEPARENT_LEN];
    out[0] = b'0';
    out[1] = b'0';
    let trace_id = u128::from_be_bytes(trace_id.to_bytes());
    out[3..19].copy_from_slice(&hex::encode16((trace_id >> 64) as u64));
    out[19..35].copy_from_slice(&hex::encode16(trace_id as u64));
    out[36..52].copy_from_slice(&hex::encode16(u64::from_be_bytes(span_id.to_bytes())));
    hex::encode(&[flags.to_u8() & KNOWN_FLAGS_V0], &mut out[53..55]);
    out
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidTraceparent { reason }
}

/// `s` without its leading optional whitespace (spaces and tabs).
#[inline]
pub(crate) fn trim_start_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    s
}

/// Strips HTTP optional whitespace (spaces and tabs) from the end.
#[inline]
pub(crate) fn trim_end_ows(mut s: &[u8]) -> &[u8] {
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// Strips HTTP optional whitespace (spaces and tabs) from both ends.
#[inline]
pub(crate) fn trim_ows(s: &[u8]) -> &[u8] {
    trim_end_ows(trim_start_ows(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn parse(s: &str) -> Result<Traceparent> {
        Traceparent::parse(s.as_bytes())
    }

    #[test]
    fn parses_and_formats_version_00() {
        let tp = parse(VALID).expect("valid");
        assert_eq!(tp.version, 0);
        assert_eq!(
            tp.trace_id,
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(tp.span_id, SpanId::from(0x00f0_67aa_0ba9_02b7));
        assert_eq!(tp.flags, TraceFlags::SAMPLED);
        assert_eq!(&tp.format()[..], VALID.as_bytes());
        assert_eq!(parse(&format!(" \t{VALID} ")), Ok(tp));
    }

    #[test]
    fn keeps_random_flag_and_clears_unknown_bits() {
        let tp = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff").expect("valid");
        assert_eq!(tp.flags.to_u8(), 0x03);
        let tp = parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02").expect("valid");
        assert!(!tp.flags.is_sampled());
        assert_eq!(tp.flags.to_u8(), 0x02);
    }

    #[test]
    fn future_versions_parse_by_prefix() {
        let tp =
            parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-the-future-holds")
                .expect("a higher version with more fields");
        assert_eq!(tp.version, 0xcc);
        assert_eq!(tp.flags, TraceFlags::SAMPLED);
        assert!(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").is_ok());
        assert!(parse("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x").is_err());
        assert_eq!(&tp.format()[..2], b"00");
    }

    #[test]
    fn rejects_what_the_spec_rejects() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-011",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47360-0f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-.1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn span_context_round_trip() {
        let tp = parse(VALID).expect("valid");
        let cx = tp.into_span_context(TraceState::NONE);
        assert!(cx.is_remote() && cx.is_valid());
        assert_eq!(Traceparent::from_span_context(&cx), Some(tp));
        assert_eq!(Traceparent::from_span_context(&SpanContext::NONE), None);
    }
}
