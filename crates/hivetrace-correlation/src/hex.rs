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

/// Decodes 32 lowercase hex digits into a big-endian integer; `None` on any other byte.
#[inline(always)]
pub(crate) fn decode_u128(hex: &[u8; 32]) -> Option<u128> {
    let (high, low) = hex.split_at(16);
    let high = decode16(high.try_into().ok()?)?;
    let low = decode16(low.try_into().ok()?)?;
    Some(u128::from(high) << 64 | u128::from(low))
}

/// Decodes 16 lowercase hex digits into a big-endian integer; `None` on any other byte.
#[inline(always)]
pub(crate) fn decode16(hex: &[u8; 16]) -> Option<u64> {
    let (high, low) = hex.split_at(8);
    let high = decode8(high.try_into().ok()?)?;
    let low = decode8(low.try_into().ok()?)?;
    Some(u64::from(high) << 32 | u64::from(low))
}

const fn splat(b: u8) -> u64 {
    0x0101_0101_0101_0101 * b as u64
}

/// Per byte of `x` (each below 0x80): 0x80 where the byte is `>= n`, else 0.
#[inline]
const fn at_least(x: u64, n: u8) -> u64 {
    // Adding 0x80 - n sets a byte's high bit exactly when it is >= n; bytes below 0x80 carry
    // nothing into their neighbour (0x7f + 0x80 < 0x100).
    x.wrapping_add(splat(0x80 - n)) & splat(0x80)
}

/// Decodes 8 lowercase hex digits, eight bytes at a time in a `u64` (SWAR): validation is a
/// few range tests over all bytes at once instead of a table lookup per byte.
#[inline(always)]
fn decode8(hex: &[u8; 8]) -> Option<u32> {
    let x = u64::from_le_bytes(*hex);
    let ascii = x & splat(0x80) == 0;
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    let letter = at_least(x, b'a') & !at_least(x, b'f' + 1);
    if !ascii || (digit | letter) != splat(0x80) {
        return None;
    }
    // '0'..'9' keep their low nibble; 'a'..'f' (0x61..0x66) add 9 to theirs.
    let nibbles = (x & splat(0x0f)) + (letter >> 7) * 9;
    // The first digit is the lowest byte: pair, then quad, then all eight.
    let pairs = ((nibbles & 0x000f_000f_000f_000f) << 4) | ((nibbles >> 8) & 0x000f_000f_000f_000f);
    let quads = ((pairs & 0x0000_00ff_0000_00ff) << 8) | ((pairs >> 16) & 0x0000_00ff_0000_00ff);
    let all = ((quads & 0x0000_ffff) << 16) | ((quads >> 32) & 0x0000_ffff);
    Some(all as u32)
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

/// `value` as 16 lowercase hex digits, eight at a time (SWAR).
#[inline]
pub(crate) fn encode16(value: u64) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&encode8((value >> 32) as u32));
    out[8..].copy_from_slice(&encode8(value as u32));
    out
}

/// Eight lowercase hex digits of `value`: its nibbles spread one per byte, then each turned
/// into `'0' + n` or `'a' + n - 10` by one add and a mask.
#[inline]
fn encode8(value: u32) -> [u8; 8] {
    let x = u64::from(value);
    // Big-endian spread: the first digit ends in the highest byte.
    let x = ((x & 0xffff_0000) << 16) | (x & 0x0000_ffff);
    let x = ((x & 0x0000_ff00_0000_ff00) << 8) | (x & 0x0000_00ff_0000_00ff);
    let x = ((x & 0x00f0_00f0_00f0_00f0) << 4) | (x & 0x000f_000f_000f_000f);
    // Nibbles of 10 and more get bit 4 set by adding 6.
    let letters = ((x + splat(6)) >> 4) & splat(1);
    let ascii = x + splat(b'0') + letters * u64::from(b'a' - b'0' - 10);
    ascii.to_be_bytes()
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

    /// The table-driven decoder, as the reference for the SWAR one.
    fn reference(hex: &[u8]) -> Option<u64> {
        decode_u64(hex)
    }

    #[test]
    fn swar_decoding_agrees_with_the_table_on_every_single_byte_change() {
        let base = *b"09afbe1234567cd8";
        assert_eq!(decode16(&base), Some(0x09af_be12_3456_7cd8));
        for position in 0..16 {
            for byte in 0..=255u8 {
                let mut hex = base;
                hex[position] = byte;
                assert_eq!(decode16(&hex), reference(&hex), "{position} {byte:#x}");
            }
        }
        // Bytes with the high bit set next to valid ones must not carry into them.
        assert_eq!(decode16(b"\xff\xff\xff\xff\xff\xff\xff\xff0000000a"), None);
        assert_eq!(decode16(b"ffffffffffffffff"), Some(u64::MAX));
        assert_eq!(decode16(b"0000000000000000"), Some(0));
    }

    #[test]
    fn swar_encoding_agrees_with_the_table() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for value in [0, u64::MAX, 0x0123_4567_89ab_cdef, 0xa0a0_0a0a_f9f9_9f9f] {
            check_encode(value);
        }
        for _ in 0..10_000 {
            // xorshift64*
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            check_encode(state.wrapping_mul(0x2545_f491_4f6c_dd1d));
        }
    }

    fn check_encode(value: u64) {
        let swar = encode16(value);
        let mut table = [0u8; 16];
        encode(&value.to_be_bytes(), &mut table);
        assert_eq!(swar, table, "{value:#x}");
        assert_eq!(decode16(&swar), Some(value));
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
