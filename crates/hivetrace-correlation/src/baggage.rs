//! The W3C Baggage header: parse and format, with percent-encoding and properties.
//!
//! ```text
//! baggage-string =  list-member 0*179( OWS "," OWS list-member )
//! list-member    =  key OWS "=" OWS value *( OWS ";" OWS property )
//! property       =  key OWS "=" OWS value / key OWS
//! key            =  token                       ; RFC 7230
//! value          =  *baggage-octet              ; %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
//! ```
//!
//! Values are percent-decoded as UTF-8, invalid sequences becoming U+FFFD as the spec says;
//! `+` is a plus sign, as the spec says. When writing, every octet outside `baggage-octet`,
//! `%` itself, and `+` are percent-encoded: the spec allows encoding any octet, and the Python
//! SDK decodes with `unquote_plus`, which would read a bare `+` as a space. Only when `%2B`
//! would push members past the 8192-byte limit is `+` written as it is.
//! Properties are kept as written (`p1=v1;p2`) in the entry's
//! [`BaggageMetadata`](opentelemetry::baggage::BaggageMetadata).
//!
//! Limits: every baggage of up to 64 members and 8192 bytes (the spec's minimum that platforms
//! must propagate) round-trips whole. The exception is a value whose encoding was malformed (a
//! stray `%`, or bytes that are not UTF-8): it is decoded as the spec says and written back
//! longer. Beyond the limits, whole members are dropped, never cut; parsing stops after the
//! grammar's 180 members. An invalid member is dropped; the others are kept.

use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt, KeyValueMetadata};
use opentelemetry::{Key, StringValue};

use crate::error::{Error, Result, excerpt};
pub use crate::percent::{percent_decode, percent_encode};
use crate::traceparent::{trim_end_ows, trim_ows, trim_start_ows};

/// The most members kept (the spec's minimum that must be propagated; also `Baggage`'s cap).
pub const MAX_BAGGAGE_MEMBERS: usize = 64;
/// The most bytes of baggage written, and of keys, values and properties kept.
pub const MAX_BAGGAGE_BYTES: usize = 8192;
/// The most members the grammar allows; parsing stops there.
const MAX_GRAMMAR_MEMBERS: usize = 180;

/// One parsed list member, borrowing the header: key, still-encoded value, raw properties.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawMember<'a> {
    /// The key (an RFC 7230 token).
    pub key: &'a str,
    /// The value as written, percent-encoded.
    pub value: &'a [u8],
    /// The properties as written, `;`-separated, without the leading `;` (may be empty).
    pub properties: &'a [u8],
    /// Whether the properties need normalising (whitespace around `;` or `=`).
    normalize: bool,
}

impl RawMember<'_> {
    /// The value, percent-decoded (invalid UTF-8 becomes U+FFFD).
    pub fn decoded_value(&self) -> String {
        percent_decode(self.value)
    }

    /// The decoded value, reference-counted: span processors copy baggage values onto every
    /// span, and cloning a shared string costs no allocation.
    pub(crate) fn shared_value(&self) -> std::sync::Arc<str> {
        if self.value.contains(&b'%') {
            std::sync::Arc::from(percent_decode(self.value))
        } else {
            std::sync::Arc::from(ascii(self.value))
        }
    }

    /// The properties without optional whitespace: `p1=v1;p2`.
    pub fn properties(&self) -> String {
        if !self.normalize {
            return ascii(self.properties).to_owned();
        }
        let mut out = String::with_capacity(self.properties.len());
        for property in self.properties.split(|&b| b == b';') {
            if !out.is_empty() {
                out.push(';');
            }
            let property = trim_ows(property);
            match property.iter().position(|&b| b == b'=') {
                Some(eq) => {
                    out.push_str(ascii(trim_ows(&property[..eq])));
                    out.push('=');
                    out.push_str(ascii(trim_ows(&property[eq + 1..])));
                }
                None => out.push_str(ascii(property)),
            }
        }
        out
    }
}

/// Parses one list member (surrounding whitespace allowed).
///
/// ```
/// use hivetrace_correlation::baggage::parse_member;
/// let m = parse_member(b" user.id = u%2042 ;ttl=60").unwrap();
/// assert_eq!((m.key, m.decoded_value().as_str(), m.properties().as_str()), ("user.id", "u 42", "ttl=60"));
/// assert!(parse_member(b"no value").is_err());
/// ```
pub fn parse_member(member: &[u8]) -> Result<RawMember<'_>> {
    raw_member(member).map_err(|reason| Error::InvalidBaggage {
        member: excerpt(member),
        reason,
    })
}

/// [`parse_member`] without building an error: invalid members are common input, and a
/// dropped member should cost no allocation.
pub(crate) fn raw_member(member: &[u8]) -> Result<RawMember<'_>, &'static str> {
    scan_member(member).map(|m| RawMember {
        key: ascii(m.key),
        value: m.value,
        properties: m.properties,
        normalize: m.normalize,
    })
}

/// A member's parts as byte slices of the header: what [`BaggageHeader`] indexes, with no
/// UTF-8 check of the key (the grammar already proved it ASCII).
///
/// [`BaggageHeader`]: crate::baggage_header::BaggageHeader
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scanned<'a> {
    pub(crate) key: &'a [u8],
    pub(crate) value: &'a [u8],
    pub(crate) properties: &'a [u8],
    pub(crate) normalize: bool,
}

/// Splits and checks one member; see [`raw_member`].
#[inline]
pub(crate) fn scan_member(member: &[u8]) -> Result<Scanned<'_>, &'static str> {
    // One pass: token, OWS, '=', OWS, octets, OWS, then ';' and the properties or the end.
    let (key, rest) = split_run(trim_ows(member), TOKEN);
    if key.is_empty() {
        return Err("key is not an RFC 7230 token");
    }
    let [b'=', rest @ ..] = trim_start_ows(rest) else {
        return Err("key is not a token followed by '='");
    };
    let (value, rest) = split_run(trim_start_ows(rest), OCTET);
    let (has_properties, properties) = match trim_start_ows(rest) {
        // An empty slice at the end of `member`, so callers can locate it by address.
        end @ [] => (false, end),
        [b';', properties @ ..] => (true, properties),
        _ => {
            return Err("value has a character that must be percent-encoded");
        }
    };
    let normalize = if has_properties {
        check_properties(properties).ok_or("a property breaks the grammar")?
    } else {
        false
    };
    Ok(Scanned {
        key,
        value,
        properties,
        normalize,
    })
}

/// The member at the front of a header value, as [`scan_next`] finds it.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Next<'a> {
    /// Only whitespace before the comma (or the end).
    Empty,
    /// A member that breaks the grammar.
    Invalid,
    /// A valid member.
    Member(Scanned<'a>),
}

/// Scans the member at the front of `value` and finds its end on the way, so the value is not
/// split at commas first (a comma ends every part of the grammar). Returns the member and what
/// follows its comma (`None` after the last member): the same as `split(',')` then
/// [`scan_member`] give, in one pass over the bytes.
#[inline]
pub(crate) fn scan_next(value: &[u8]) -> (Next<'_>, Option<&[u8]>) {
    let (key, rest) = split_run(trim_start_ows(value), TOKEN);
    if key.is_empty() {
        return match rest {
            [] => (Next::Empty, None),
            [b',', tail @ ..] => (Next::Empty, Some(tail)),
            _ => (Next::Invalid, after_comma(rest)),
        };
    }
    let [b'=', after_eq @ ..] = trim_start_ows(rest) else {
        return (Next::Invalid, after_comma(rest));
    };
    let (value, rest) = split_run(trim_start_ows(after_eq), OCTET);
    match trim_start_ows(rest) {
        end @ ([] | [b',', ..]) => {
            // Located as `scan_member` locates them in the trimmed member: an empty value
            // right after the `=`, no properties as an empty slice right after the value.
            let value = if value.is_empty() {
                &after_eq[..0]
            } else {
                value
            };
            let none = &value[value.len()..];
            let member = Scanned {
                key,
                value,
                properties: none,
                normalize: false,
            };
            (Next::Member(member), end.get(1..))
        }
        [b';', properties @ ..] => {
            let (properties, next) = match properties.iter().position(|&b| b == b',') {
                Some(comma) => (&properties[..comma], Some(&properties[comma + 1..])),
                None => (properties, None),
            };
            let properties = trim_end_ows(properties);
            match check_properties(properties) {
                Some(normalize) => {
                    let member = Scanned {
                        key,
                        value,
                        properties,
                        normalize,
                    };
                    (Next::Member(member), next)
                }
                None => (Next::Invalid, next),
            }
        }
        other => (Next::Invalid, after_comma(other)),
    }
}

/// The leading bytes of `s` in the [`CLASS`] `class` (a key's token, a value's octets), and the
/// rest. `position` on the slice compiles to a tight loop; an index kept across closures
/// spilled to the stack and doubled the cost.
#[inline(always)]
fn split_run(s: &[u8], class: u8) -> (&[u8], &[u8]) {
    let len = s
        .iter()
        .position(|&b| CLASS[b as usize] & class == 0)
        .unwrap_or(s.len());
    s.split_at(len)
}

/// What follows the first comma of `s`, `None` when there is none.
fn after_comma(s: &[u8]) -> Option<&[u8]> {
    s.iter()
        .position(|&b| b == b',')
        .map(|comma| &s[comma + 1..])
}

/// Checks the properties after a member's `;` (`p1=v1;p2`): `None` when one breaks the
/// grammar, else whether they have whitespace to drop when written out.
fn check_properties(properties: &[u8]) -> Option<bool> {
    let mut normalize = false;
    for property in properties.split(|&b| b == b';') {
        let trimmed = trim_ows(property);
        let ok = match trimmed.iter().position(|&b| b == b'=') {
            Some(eq) => {
                let (k, v) = (&trimmed[..eq], &trimmed[eq + 1..]);
                normalize |= trim_ows(k).len() != k.len() || trim_ows(v).len() != v.len();
                is_token(trim_ows(k)) && trim_ows(v).iter().all(|&b| is_baggage_octet(b))
            }
            None => is_token(trimmed),
        };
        if !ok {
            return None;
        }
        normalize |= trimmed.len() != property.len();
    }
    Some(normalize)
}

/// Parses the baggage of one request from its `baggage` header values, in order.
///
/// Never fails: invalid members are dropped; a later duplicate key replaces an earlier one.
///
/// ```
/// use hivetrace_correlation::baggage::parse_baggage;
/// let bag = parse_baggage([&b"user.id=u-42,tier=pro%20plus;ttl=60, bad key=1"[..]]);
/// assert_eq!(bag.len(), 2);
/// assert_eq!(bag.get("tier").map(|v| v.as_str()), Some("pro plus"));
/// ```
pub fn parse_baggage<'a, I>(values: I) -> Baggage
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut baggage = Baggage::new();
    let mut seen = 0;
    'values: for value in values {
        for member in value.split(|&b| b == b',') {
            if trim_ows(member).is_empty() {
                continue;
            }
            seen += 1;
            if seen > MAX_GRAMMAR_MEMBERS {
                break 'values;
            }
            let Ok(m) = raw_member(member) else {
                continue;
            };
            // `Baggage` itself refuses members past 64 and past 8192 bytes, whole.
            baggage.insert_with_metadata(m.key.to_owned(), m.shared_value(), m.properties());
        }
    }
    baggage
}

/// Appends the `baggage` value of `baggage` to `out`: keys as they are, values
/// percent-encoded, properties after `;`. Members that do not fit in 8192 bytes, and members
/// whose key or properties break the grammar, are left out whole.
///
/// `+` in values is written `%2B` (see the module docs), unless that makes a member not fit:
/// then the whole header is written again with `+` as it is, so a baggage that arrived in
/// 8192 bytes goes on whole.
pub fn write_baggage(baggage: &Baggage, out: &mut Vec<u8>) {
    let start = out.len();
    if write_members(baggage, out, crate::percent::percent_encode_seeing_plus) {
        out.truncate(start);
        write_members(baggage, out, crate::percent::percent_encode_keep_plus);
    }
}

/// Writes the members that fit in the byte budget, values through `encode`. Returns whether
/// one did not fit while some value holds a `+`: a shorter encoding may then fit them all.
fn write_members(
    baggage: &Baggage,
    out: &mut Vec<u8>,
    encode: fn(&[u8], &mut Vec<u8>) -> bool,
) -> bool {
    let start = out.len();
    let mut dropped = false;
    let mut plus = false;
    for (key, (value, metadata)) in baggage {
        let key = key.as_str().as_bytes();
        let properties = metadata.as_str().trim().trim_start_matches(';').as_bytes();
        if !is_token(key) || !(properties.is_empty() || check_properties(properties).is_some()) {
            // The spec: no partial member is propagated.
            continue;
        }
        let value = value.as_str().as_bytes();
        let member_start = out.len();
        if member_start > start {
            out.push(b',');
        }
        out.extend_from_slice(key);
        out.push(b'=');
        plus |= encode(value, out);
        if !properties.is_empty() {
            out.push(b';');
            out.extend_from_slice(properties);
        }
        if out.len() - start > MAX_BAGGAGE_BYTES {
            out.truncate(member_start);
            dropped = true;
        }
    }
    dropped && plus
}

/// `cx` with its baggage plus the given entries (which replace entries of the same key).
/// When the baggage is full (64 members or 8192 bytes), the given entries are kept and
/// existing ones left out.
///
/// `Baggage` is not `Clone`; this copies the entries once into a new one.
///
/// ```
/// use hivetrace_correlation::baggage::with_entries;
/// use opentelemetry::baggage::BaggageExt;
/// let cx = with_entries(&opentelemetry::Context::new(), [("a", "1")]);
/// let cx = with_entries(&cx, [("b", "2"), ("a", "3")]);
/// assert_eq!(cx.baggage().get("a").map(|v| v.as_str()), Some("3"));
/// assert_eq!(cx.baggage().len(), 2);
/// ```
pub fn with_entries<K, V>(cx: &Context, entries: impl IntoIterator<Item = (K, V)>) -> Context
where
    K: Into<Key>,
    V: Into<StringValue>,
{
    // The given entries go in first: a full baggage (64 members or 8192 bytes) refuses what
    // comes last, and what the caller adds (a request id, a session id) must not be what is
    // lost. Existing entries follow where their key is not taken and there is room.
    let mut baggage: Baggage = entries
        .into_iter()
        .map(|(k, v)| KeyValueMetadata::new(k, v, ""))
        .collect();
    for (key, (value, metadata)) in cx.baggage() {
        if baggage.get(key.as_str()).is_none() {
            baggage.insert_with_metadata(key.clone(), value.clone(), metadata.clone());
        }
    }
    cx.with_baggage(baggage)
}

/// Whether `key` is an RFC 7230 token: one or more of `!#$%&'*+-.^_`|~`, digits and letters.
pub fn is_token(key: &[u8]) -> bool {
    !key.is_empty() && key.iter().all(|&b| TCHAR[b as usize])
}

/// [`CLASS`] bit: an RFC 7230 `tchar`.
const TOKEN: u8 = 1;
/// [`CLASS`] bit: a `baggage-octet`.
const OCTET: u8 = 2;

/// Each byte's classes, so that scanning a member is one load per byte.
const CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        if TCHAR[b] {
            table[b] |= TOKEN;
        }
        if is_baggage_octet(b as u8) {
            table[b] |= OCTET;
        }
        b += 1;
    }
    table
};

const TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
#[inline]
pub(crate) const fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

/// Bytes the grammar checks already proved ASCII.
fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::baggage::BaggageMetadata;

    /// A member as a scan classifies it; a valid one by the addresses of its slices, which
    /// the view relies on.
    #[derive(Debug, PartialEq)]
    enum Seen {
        Empty,
        Invalid,
        Member {
            key: usize,
            value: usize,
            properties: usize,
            normalize: bool,
        },
    }

    impl Seen {
        fn member(m: Scanned<'_>) -> Seen {
            Seen::Member {
                key: m.key.as_ptr() as usize,
                value: m.value.as_ptr() as usize,
                properties: m.properties.as_ptr() as usize,
                normalize: m.normalize,
            }
        }
    }

    /// What `split(',')` then `scan_member` give.
    fn split_then_scan(value: &[u8]) -> Vec<Seen> {
        value
            .split(|&b| b == b',')
            .map(|member| {
                if trim_ows(member).is_empty() {
                    return Seen::Empty;
                }
                scan_member(member).map_or(Seen::Invalid, Seen::member)
            })
            .collect()
    }

    fn scanned_in_one_pass(value: &[u8]) -> Vec<Seen> {
        let mut out = Vec::new();
        let mut rest = Some(value);
        while let Some(member) = rest {
            let (next, after) = scan_next(member);
            rest = after;
            out.push(match next {
                Next::Empty => Seen::Empty,
                Next::Invalid => Seen::Invalid,
                Next::Member(m) => Seen::member(m),
            });
        }
        out
    }

    #[test]
    fn one_pass_scan_matches_split_then_scan_on_every_short_input() {
        // Every string of up to five of these bytes: each separator, whitespace, a token
        // byte, a value-only byte and a byte neither allows.
        const ALPHABET: &[u8] = b"a=,; \t%\"";
        let mut input = Vec::new();
        let mut checked = 0;
        for len in 0..=5u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                input.clear();
                for _ in 0..len {
                    input.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                assert_eq!(
                    scanned_in_one_pass(&input),
                    split_then_scan(&input),
                    "{:?}",
                    String::from_utf8_lossy(&input)
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 1 + 8 + 64 + 512 + 4096 + 32768);
        for input in [
            &b"k = v ; p = 1 ;q , ,x=y;;,z=%20 "[..],
            b"user.id=u-1,session.id=0193a5b2;ttl=60\t,tier=pro%20plus",
        ] {
            assert_eq!(scanned_in_one_pass(input), split_then_scan(input));
        }
    }

    fn written(baggage: &Baggage) -> String {
        let mut out = Vec::new();
        write_baggage(baggage, &mut out);
        String::from_utf8(out).expect("ascii")
    }

    #[test]
    fn parses_members_with_whitespace_and_properties() {
        let bag = parse_baggage([&b" a = 1 ; p1 = x ;p2 , b=%E2%9C%93,c="[..]]);
        assert_eq!(
            bag.get_with_metadata("a"),
            Some(&("1".into(), BaggageMetadata::from("p1=x;p2")))
        );
        assert_eq!(bag.get("b").map(|v| v.as_str()), Some("\u{2713}"));
        assert_eq!(bag.get("c").map(|v| v.as_str()), Some(""));
    }

    #[test]
    fn drops_invalid_members_only() {
        let bag =
            parse_baggage([&b"ok=1,no-equals,bad key=2,x=has space,y=q\"uote,p=1;;,q=1;,z=2"[..]]);
        let mut keys: Vec<&str> = bag.iter().map(|(k, _)| k.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["ok", "z"]);
    }

    #[test]
    fn writes_and_reads_back() {
        let mut bag = Baggage::new();
        bag.insert_with_metadata("user.id", "u 42", "ttl=60");
        bag.insert("k", "v,=;%");
        let header = written(&bag);
        let back = parse_baggage([header.as_bytes()]);
        assert_eq!(back.len(), 2);
        for (k, v) in &bag {
            assert_eq!(back.get_with_metadata(k.as_str()), Some(v));
        }
    }

    #[test]
    fn keeps_64_members_and_8192_bytes() {
        let header: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let bag = parse_baggage([header.join(",").as_bytes()]);
        assert_eq!(bag.len(), MAX_BAGGAGE_MEMBERS);

        // One member of exactly 8192 bytes of key and value survives, and is written whole.
        let big = "x".repeat(MAX_BAGGAGE_BYTES - 3 - 1);
        let header = format!("key={big}");
        assert_eq!(header.len(), MAX_BAGGAGE_BYTES);
        let bag = parse_baggage([header.as_bytes()]);
        assert_eq!(bag.len(), 1);
        assert_eq!(written(&bag), header);
    }

    #[test]
    fn writing_leaves_out_members_past_the_byte_limit_whole() {
        let mut bag = Baggage::new();
        bag.insert("a", "\u{e9}".repeat(2000)); // 4000 bytes, 12000 encoded
        bag.insert("b", "small");
        let header = written(&bag);
        assert_eq!(header, "b=small");
    }

    #[test]
    fn a_full_baggage_of_plus_signs_goes_on_whole() {
        // 64 members, 8192 bytes, values of `+`: as `%2B` they would be three times longer.
        let per = MAX_BAGGAGE_BYTES / MAX_BAGGAGE_MEMBERS;
        let members: Vec<String> = (0..MAX_BAGGAGE_MEMBERS)
            .map(|i| {
                let key = format!("k{i:02}");
                format!("{key}={}", "+".repeat(per - key.len() - 2))
            })
            .collect();
        let header = members.join(",");
        assert!(header.len() <= MAX_BAGGAGE_BYTES);
        let bag = parse_baggage([header.as_bytes()]);
        assert_eq!(bag.len(), MAX_BAGGAGE_MEMBERS);
        let out = written(&bag);
        assert!(out.len() <= MAX_BAGGAGE_BYTES);
        let back = parse_baggage([out.as_bytes()]);
        assert_eq!(back.len(), MAX_BAGGAGE_MEMBERS);
        for (k, v) in &bag {
            assert_eq!(back.get_with_metadata(k.as_str()), Some(v), "{k}");
        }

        // Small enough, `+` is still `%2B`, for decoders that read `+` as a space.
        let mut small = Baggage::new();
        small.insert("a", "1+1");
        assert_eq!(written(&small), "a=1%2B1");
    }

    #[test]
    fn a_member_with_bad_properties_is_left_out_whole() {
        let mut bag = Baggage::new();
        bag.insert_with_metadata("k", "v", "bad prop");
        bag.insert_with_metadata("ok", "1", "ttl=60");
        assert_eq!(written(&bag), "ok=1;ttl=60");
    }

    #[test]
    fn added_entries_win_over_a_full_baggage() {
        let full: Vec<String> = (0..MAX_BAGGAGE_MEMBERS)
            .map(|i| format!("k{i}=v"))
            .collect();
        let cx = Context::new().with_baggage(parse_baggage([full.join(",").as_bytes()]));
        assert_eq!(cx.baggage().len(), MAX_BAGGAGE_MEMBERS);
        let cx = with_entries(&cx, [("request.id", "r-1"), ("k0", "replaced")]);
        assert_eq!(cx.baggage().len(), MAX_BAGGAGE_MEMBERS);
        assert_eq!(
            cx.baggage().get("request.id").map(|v| v.as_str()),
            Some("r-1")
        );
        assert_eq!(cx.baggage().get("k0").map(|v| v.as_str()), Some("replaced"));
    }

    #[test]
    fn stops_after_the_grammar_limit() {
        let mut members: Vec<String> = (0..180).map(|_| "bad key=1".to_owned()).collect();
        members.push("late=1".to_owned());
        let bag = parse_baggage([members.join(",").as_bytes()]);
        assert!(bag.is_empty());
    }
}
