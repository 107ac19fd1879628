//! A lock-free latency histogram with log-linear buckets (at most 12.5 % relative error).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Sub-buckets per power of two: 8, so a bucket spans at most 1/8 of its lower bound.
const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
/// Latencies are kept in microseconds up to 2^37 µs (about 38 hours); longer ones are clamped.
const MAX_MSB: u32 = 37;
const BUCKETS: usize = (SUB + (MAX_MSB - SUB_BITS + 1) as u64 * SUB) as usize;

/// Counts of latencies by bucket.
#[derive(Debug)]
pub(crate) struct LatencyHistogram {
    counts: Box<[AtomicU64]>,
}

impl LatencyHistogram {
    pub(crate) fn new() -> Self {
        LatencyHistogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn record(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.counts[index(micros)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// The upper bound of the bucket holding the `q` quantile (0 < q <= 1); `None` when empty.
    pub(crate) fn quantile(&self, q: f64) -> Option<Duration> {
        let counts: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(Duration::from_micros(upper_bound(i)));
            }
        }
        None
    }
}

fn index(micros: u64) -> usize {
    let v = micros.min((1 << (MAX_MSB + 1)) - 1);
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let sub = (v >> (msb - SUB_BITS)) & (SUB - 1);
    (SUB + u64::from(msb - SUB_BITS) * SUB + sub) as usize
}

fn upper_bound(index: usize) -> u64 {
    let i = index as u64;
    if i < SUB {
        return i;
    }
    let shift = (i - SUB) / SUB;
    let sub = (i - SUB) % SUB;
    ((SUB + sub + 1) << shift) - 1
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_bounded() {
        for v in [
            0u64,
            1,
            7,
            8,
            9,
            15,
            16,
            17,
            100,
            1_000,
            123_456,
            1 << 37,
            (1 << 38) - 1,
        ] {
            let i = index(v);
            assert!(i < BUCKETS);
            let ub = upper_bound(i);
            assert!(ub >= v, "{v}: {ub}");
            if i > 0 {
                assert!(upper_bound(i - 1) < v, "{v}");
            }
            // Relative error at most 1/8.
            assert!((ub - v) as f64 <= v as f64 / 8.0 + 1.0, "{v}: {ub}");
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn quantiles_are_within_the_bucket_error() {
        let h = LatencyHistogram::new();
        assert_eq!(h.quantile(0.95), None);
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let p95 = h.quantile(0.95).unwrap().as_micros() as f64;
        assert!((95_000.0..=95_000.0 * 1.125).contains(&p95), "{p95}");
        h.reset();
        assert_eq!(h.quantile(0.5), None);
    }
}
