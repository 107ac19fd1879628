//! The W3C Trace Context `tracestate` header: parse and format.
//!
//! The value is a comma-separated list of `key=value` members, read across every `tracestate`
//! header of a request (the spec's combined value). Empty and whitespace-only members are
//! skipped, as the spec requires. A combined value that breaks the grammar is discarded whole
//! ("if the `tracestate` header cannot be parsed the vendor MAY discard the entire header"):
//! a member with a bad key or value, a key seen twice, or more than 32 members. This is what
//! the W3C test suite expects at its default strictness, and what the OpenTelemetry SDKs for
//! Python, Go and Java do, so a service behind ours sees the same state it would see behind
//! theirs.
//!
//! Keys: `lcalpha 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/")`, or the multi-tenant
//! `(lcalpha / DIGIT) 0*240(...) "@" lcalpha 0*13(...)`. Values: 1 to 256 printable ASCII
//! characters without `,` or `=`, not ending in a space.

use opentelemetry::trace::TraceState;
use smallvec::SmallVec;

use crate::error::{Error, Result, excerpt};
use crate::traceparent::trim_ows;

/// The most list members a `tracestate` carries.
pub const MAX_TRACESTATE_MEMBERS: usize = 32;

/// The longest key and the longest value, in bytes.
const MAX_KEY_LEN: usize = 256;
const MAX_VALUE_LEN: usize = 256;

/// Parses the combined `tracestate` of one request from its header values, in order.
///
/// Never fails: a combined value that breaks the grammar (a bad member, a duplicate key, more
/// than 32 members) gives the empty state, as if no `tracestate` had come.
///
/// ```
/// use hivetrace_correlation::tracestate::parse_tracestate;
/// let state = parse_tracestate([&b"congo=t61rcWkgMzE, ,"[..], b"rojo=00f067aa0ba902b7"]);
/// assert_eq!(state.header(), "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
/// // One bad member, or a key sent twice, and the whole value is discarded.
/// assert_eq!(parse_tracestate([&b"congo=t61rcWkgMzE,Bad=1"[..]]).header(), "");
/// assert_eq!(parse_tracestate([&b"congo=1"[..], b"congo=2"]).header(), "");
/// ```
pub fn parse_tracestate<'a, I>(values: I) -> TraceState
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut members: SmallVec<[(&str, &str); 8]> = SmallVec::new();
    for value in values {
        for member in value.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            let Ok((key, value)) = member_parts(member) else {
                return TraceState::NONE;
            };
            if members.len() == MAX_TRACESTATE_MEMBERS || members.iter().any(|(k, _)| *k == key) {
                return TraceState::NONE;
            }
            members.push((key, value));
        }
    }
    if members.is_empty() {
        return TraceState::NONE;
    }
    TraceState::from_key_value(members.iter().copied()).unwrap_or_else(|_| {
        // opentelemetry 0.33's `TraceState` refuses a 14-character system id, which the spec
        // allows (an off-by-one in its key check). Such a member cannot be represented: keep
        // the others rather than lose the whole header.
        let representable = members
            .iter()
            .copied()
            .filter(|&member| TraceState::from_key_value([member]).is_ok());
        TraceState::from_key_value(representable).unwrap_or(TraceState::NONE)
    })
}

/// Parses one list member, `key=value`, with no surrounding whitespace.
///
/// ```
/// use hivetrace_correlation::tracestate::parse_member;
/// assert_eq!(parse_member(b"tenant@vendor=a b").unwrap(), ("tenant@vendor", "a b"));
/// assert!(parse_member(b"Vendor=1").is_err());
/// ```
pub fn parse_member(member: &[u8]) -> Result<(&str, &str)> {
    member_parts(member).map_err(|reason| Error::InvalidTracestate {
        member: excerpt(member),
        reason,
    })
}

/// [`parse_member`] without building an error: invalid members are common input, and a
/// dropped member should cost no allocation.
fn member_parts(member: &[u8]) -> Result<(&str, &str), &'static str> {
    let Some(eq) = member.iter().position(|&b| b == b'=') else {
        return Err("no '='");
    };
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    if !is_valid_key(key) {
        return Err("key breaks the grammar");
    }
    if !is_valid_value(value) {
        return Err("value breaks the grammar");
    }
    // Both checks admit ASCII only, so these conversions succeed.
    match (std::str::from_utf8(key), std::str::from_utf8(value)) {
        (Ok(k), Ok(v)) => Ok((k, v)),
        _ => Err("not ASCII"),
    }
}

/// Whether `key` is a `tracestate` key: simple, or multi-tenant `tenant@system`.
pub fn is_valid_key(key: &[u8]) -> bool {
    let Some(&first) = key.first() else {
        return false;
    };
    if key.len() > MAX_KEY_LEN {
        return false;
    }
    match key.iter().position(|&b| b == b'@') {
        None => first.is_ascii_lowercase() && key[1..].iter().all(|&b| is_key_char(b)),
        Some(at) => {
            let (tenant, system) = (&key[..at], &key[at + 1..]);
            let tenant_ok = (1..=241).contains(&tenant.len())
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && tenant[1..].iter().all(|&b| is_key_char(b));
            let system_ok = (1..=14).contains(&system.len())
                && system[0].is_ascii_lowercase()
                && system[1..].iter().all(|&b| is_key_char(b));
            tenant_ok && system_ok
        }
    }
}

/// Whether `value` is a `tracestate` value: 1 to 256 of `%x20-2B / %x2D-3C / %x3E-7E`, the
/// last not a space.
pub fn is_valid_value(value: &[u8]) -> bool {
    match value.last() {
        None | Some(b' ') => false,
        Some(_) => {
            value.len() <= MAX_VALUE_LEN
                && value
                    .iter()
                    .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
        }
    }
}

#[inline]
fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// Appends the `tracestate` value of `state` to `out`; members that break the grammar (which
/// `TraceState` itself lets through) are left out. Writes nothing for an empty state.
pub fn write_tracestate(state: &TraceState, out: &mut Vec<u8>) {
    let start = out.len();
    for (key, value) in state {
        if !is_valid_key(key.as_bytes()) || !is_valid_value(value.as_bytes()) {
            continue;
        }
        if out.len() > start {
            out.push(b',');
        }
        out.extend_from_slice(key.as_bytes());
        out.push(b'=');
        out.extend_from_slice(value.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&str]) -> String {
        parse_tracestate(values.iter().map(|v| v.as_bytes())).header()
    }

    #[test]
    fn keys_follow_the_grammar() {
        for good in [
            "a",
            "foo",
            "foo_bar-baz*/1",
            "0tenant@vendor",
            "t@v",
            "tenant@v2345678901234",
        ] {
            assert!(is_valid_key(good.as_bytes()), "{good}");
        }
        let long_simple = "a".repeat(256);
        assert!(is_valid_key(long_simple.as_bytes()));
        let too_long = "a".repeat(257);
        let long_tenant = format!("{}@v", "t".repeat(241));
        let longer_tenant = format!("{}@v", "t".repeat(242));
        assert!(is_valid_key(long_tenant.as_bytes()));
        for bad in [
            "",
            "Foo",
            "1foo",
            "foo.bar",
            "foo bar",
            "@vendor",
            "tenant@",
            "tenant@1vendor",
            "tenant@v23456789012345",
            "a@b@c",
            too_long.as_str(),
            longer_tenant.as_str(),
        ] {
            assert!(!is_valid_key(bad.as_bytes()), "{bad}");
        }
    }

    #[test]
    fn values_follow_the_grammar() {
        assert!(is_valid_value(b"t61rcWkgMzE"));
        assert!(is_valid_value(b" leading space ok"));
        assert!(is_valid_value(&[b'x'; 256]));
        assert!(!is_valid_value(&[b'x'; 257]));
        for bad in ["", "trailing ", "a,b", "a=b", "tab\there", "\u{e9}"] {
            assert!(!is_valid_value(bad.as_bytes()), "{bad:?}");
        }
    }

    #[test]
    fn combines_headers_and_skips_empty_members() {
        assert_eq!(
            parse(&["rojo=00f067aa0ba902b7 ,\t,", "congo=t61rcWkgMzE", ""]),
            "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
        );
        assert_eq!(parse(&["", " , "]), "");
    }

    #[test]
    fn a_value_that_breaks_the_grammar_is_discarded_whole() {
        // The W3C test suite's tracestate cases, at its default strictness.
        for bad in [
            &["ok=1,BAD=2,also-ok=3"][..],
            &["foo=1,novalue"],
            &["foo=,bar=3"],
            &["foo@=1,bar=2"],
            &["foo=1,foo=2"],
            &["foo=1", "foo=2"],
            &["bar=1", "foo=bar=baz"],
        ] {
            assert_eq!(parse(bad), "", "{bad:?}");
        }
        let long_key = format!("foo=1,{}=1", "z".repeat(257));
        assert_eq!(parse(&[&long_key]), "");
    }

    #[test]
    fn at_most_32_members() {
        let members: Vec<String> = (0..33).map(|i| format!("k{i}=v{i}")).collect();
        let exactly: String = members[..32].join(",");
        assert_eq!(parse(&[&exactly]), exactly);
        assert_eq!(parse(&[&members.join(",")]), "");
        // Empty members do not count.
        let with_empties = format!("{exactly},, ,");
        assert_eq!(parse(&[&with_empties]), exactly);
    }

    #[test]
    fn a_member_opentelemetry_cannot_hold_does_not_cost_the_others() {
        // A 14-character system id: valid, but refused by opentelemetry's TraceState.
        assert!(is_valid_key(b"t@v2345678901234"));
        assert_eq!(parse(&["a=1,t@v2345678901234=2,b=3"]), "a=1,b=3");
    }

    #[test]
    fn writes_only_valid_members() {
        let state = TraceState::from_key_value([("a", "1"), ("b", "two words")]).expect("valid");
        let mut out = Vec::new();
        write_tracestate(&state, &mut out);
        assert_eq!(out, b"a=1,b=two words");
        let mut empty = Vec::new();
        write_tracestate(&TraceState::NONE, &mut empty);
        assert!(empty.is_empty());
    }
}
