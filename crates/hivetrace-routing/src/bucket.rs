//! The stable hash and bucket that make canary assignment sticky and reproducible anywhere.
//!
//! A key (a user id) is hashed to 64 bits and mapped to one of 10,000 buckets; the key is in
//! the canary when its bucket is below the canary percentage in basis points. Raising the
//! percentage only adds buckets, so keys only ever move from stable to canary.
//!
//! The algorithm, precisely enough to implement in another language:
//!
//! ```text
//! h      = FNV-1a 64 over the key's UTF-8 bytes
//!          (h = 0xcbf29ce484222325; for each byte b: h = h XOR b; h = h * 0x100000001b3)
//! h      = murmur3 fmix64(h)
//!          (h ^= h >> 33; h *= 0xff51afd7ed558ccd; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53; h ^= h >> 33)
//! bucket = ((h >> 32) * 10000) >> 32          (0 ..= 9999)
//! canary = bucket < percentage_in_basis_points  (12.5 % = 1250)
//! ```
//!
//! All arithmetic is unsigned 64-bit and wraps. The hash is the one
//! `hivetrace-sampling`'s keyed sampler uses (its `rv` is `h >> 8`), so a user kept by that
//! sampler and a user's canary bucket come from one computation in any language.
//!
//! Test vectors (key → `h` → bucket):
//!
//! | key | h | bucket |
//! |---|---|---|
//! | `""` | `0xefd01f60ba992926` | 9367 |
//! | `"a"` | `0x82a2a958a9bece5b` | 5102 |
//! | `"42"` | `0x810b196a56ee3cec` | 5040 |
//! | `"user-42"` | `0xa39532c7ab051e8d` | 6389 |
//! | `"session-123"` | `0x50851645ee5d6ad6` | 3145 |
//! | `"ünïcødé"` | `0xc4b3c4ebf61bc14d` | 7683 |
//!
//! ```
//! use hivetrace_routing::bucket::{bucket, key_hash};
//!
//! assert_eq!(key_hash("user-42"), 0xa395_32c7_ab05_1e8d);
//! assert_eq!(bucket("user-42"), 6389);
//! ```

use std::cell::Cell;
use std::hash::{BuildHasher, Hasher};

/// The number of buckets: one per basis point.
pub const BUCKETS: u64 = 10_000;

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The key's 64-bit hash: FNV-1a 64 then murmur3's `fmix64` (see the [module docs](self)).
#[inline]
pub fn key_hash(key: &str) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in key.as_bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

/// The key's bucket, 0 to 9,999.
#[inline]
pub fn bucket(key: &str) -> u16 {
    bucket_of_hash(key_hash(key))
}

/// The bucket of a 64-bit hash: `((h >> 32) * 10000) >> 32`.
#[inline]
pub fn bucket_of_hash(h: u64) -> u16 {
    // < 10,000 by construction.
    (((h >> 32) * BUCKETS) >> 32) as u16
}

#[inline]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

thread_local! {
    /// SplitMix64 state per thread, seeded from the OS-seeded keys of std's `RandomState`.
    static RANDOM: Cell<u64> = Cell::new(std::collections::hash_map::RandomState::new().build_hasher().finish());
}

/// A uniformly random bucket, for requests without a key: a per-thread SplitMix64 step, no
/// lock and no system call.
#[inline]
pub(crate) fn random_bucket() -> u16 {
    let h = RANDOM.with(|state| {
        let s = state.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        state.set(s);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    });
    bucket_of_hash(h)
}

/// A `BuildHasher` for maps keyed by an already computed [`key_hash`]: it passes the hash
/// through instead of hashing it again.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct PrehashedBuilder;

/// Passes a `u64` through; other input is folded in with FNV-1a (never used by the maps here).
#[derive(Debug)]
pub(crate) struct Prehashed(u64);

impl BuildHasher for PrehashedBuilder {
    type Hasher = Prehashed;

    fn build_hasher(&self) -> Prehashed {
        Prehashed(FNV_OFFSET)
    }
}

impl Hasher for Prehashed {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn test_vectors_match_the_documented_table() {
        let vectors: [(&str, u64, u16); 6] = [
            ("", 0xefd0_1f60_ba99_2926, 9367),
            ("a", 0x82a2_a958_a9be_ce5b, 5102),
            ("42", 0x810b_196a_56ee_3cec, 5040),
            ("user-42", 0xa395_32c7_ab05_1e8d, 6389),
            ("session-123", 0x5085_1645_ee5d_6ad6, 3145),
            ("ünïcødé", 0xc4b3_c4eb_f61b_c14d, 7683),
        ];
        for (key, h, b) in vectors {
            assert_eq!(key_hash(key), h, "hash of {key:?}: {:#018x}", key_hash(key));
            assert_eq!(bucket(key), b, "bucket of {key:?}");
        }
    }

    #[test]
    fn buckets_cover_the_whole_range() {
        assert_eq!(bucket_of_hash(0), 0);
        assert_eq!(bucket_of_hash(u64::MAX), 9_999);
        assert!((0..10_000).all(|_| random_bucket() < 10_000));
    }

    #[test]
    fn random_buckets_are_spread() {
        let below_half = (0..20_000).filter(|_| random_bucket() < 5_000).count();
        assert!((9_000..11_000).contains(&below_half), "{below_half}");
    }
}
