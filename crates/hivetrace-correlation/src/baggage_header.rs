//! Baggage kept as its header: validated and indexed on arrival, decoded only when read.
//!
//! A service that forwards baggage, or reads one or two entries of it, need not build an
//! OpenTelemetry `Baggage` (a hash map and two strings per entry) for every request:
//! [`BaggageHeader`] holds the incoming header values themselves (shared, not copied) and where
//! each valid member lies in them. It answers `get` by decoding one value, writes itself back
//! unchanged without re-encoding, and becomes a `Baggage` when asked.

use std::borrow::Cow;
use std::ops::Range;

use http::{HeaderMap, HeaderValue};
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use smallvec::SmallVec;

use crate::baggage::{
    MAX_BAGGAGE_BYTES, MAX_BAGGAGE_MEMBERS, Next, RawMember, Scanned, percent_decode, raw_member,
    scan_next,
};
use crate::headers::BAGGAGE;

/// The most members the grammar allows; scanning stops there.
const MAX_GRAMMAR_MEMBERS: usize = 180;

/// The `baggage` of a request as it arrived: valid members indexed, values decoded on demand.
///
/// Same rules as [`parse_baggage`](crate::baggage::parse_baggage): invalid members dropped,
/// a later duplicate key replaces an earlier one, at most 64 members and 8192 bytes kept.
/// One difference: the bytes are counted as the members arrive, percent-encoded, where
/// `parse_baggage` counts them decoded, as OpenTelemetry's `Baggage` does. Every baggage
/// within the limits is kept whole by both; over the byte limit, they may leave out
/// different members.
/// A `baggage` header value longer than 64 KiB, or after the 256th, is dropped whole.
///
/// ```
/// use hivetrace_correlation::baggage_header::BaggageHeader;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("baggage", "user.id=u%2042;ttl=60,bad key=1,tier=pro".parse().unwrap());
/// let bag = BaggageHeader::from_headers(&headers);
/// assert_eq!(bag.len(), 2);
/// assert_eq!(bag.get("user.id").as_deref(), Some("u 42"));
///
/// let mut outgoing = http::HeaderMap::new();
/// bag.inject(&mut outgoing);
/// assert_eq!(outgoing["baggage"], "user.id=u%2042;ttl=60,tier=pro");
/// assert_eq!(bag.to_baggage().get("tier").map(|v| v.as_str()), Some("pro"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct BaggageHeader {
    values: SmallVec<[HeaderValue; 1]>,
    members: SmallVec<[Member; 8]>,
    /// Whether `members` is exactly the members of the single value, in order: it can then be
    /// written back as that value.
    verbatim: bool,
}

/// Where one member's parts lie in its header value. Offsets are `u16`, so eight members fit
/// inline in 112 bytes: the view is returned and moved by value, and its size is what those
/// moves copy. A header value longer than [`MAX_VALUE_LEN`] is therefore not indexed.
#[derive(Clone, Debug)]
struct Member {
    value: u8,
    normalize: bool,
    key: Slice,
    encoded: Slice,
    properties: Slice,
}

#[derive(Clone, Copy, Debug)]
struct Slice {
    start: u16,
    end: u16,
}

/// The longest `baggage` header value indexed (64 KiB, eight times what baggage may hold);
/// longer values are dropped whole.
const MAX_VALUE_LEN: usize = u16::MAX as usize;

impl Slice {
    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }

    fn is_empty(self) -> bool {
        self.start == self.end
    }

    fn len(self) -> usize {
        usize::from(self.end - self.start)
    }
}

impl BaggageHeader {
    /// Indexes every `baggage` header of `headers`.
    pub fn from_headers(headers: &HeaderMap) -> BaggageHeader {
        let mut out = BaggageHeader {
            verbatim: true,
            ..BaggageHeader::default()
        };
        let mut seen = 0;
        let mut total = 0;
        'values: for value in headers.get_all(BAGGAGE) {
            let bytes = value.as_bytes();
            let Ok(index) = u8::try_from(out.values.len()) else {
                out.verbatim = false;
                break;
            };
            if bytes.len() > MAX_VALUE_LEN {
                out.verbatim = false;
                continue;
            }
            out.values.push(value.clone());
            let mut rest = Some(bytes);
            while let Some(member) = rest {
                let (next, after) = scan_next(member);
                rest = after;
                if let Next::Empty = next {
                    out.verbatim = false;
                    continue;
                }
                seen += 1;
                if seen > MAX_GRAMMAR_MEMBERS {
                    out.verbatim = false;
                    break 'values;
                }
                let Next::Member(raw) = next else {
                    out.verbatim = false;
                    continue;
                };
                let entry = Member::new(index, bytes, &raw);
                if let Some(at) = out.position(entry.key_in(bytes)) {
                    out.verbatim = false;
                    let others = total - out.members[at].bytes();
                    if others + entry.bytes() > MAX_BAGGAGE_BYTES {
                        // As `Baggage` does: a replacement that does not fit leaves the
                        // earlier value.
                        continue;
                    }
                    total = others;
                    out.members.remove(at);
                } else if out.members.len() == MAX_BAGGAGE_MEMBERS
                    || total + entry.bytes() > MAX_BAGGAGE_BYTES
                {
                    out.verbatim = false;
                    continue;
                }
                total += entry.bytes();
                out.members.push(entry);
            }
        }
        out.verbatim &= out.values.len() == 1;
        out
    }

    /// How many members were kept.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether no member was kept.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The decoded value of `key`.
    pub fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        let member = &self.members[self.position(key.as_bytes())?];
        let encoded = &self.values[member.value as usize].as_bytes()[member.encoded.range()];
        Some(if encoded.contains(&b'%') {
            Cow::Owned(percent_decode(encoded))
        } else {
            Cow::Borrowed(std::str::from_utf8(encoded).unwrap_or_default())
        })
    }

    /// The kept members, in order, still encoded.
    pub fn iter(&self) -> impl Iterator<Item = RawMember<'_>> {
        self.members.iter().filter_map(|m| {
            let member = self.values[m.value as usize].as_bytes();
            let start = m.key.range().start;
            let end = m.properties.range().end.max(m.encoded.range().end);
            raw_member(&member[start..end]).ok()
        })
    }

    /// An OpenTelemetry `Baggage` with the same entries, properties as metadata.
    pub fn to_baggage(&self) -> Baggage {
        let mut baggage = Baggage::new();
        for member in self.iter() {
            baggage.insert_with_metadata(
                member.key.to_owned(),
                member.shared_value(),
                member.properties(),
            );
        }
        baggage
    }

    /// `cx` with these entries as its OpenTelemetry baggage.
    pub fn into_context(&self, cx: &Context) -> Context {
        cx.with_baggage(self.to_baggage())
    }

    /// Writes the `baggage` header: the arriving value itself when nothing was dropped (no
    /// copy), else the kept members joined. Removes the header when there are none.
    pub fn inject(&self, headers: &mut HeaderMap) {
        if self.members.is_empty() {
            headers.remove(BAGGAGE);
            return;
        }
        if self.verbatim {
            headers.insert(BAGGAGE, self.values[0].clone());
            return;
        }
        let mut out = Vec::with_capacity(self.members.iter().map(|m| m.bytes() + 2).sum());
        for m in &self.members {
            if !out.is_empty() {
                out.push(b',');
            }
            let bytes = self.values[m.value as usize].as_bytes();
            out.extend_from_slice(&bytes[m.key.range()]);
            out.push(b'=');
            out.extend_from_slice(&bytes[m.encoded.range()]);
            if !m.properties.is_empty() {
                out.push(b';');
                if m.normalize {
                    let raw = raw_member(&bytes[m.key.range().start..m.properties.range().end]);
                    if let Ok(raw) = raw {
                        out.extend_from_slice(raw.properties().as_bytes());
                    }
                } else {
                    out.extend_from_slice(&bytes[m.properties.range()]);
                }
            }
        }
        if let Ok(value) = crate::headers::value_of(out) {
            headers.insert(BAGGAGE, value);
        }
    }

    fn position(&self, key: &[u8]) -> Option<usize> {
        self.members
            .iter()
            .position(|m| &self.values[m.value as usize].as_bytes()[m.key.range()] == key)
    }
}

impl Member {
    fn new(value: u8, base: &[u8], raw: &Scanned<'_>) -> Member {
        Member {
            value,
            normalize: raw.normalize,
            key: offset(base, raw.key),
            encoded: offset(base, raw.value),
            properties: offset(base, raw.properties),
        }
    }

    /// The bytes this member counts against the baggage limit: key, value and properties.
    fn bytes(&self) -> usize {
        self.key.len() + self.encoded.len() + self.properties.len()
    }

    fn key_in<'a>(&self, base: &'a [u8]) -> &'a [u8] {
        &base[self.key.range()]
    }
}

/// Where `part`, a sub-slice of `base` (at most `u16::MAX` long), lies in it: an empty slice at
/// the start of `base` for a slice that is not inside it, which `raw_member` never returns.
fn offset(base: &[u8], part: &[u8]) -> Slice {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    if start > base.len() || base.len() - start < part.len() {
        return Slice { start: 0, end: 0 };
    }
    match (u16::try_from(start), u16::try_from(start + part.len())) {
        (Ok(start), Ok(end)) => Slice { start, end },
        _ => Slice { start: 0, end: 0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::baggage::parse_baggage;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(BAGGAGE, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn agrees_with_the_decoding_parser() {
        for values in [
            &["a=1,b=%E2%9C%93;p = x ; q,c="][..],
            &["a=1, bad key=2", "a=3,d=4"][..],
            &["", " , "][..],
            &["x=1;;", "y=\"q\""][..],
        ] {
            let map = headers(values);
            let view = BaggageHeader::from_headers(&map);
            let parsed = parse_baggage(values.iter().map(|v| v.as_bytes()));
            assert_eq!(view.len(), parsed.len(), "{values:?}");
            let from_view = view.to_baggage();
            for (k, v) in &parsed {
                assert_eq!(
                    from_view.get_with_metadata(k.as_str()),
                    Some(v),
                    "{values:?}"
                );
                assert_eq!(
                    view.get(k.as_str()).as_deref(),
                    Some(v.0.as_str()),
                    "{values:?}"
                );
            }
        }
    }

    #[test]
    fn writes_back_verbatim_or_rebuilt() {
        let map = headers(&["a=1,b=%20;p"]);
        let mut out = HeaderMap::new();
        BaggageHeader::from_headers(&map).inject(&mut out);
        assert_eq!(out[BAGGAGE], "a=1,b=%20;p");

        let map = headers(&["a=1 ; p = 2, no", "a=3"]);
        BaggageHeader::from_headers(&map).inject(&mut out);
        assert_eq!(out[BAGGAGE], "a=3");

        // Valid as it came (optional whitespace included): passed on as it came.
        let map = headers(&["a=1 ; p = 2, b=2"]);
        BaggageHeader::from_headers(&map).inject(&mut out);
        assert_eq!(out[BAGGAGE], "a=1 ; p = 2, b=2");

        // Rebuilt around a dropped member: properties without their whitespace.
        let map = headers(&["a=1 ; p = 2, bad key=1, b=2"]);
        BaggageHeader::from_headers(&map).inject(&mut out);
        assert_eq!(out[BAGGAGE], "a=1;p=2,b=2");

        BaggageHeader::from_headers(&HeaderMap::new()).inject(&mut out);
        assert!(!out.contains_key(BAGGAGE));
    }

    #[test]
    fn drops_oversized_and_surplus_header_values_whole() {
        let huge = format!("big=1,{}=2", "k".repeat(MAX_VALUE_LEN));
        let mut map = HeaderMap::new();
        map.append(BAGGAGE, HeaderValue::from_str(&huge).expect("ascii"));
        map.append(BAGGAGE, HeaderValue::from_static("a=1"));
        let view = BaggageHeader::from_headers(&map);
        assert_eq!(view.len(), 1);
        assert_eq!(view.get("big"), None);
        assert_eq!(view.get("a").as_deref(), Some("1"));

        // Exactly the limit is still indexed, up to its last byte.
        let edge = format!("a=1,b={}", "v".repeat(MAX_VALUE_LEN - 6));
        assert_eq!(edge.len(), MAX_VALUE_LEN);
        let map: HeaderMap = [(BAGGAGE, HeaderValue::from_str(&edge).expect("ascii"))]
            .into_iter()
            .collect();
        let view = BaggageHeader::from_headers(&map);
        assert_eq!(view.get("a").as_deref(), Some("1"));
        // Over the byte limit, so not kept, but scanned without a panic.
        assert_eq!(view.get("b"), None);

        let mut map = HeaderMap::new();
        for i in 0..300 {
            map.append(
                BAGGAGE,
                HeaderValue::from_str(&format!("k{}=1", i % 40)).expect("ascii"),
            );
        }
        let view = BaggageHeader::from_headers(&map);
        // The first 256 values read (every one of the 40 keys is among them), the rest ignored.
        assert_eq!(view.len(), 40);
        let mut out = HeaderMap::new();
        view.inject(&mut out);
        assert_eq!(out.get_all(BAGGAGE).iter().count(), 1);
    }

    #[test]
    fn a_duplicate_that_does_not_fit_leaves_the_first_value() {
        let header = format!("a=1,f={},a={}", "x".repeat(8000), "y".repeat(500));
        let map: HeaderMap = [(BAGGAGE, HeaderValue::from_str(&header).expect("ascii"))]
            .into_iter()
            .collect();
        let view = BaggageHeader::from_headers(&map);
        assert_eq!(view.get("a").as_deref(), Some("1"));
        let bag = crate::baggage::parse_baggage([header.as_bytes()]);
        assert_eq!(bag.get("a").map(|v| v.as_str()), Some("1"));

        // One that fits replaces it.
        let map: HeaderMap = [(BAGGAGE, HeaderValue::from_static("a=1,b=2,a=3"))]
            .into_iter()
            .collect();
        assert_eq!(
            BaggageHeader::from_headers(&map).get("a").as_deref(),
            Some("3")
        );
    }

    #[test]
    fn keeps_the_limits() {
        let many: String = (0..70).map(|i| format!("k{i}=v,")).collect();
        let map: HeaderMap = [(BAGGAGE, HeaderValue::from_str(&many).expect("ascii"))]
            .into_iter()
            .collect();
        let view = BaggageHeader::from_headers(&map);
        assert_eq!(view.len(), MAX_BAGGAGE_MEMBERS);
        assert_eq!(view.get("k63").as_deref(), Some("v"));
        assert_eq!(view.get("k64"), None);
    }
}
