//! Percent-encoding of baggage values, as the W3C Baggage spec asks.

use crate::baggage::is_baggage_octet;
use crate::hex;

/// The octets written as they are: `baggage-octet` without `%` and `+`.
const PLAIN: [bool; 256] = plain_table(false);

/// The same, with `+` written as it is.
const PLAIN_WITH_PLUS: [bool; 256] = plain_table(true);

const fn plain_table(plus: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = is_baggage_octet(c) && c != b'%' && (plus || c != b'+');
        b += 1;
    }
    table
}

/// Appends `value` percent-encoded: octets outside `baggage-octet`, `%` and `+` become `%XX`.
pub fn percent_encode(value: &[u8], out: &mut Vec<u8>) {
    encode_with(&PLAIN, value, out);
}

/// [`percent_encode`], returning whether a `+` was escaped (as `%2B`, three bytes for one):
/// the caller learns it from the pass it makes anyway.
pub(crate) fn percent_encode_seeing_plus(value: &[u8], out: &mut Vec<u8>) -> bool {
    encode_with(&PLAIN, value, out)
}

/// [`percent_encode`], but `+` is written as it is: a `baggage-octet` the spec reads as a
/// plus sign, one byte instead of three. For baggage that would not fit otherwise. Returns
/// false (no `+` is escaped).
pub(crate) fn percent_encode_keep_plus(value: &[u8], out: &mut Vec<u8>) -> bool {
    encode_with(&PLAIN_WITH_PLUS, value, out)
}

/// Appends `value` with the octets `plain` does not allow escaped; returns whether one of the
/// escaped octets was a `+`.
#[inline]
fn encode_with(plain: &[bool; 256], value: &[u8], out: &mut Vec<u8>) -> bool {
    // Most values need no escaping: one check that vectorises, one copy.
    if value.iter().all(|&b| plain[b as usize]) {
        out.extend_from_slice(value);
        return false;
    }
    let mut plus = false;
    let mut start = 0;
    for (i, &b) in value.iter().enumerate() {
        if plain[b as usize] {
            continue;
        }
        plus |= b == b'+';
        out.extend_from_slice(&value[start..i]);
        out.extend_from_slice(&[b'%', hex::upper_digit(b >> 4), hex::upper_digit(b)]);
        start = i + 1;
    }
    out.extend_from_slice(&value[start..]);
    plus
}

/// Decodes `%XX` sequences (either case); a `%` not followed by two hex digits stays as it
/// is; bytes that are not UTF-8 become U+FFFD.
pub fn percent_decode(value: &[u8]) -> String {
    if !value.contains(&b'%') {
        return match std::str::from_utf8(value) {
            Ok(text) => text.to_owned(),
            Err(_) => String::from_utf8_lossy(value).into_owned(),
        };
    }
    let mut bytes = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        let b = value[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) = (
                value.get(i + 1).and_then(|&h| hex::any_case_value(h)),
                value.get(i + 2).and_then(|&l| hex::any_case_value(l)),
            )
        {
            bytes.push(hi << 4 | lo);
            i += 3;
        } else {
            bytes.push(b);
            i += 1;
        }
    }
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding_replaces_invalid_utf8_and_keeps_stray_percent() {
        assert_eq!(percent_decode(b"1+1"), "1+1");
        assert_eq!(percent_decode(b"%FF%41"), "\u{fffd}A");
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz%4"), "%zz%4");
        assert_eq!(percent_decode(b"%c3%a9"), "\u{e9}");
    }

    #[test]
    fn encoding_round_trips_every_char_class() {
        let value = "a b,c;d=e%f\"g\\h\u{e9}\u{1f600}~!+";
        let mut out = Vec::new();
        percent_encode(value.as_bytes(), &mut out);
        assert!(out.iter().all(|&b| is_baggage_octet(b)));
        assert_eq!(
            std::str::from_utf8(&out).expect("ascii"),
            "a%20b%2Cc%3Bd=e%25f%22g%5Ch%C3%A9%F0%9F%98%80~!%2B"
        );
        assert_eq!(percent_decode(&out), value);
    }

    #[test]
    fn encoders_report_an_escaped_plus() {
        let mut out = Vec::new();
        assert!(percent_encode_seeing_plus(b"a b+c", &mut out));
        assert_eq!(out, b"a%20b%2Bc");
        out.clear();
        assert!(!percent_encode_seeing_plus(b"a b%c", &mut out));
        assert!(!percent_encode_seeing_plus(b"plain", &mut out));
        out.clear();
        assert!(!percent_encode_keep_plus(b"a b+c", &mut out));
        assert_eq!(out, b"a%20b+c");
    }
}
