//! The texts samplers look attribute values up by: a fast seeded hash set of short texts, and
//! the allocation-free string form an attribute value is compared as.

use std::collections::HashSet;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use opentelemetry::Value;

/// A set of texts looked up on every decision.
pub(crate) type TextSet = HashSet<Box<str>, TextHasher>;

/// Hashes short texts (ids, model names) in a few nanoseconds, where the standard SipHash takes
/// several times longer. Seeded at random per set, like the standard hasher, so which texts
/// collide cannot be known in advance.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TextHasher {
    seed: u64,
    key: u64,
}

impl Default for TextHasher {
    fn default() -> Self {
        let random = RandomState::new();
        TextHasher {
            seed: random.hash_one(0x5eed_u64),
            key: random.hash_one(0x006b_6579_u64),
        }
    }
}

impl BuildHasher for TextHasher {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            state: self.seed,
            key: self.key,
        }
    }
}

/// A folded-multiply hash over 16-byte blocks, as in foldhash: one multiply for a text of up to
/// 16 bytes.
#[derive(Debug)]
pub(crate) struct FoldHasher {
    state: u64,
    key: u64,
}

fn fold(x: u64, y: u64) -> u64 {
    let product = u128::from(x) * u128::from(y);
    // Truncating to the low and high halves is the point of a folded multiply.
    (product as u64) ^ ((product >> 64) as u64)
}

/// Up to 16 bytes as two words. Reads overlap when the bytes do not fill them; the length,
/// mixed in separately, tells such inputs apart. No `memcpy` call: this runs on every lookup.
fn words(bytes: &[u8]) -> (u64, u64) {
    if let (Some(a), Some(b)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        (u64::from_le_bytes(*a), u64::from_le_bytes(*b))
    } else if let (Some(a), Some(b)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        (
            u64::from(u32::from_le_bytes(*a)),
            u64::from(u32::from_le_bytes(*b)),
        )
    } else if let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) {
        let middle = bytes.get(bytes.len() / 2).copied().unwrap_or_default();
        let packed = u64::from(first) | u64::from(middle) << 8 | u64::from(last) << 16;
        (packed, 0)
    } else {
        (0, 0)
    }
}

impl Hasher for FoldHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut state = self.state ^ (bytes.len() as u64).rotate_right(8);
        let mut rest = bytes;
        while let Some((block, tail)) = rest.split_first_chunk::<16>() {
            let (a, b) = words(block);
            state = fold(state ^ a, self.key ^ b);
            rest = tail;
        }
        let (a, b) = words(rest);
        self.state = fold(state ^ a, self.key ^ b);
    }

    fn write_u8(&mut self, byte: u8) {
        self.state = fold(self.state ^ u64::from(byte), self.key);
    }

    fn finish(&self) -> u64 {
        fold(self.state, self.key.rotate_left(32))
    }
}

/// Room for any `i64` in decimal: 19 digits and a sign.
pub(crate) struct IntBuf([u8; 20]);

impl IntBuf {
    pub(crate) fn new() -> Self {
        IntBuf([0; 20])
    }
}

/// The text an attribute value is compared as: strings as they are, integers in decimal,
/// booleans as `true`/`false`. Floats and arrays have no string form here: `0.1 + 0.2` has no
/// one spelling worth matching against.
pub(crate) fn str_form<'a>(value: &'a Value, buf: &'a mut IntBuf) -> Option<&'a str> {
    match value {
        Value::String(s) => Some(s.as_str()),
        Value::I64(n) => Some(format_i64(*n, buf)),
        Value::Bool(true) => Some("true"),
        Value::Bool(false) => Some("false"),
        _ => None,
    }
}

/// Formats without allocating: this runs on every decision that reads an integer attribute.
fn format_i64(n: i64, buf: &mut IntBuf) -> &str {
    let buf = &mut buf.0;
    let mut magnitude = n.unsigned_abs();
    let mut start = buf.len();
    loop {
        start -= 1;
        // The remainder is below 10, so the cast is exact.
        buf[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if n < 0 {
        start -= 1;
        buf[start] = b'-';
    }
    // Only ASCII digits and '-' were written, so this never fails.
    std::str::from_utf8(&buf[start..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_integers_like_display() {
        for n in [0, 7, -7, 10, 42, -100, 1234567890, i64::MAX, i64::MIN] {
            let mut buf = IntBuf::new();
            assert_eq!(format_i64(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn the_text_hash_tells_similar_texts_apart() {
        let hasher = TextHasher::default();
        let texts: Vec<String> = ["", "a", "a\0", "aa", "\0", "\0\0"]
            .into_iter()
            .map(str::to_owned)
            .chain((0..20_000).map(|i| format!("u-{i}")))
            .chain((0..2_000).map(|i| format!("{i:0>40}")))
            .collect();
        let hashes: HashSet<u64> = texts.iter().map(|t| hasher.hash_one(t.as_str())).collect();
        assert_eq!(hashes.len(), texts.len());
        // Two sets' hashers are seeded apart.
        let other = TextHasher::default();
        assert_ne!(hasher.hash_one("u-1"), other.hash_one("u-1"));
    }
}
