//! Canary assignment: distribution, stickiness and monotonicity (property tests), test vectors.
#![allow(clippy::unwrap_used)]

use hivetrace_routing::bucket::{bucket, key_hash};
use hivetrace_routing::{Canary, Percentage, RouteRequest, Router, Tier, TierSource};
use proptest::prelude::*;

fn is_canary(canary: &Canary, key: &str) -> bool {
    let d = canary.assign(Some(key));
    assert_eq!(d.source(), TierSource::Percentage);
    d.tier() == &Tier::CANARY
}

#[test]
fn share_of_100k_keys_is_within_one_point_of_the_percentage() {
    let keys: Vec<String> = (0..100_000).map(|i| format!("user-{i}")).collect();
    for percent in [0.01, 1.0, 5.0, 12.34, 25.0, 50.0, 75.5, 99.0] {
        let canary = Canary::new(Percentage::new(percent).unwrap());
        let hits = keys.iter().filter(|k| is_canary(&canary, k)).count();
        let share = hits as f64 / keys.len() as f64 * 100.0;
        assert!(
            (share - percent).abs() <= 1.0,
            "{percent}%: {share:.3}% of keys in the canary"
        );
    }
}

#[test]
fn uuid_like_keys_spread_evenly_over_buckets() {
    // Ten equal ranges of buckets each get 10 % +- 1 point of 100,000 structured keys.
    let mut deciles = [0u32; 10];
    for i in 0..100_000u64 {
        let key = format!("{:08x}-4b1c-9f3e-{:012x}", i * 7919, i);
        deciles[usize::from(bucket(&key) / 1000)] += 1;
    }
    for (d, n) in deciles.iter().enumerate() {
        assert!((9_000..=11_000).contains(n), "decile {d}: {n}");
    }
}

#[test]
fn documented_test_vectors() {
    // The table in the `bucket` module docs, computed independently of this crate.
    let vectors: [(&str, u64, u16); 4] = [
        ("a", 0x82a2_a958_a9be_ce5b, 5102),
        ("user-42", 0xa395_32c7_ab05_1e8d, 6389),
        ("session-123", 0x5085_1645_ee5d_6ad6, 3145),
        ("ünïcødé", 0xc4b3_c4eb_f61b_c14d, 7683),
    ];
    for (key, hash, b) in vectors {
        assert_eq!(key_hash(key), hash, "{key}");
        assert_eq!(bucket(key), b, "{key}");
        // In the canary exactly when the percentage is above the bucket.
        let below = Canary::new(Percentage::from_basis_points(b).unwrap());
        let above = Canary::new(Percentage::from_basis_points(b + 1).unwrap());
        assert!(!is_canary(&below, key) && is_canary(&above, key), "{key}");
    }
}

fn percentage() -> impl Strategy<Value = Percentage> {
    (0u16..=10_000).prop_map(|bp| Percentage::from_basis_points(bp).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Raising the percentage only moves keys from stable to canary.
    #[test]
    fn raising_the_percentage_never_moves_a_key_back(
        key in "\\PC{0,40}",
        a in percentage(),
        b in percentage(),
    ) {
        let (low, high) = if a <= b { (a, b) } else { (b, a) };
        let canary = Canary::new(low);
        let before = is_canary(&canary, &key);
        canary.set_percentage(high);
        let after = is_canary(&canary, &key);
        prop_assert!(!before || after, "{key:?} left the canary going {low} -> {high}");
    }

    /// The same key gets the same tier: repeatedly, from a clone, and from a fresh canary
    /// (another process) at the same percentage.
    #[test]
    fn assignment_is_sticky(key in "\\PC{0,40}", p in percentage()) {
        let canary = Canary::new(p);
        let first = canary.decide(&RouteRequest::new().key(&key));
        for _ in 0..3 {
            prop_assert_eq!(&canary.decide(&RouteRequest::new().key(&key)), &first);
        }
        prop_assert_eq!(&canary.clone().decide(&RouteRequest::new().key(&key)), &first);
        prop_assert_eq!(&Canary::new(p).decide(&RouteRequest::new().key(&key)), &first);
    }

    /// Percentages parse exactly from their display form.
    #[test]
    fn percentage_text_round_trips(p in percentage()) {
        let text = p.to_string();
        prop_assert_eq!(text.parse::<Percentage>().unwrap(), p);
    }
}
