//! Property tests and a fuzz-style run of the W3C codecs: parsing never panics, what parses
//! re-formats to what parses the same, and the results follow the specs' grammars, checked by
//! reference implementations written independently from the spec text.

use hivetrace_correlation::Traceparent;
use hivetrace_correlation::baggage::{parse_baggage, write_baggage};
use hivetrace_correlation::baggage_header::BaggageHeader;
use hivetrace_correlation::tracestate::{parse_tracestate, write_tracestate};
use opentelemetry::baggage::Baggage;
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};
use proptest::prelude::*;

/// The spec's `traceparent` rules, written as string checks (no shared code with the crate).
fn reference_traceparent(value: &[u8]) -> Option<(u128, u64, u8)> {
    let start = value.iter().position(|b| !b" \t".contains(b))?;
    let end = value.iter().rposition(|b| !b" \t".contains(b))? + 1;
    let s = &value[start..end];
    let lower_hex = |t: &str| t.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if s.len() < 55 {
        return None;
    }
    let field = |r: std::ops::Range<usize>| std::str::from_utf8(&s[r]).ok();
    let (version, trace, span, flags) =
        (field(0..2)?, field(3..35)?, field(36..52)?, field(53..55)?);
    if !(lower_hex(version) && lower_hex(trace) && lower_hex(span) && lower_hex(flags)) {
        return None;
    }
    if s[2] != b'-' || s[35] != b'-' || s[52] != b'-' || version == "ff" {
        return None;
    }
    if version == "00" && s.len() != 55 {
        return None;
    }
    if version != "00" && s.len() > 55 && s[55] != b'-' {
        return None;
    }
    let trace = u128::from_str_radix(trace, 16).ok()?;
    let span = u64::from_str_radix(span, 16).ok()?;
    if trace == 0 || span == 0 {
        return None;
    }
    let mask = if version == "00" { 0x03 } else { 0x01 };
    Some((trace, span, u8::from_str_radix(flags, 16).ok()? & mask))
}

/// The spec's `tracestate` key grammar, as a character-class walk.
fn reference_key(key: &str) -> bool {
    let rest_ok = |t: &str| {
        t.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-*/".contains(c))
    };
    match key.split_once('@') {
        None => {
            (1..=256).contains(&key.len())
                && key.starts_with(|c: char| c.is_ascii_lowercase())
                && rest_ok(key)
        }
        Some((tenant, system)) => {
            (1..=241).contains(&tenant.len())
                && (1..=14).contains(&system.len())
                && tenant.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && system.starts_with(|c: char| c.is_ascii_lowercase())
                && rest_ok(tenant)
                && rest_ok(system)
        }
    }
}

fn reference_value(value: &str) -> bool {
    (1..=256).contains(&value.len())
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

fn check_traceparent(input: &[u8]) {
    let ours = Traceparent::parse(input).ok();
    let expected = reference_traceparent(input);
    assert_eq!(
        ours.map(|tp| (
            u128::from_be_bytes(tp.trace_id.to_bytes()),
            u64::from_be_bytes(tp.span_id.to_bytes()),
            tp.flags.to_u8()
        )),
        expected,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    if let Some(tp) = ours {
        let again = Traceparent::parse(&tp.format()).expect("our output parses");
        assert_eq!((again.trace_id, again.span_id), (tp.trace_id, tp.span_id));
    }
}

fn check_tracestate(input: &[u8], round_trip: bool) {
    let state = parse_tracestate([input]);
    let members: Vec<(&str, &str)> = (&state).into_iter().collect();
    assert!(members.len() <= 32);
    for (i, (k, v)) in members.iter().enumerate() {
        assert!(reference_key(k), "key {k:?} from {input:?}");
        assert!(reference_value(v), "value {v:?} from {input:?}");
        assert!(
            members[..i].iter().all(|(other, _)| other != k),
            "duplicate {k}"
        );
    }
    let mut out = Vec::new();
    write_tracestate(&state, &mut out);
    if round_trip {
        assert_eq!(parse_tracestate([&out[..]]), state);
    }
}

fn check_baggage(input: &[u8], round_trip: bool) {
    let bag = parse_baggage([input]);
    assert!(bag.len() <= 64);
    let mut out = Vec::new();
    write_baggage(&bag, &mut out);
    assert!(out.len() <= 8192);
    if !round_trip {
        return;
    }
    let mut map = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_bytes(input) {
        map.insert("baggage", value);
        let view = BaggageHeader::from_headers(&map);
        assert_eq!(view.len(), bag.len(), "{input:?}");
        for (k, (v, _)) in &bag {
            assert_eq!(view.get(k.as_str()).as_deref(), Some(v.as_str()));
        }
        // Properties too: the view finds each member's end as it scans.
        let converted = view.to_baggage();
        for (k, v) in &bag {
            assert_eq!(
                converted.get_with_metadata(k.as_str()),
                Some(v),
                "{input:?}"
            );
        }
    }
    let again = parse_baggage([&out[..]]);
    assert_eq!(again.len(), bag.len());
    for (k, v) in &bag {
        assert_eq!(again.get_with_metadata(k.as_str()), Some(v));
    }
}

/// A small xorshift: deterministic, cheap enough for a million inputs in a debug build.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: [&[u8]; 3] = [
    b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    b"rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,t@v=x y",
    b"user.id=u-42;ttl=60,tier=pro%20plus,k=%E2%9C%93",
];

/// Bytes the grammars care about, so mutations land on edges more often than random bytes do.
const INTERESTING: &[u8] = b"-=,;%@ \t0fFaz9_*/\"\\\x00\x7f\xc3\xa9";

fn mutate(rng: &mut XorShift, seed: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(seed);
    for _ in 0..=rng.below(2) {
        let pick = |rng: &mut XorShift| {
            if rng.below(2) == 0 {
                INTERESTING[rng.below(INTERESTING.len())]
            } else {
                rng.next() as u8
            }
        };
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = pick(rng);
            }
            1 => {
                let i = rng.below(out.len() + 1);
                let b = pick(rng);
                out.insert(i, b);
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out.remove(i);
            }
            3 => out.truncate(rng.below(out.len() + 1)),
            4 if out.len() < 200 => {
                let dup = out.clone();
                out.push(b',');
                out.extend_from_slice(&dup);
            }
            _ => {
                let len = rng.below(80);
                out.clear();
                out.extend((0..len).map(|_| pick(rng)));
            }
        }
    }
}

#[test]
fn a_million_mutated_headers_never_panic_and_match_the_reference() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut buf = Vec::with_capacity(256);
    let mut parsed_traceparents = 0;
    let total = 1_000_002;
    for i in 0..total {
        let kind = i % 3;
        mutate(&mut rng, SEEDS[kind], &mut buf);
        match kind {
            0 => {
                check_traceparent(&buf);
                parsed_traceparents += usize::from(Traceparent::parse(&buf).is_ok());
            }
            // Re-parsing what was written is the costly part: one input in eight (the
            // property tests below do it for every input).
            1 => check_tracestate(&buf, i % 8 == 1),
            _ => check_baggage(&buf, i % 8 == 2),
        }
    }
    // The mutations must also leave valid headers, or the run would test only rejection.
    assert!(parsed_traceparents > 1_000, "{parsed_traceparents}");
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_*/-]{0,20}",
        // System ids stop at 13 characters: opentelemetry's TraceState cannot hold 14 (see
        // the crate's tracestate tests).
        "[a-z0-9][a-z0-9_*/-]{0,10}@[a-z][a-z0-9_*/-]{0,12}",
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    "[ -+\\--<>-~]{0,30}[!-+\\--<>-~]"
}

proptest! {
    #[test]
    fn traceparent_round_trips(trace in 1u128.., span in 1u64.., flags in any::<u8>()) {
        let tp = Traceparent {
            version: 0,
            trace_id: TraceId::from(trace),
            span_id: SpanId::from(span),
            flags: TraceFlags::new(flags & 0x03),
        };
        prop_assert_eq!(Traceparent::parse(&tp.format()), Ok(tp));
    }

    #[test]
    fn traceparent_agrees_with_the_reference(input in proptest::collection::vec(any::<u8>(), 50..70)) {
        check_traceparent(&input);
    }

    #[test]
    fn tracestate_keeps_valid_members_in_order(
        members in proptest::collection::vec((key_strategy(), value_strategy()), 0..40)
    ) {
        let header = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" , ");
        let state = parse_tracestate([header.as_bytes()]);
        // Every member is valid: all of them in order, unless a key repeats or there are more
        // than 32, which discards the whole value.
        let mut expected: Vec<(&str, &str)> = Vec::new();
        for (k, v) in &members {
            if expected.len() == 32 || expected.iter().any(|(e, _)| e == k) {
                expected.clear();
                break;
            }
            expected.push((k, v));
        }
        let got: Vec<(&str, &str)> = (&state).into_iter().collect();
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn tracestate_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_tracestate(&input, true);
    }

    #[test]
    fn baggage_values_round_trip_any_text(
        entries in proptest::collection::btree_map("[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}", any::<String>(), 0..8)
    ) {
        let mut bag = Baggage::new();
        for (k, v) in &entries {
            bag.insert(k.clone(), v.clone());
        }
        let mut out = Vec::new();
        write_baggage(&bag, &mut out);
        let back = parse_baggage([&out[..]]);
        prop_assert_eq!(back.len(), entries.len());
        for (k, v) in &entries {
            prop_assert_eq!(back.get(k.as_str()).map(|s| s.as_str()), Some(v.as_str()));
        }
    }

    #[test]
    fn baggage_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
        check_baggage(&input, true);
    }
}
