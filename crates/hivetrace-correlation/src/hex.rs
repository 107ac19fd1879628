//! Lowercase hexadecimal, table-driven: the W3C formats allow no uppercase digits.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Each byte's value as a lowercase hex digit, or [`INVALID`].
const VALUES: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

const INVALID: u8 = 0xff;

/// Decodes lowercase hex into a big-endian integer of up to 128 bits; `None` on any other byte.
#[inline]
pub(crate) fn decode_u128(hex: &[u8]) -> Option<u128> {
    // Two 64-bit halves: 128-bit shifts cost several instructions each.
    let split = hex.len().saturating_sub(16);
    let high = decode_u64(&hex[..split])?;
    let low = decode_u64(&hex[split..])?;
    Some(u128::from(high) << 64 | u128::from(low))
}

/// Decodes lowercase hex into an integer of up to 64 bits.
#[inline]
pub(crate) fn decode_u64(hex: &[u8]) -> Option<u64> {
    let mut value: u64 = 0;
    let mut bad = 0u8;
    for &b in hex {
        let digit = VALUES[b as usize];
        // One branch for the whole run: the digit's high bit marks an invalid byte.
        bad |= digit;
        value = (value << 4) | u64::from(digit & 0x0f);
    }
    (bad & 0x80 == 0).then_some(value)
}

/// Writes `bytes` as lowercase hex into `out`, which must be twice as long.
#[inline]
pub(crate) fn encode(bytes: &[u8], out: &mut [u8]) {
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[(b >> 4) as usize];
        pair[1] = DIGITS[(b & 0x0f) as usize];
    }
}

/// Whether `b` is an uppercase or lowercase hex digit (for percent-decoding).
#[inline]
pub(crate) fn any_case_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The uppercase hex digit of a nibble (percent-encoding uses uppercase, RFC 3986).
#[inline]
pub(crate) fn upper_digit(nibble: u8) -> u8 {
    b"0123456789ABCDEF"[(nibble & 0x0f) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_lowercase_only() {
        assert_eq!(decode_u64(b"00f067aa0ba902b7"), Some(0x00f0_67aa_0ba9_02b7));
        assert_eq!(decode_u64(b"00F067AA0BA902B7"), None);
        assert_eq!(decode_u64(b"00f067aa0ba902bg"), None);
        assert_eq!(
            decode_u128(b"4bf92f3577b34da6a3ce929d0e0e4736"),
            Some(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736)
        );
        assert_eq!(decode_u128(b"4bf92f3577b34da6a3ce929d0e0e473-"), None);
    }

    #[test]
    fn encodes_round_trip() {
        let mut out = [0u8; 16];
        encode(&0x00f0_67aa_0ba9_02b7u64.to_be_bytes(), &mut out);
        assert_eq!(&out, b"00f067aa0ba902b7");
        assert_eq!(upper_digit(0xa), b'A');
        assert_eq!(any_case_value(b'F'), Some(15));
        assert_eq!(any_case_value(b'g'), None);
    }
}
