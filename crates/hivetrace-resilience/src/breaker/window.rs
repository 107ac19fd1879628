//! Sliding windows of call outcomes, updated with atomics only.
//!
//! Counts are packed into one `u64`: three 21-bit fields (calls, failures, slow calls), so
//! recording an outcome updates all three with a single `fetch_add`.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

/// Outcome codes stored in the count window's slots; 0 is an empty slot.
pub(crate) const RECORDED: u8 = 1;
pub(crate) const FAILED: u8 = 2;
pub(crate) const SLOW: u8 = 4;

const FIELD_BITS: u32 = 21;
const FIELD_MASK: u64 = (1 << FIELD_BITS) - 1;
/// Each field of the count window's total starts at `BIAS`: concurrent updates applied out
/// of order can take a field briefly below its true value, never below zero.
const BIAS: u64 = 1 << (FIELD_BITS - 1);
const BIASED_ZERO: u64 = BIAS | (BIAS << FIELD_BITS) | (BIAS << (2 * FIELD_BITS));

/// The most half-open trial calls: the trials' counts use the same fields, unbiased.
pub(crate) const MAX_HALF_OPEN_PERMITS: u32 = FIELD_MASK as u32;

/// The largest count window: a field of the biased total must stay below `2 * BIAS`.
pub(crate) const MAX_COUNT_WINDOW: u32 = (BIAS - 1024) as u32;

/// Calls, failures and slow calls in a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) calls: u32,
    pub(crate) failures: u32,
    pub(crate) slow: u32,
}

impl Counts {
    fn add(self, other: Counts) -> Counts {
        Counts {
            calls: self.calls.saturating_add(other.calls),
            failures: self.failures.saturating_add(other.failures),
            slow: self.slow.saturating_add(other.slow),
        }
    }
}

#[inline]
pub(crate) const fn pack(code: u8) -> u64 {
    (code & RECORDED) as u64
        | ((((code & FAILED) >> 1) as u64) << FIELD_BITS)
        | ((((code & SLOW) >> 2) as u64) << (2 * FIELD_BITS))
}

#[inline]
pub(crate) fn unpack(word: u64) -> Counts {
    Counts {
        calls: (word & FIELD_MASK) as u32,
        failures: ((word >> FIELD_BITS) & FIELD_MASK) as u32,
        slow: ((word >> (2 * FIELD_BITS)) & FIELD_MASK) as u32,
    }
}

#[inline]
fn unpack_biased(word: u64) -> Counts {
    let field = |shift: u32| (((word >> shift) & FIELD_MASK).saturating_sub(BIAS)) as u32;
    Counts {
        calls: field(0),
        failures: field(FIELD_BITS),
        slow: field(2 * FIELD_BITS),
    }
}

/// The last `size` outcomes: a ring of one-byte slots and a running packed total.
pub(crate) struct CountWindow {
    cursor: CachePadded<AtomicU64>,
    total: CachePadded<AtomicU64>,
    slots: Box<[AtomicU8]>,
    /// Lemire's constant for `cursor % slots.len()` without a division.
    fastmod: u64,
    /// The total when every slot holds a plain success.
    all_successes: u64,
}

impl CountWindow {
    pub(crate) fn new(size: u32) -> Self {
        CountWindow {
            cursor: CachePadded::new(AtomicU64::new(0)),
            total: CachePadded::new(AtomicU64::new(BIASED_ZERO)),
            slots: (0..size.max(1)).map(|_| AtomicU8::new(0)).collect(),
            fastmod: (u64::MAX / u64::from(size.max(1))).wrapping_add(1),
            all_successes: BIASED_ZERO + u64::from(size.max(1)),
        }
    }

    #[inline]
    fn slot(&self, cursor: u64) -> usize {
        // The cursor's low 32 bits (a wrap every 4 billion calls only shifts the ring).
        let low = self.fastmod.wrapping_mul(u64::from(cursor as u32));
        ((u128::from(low) * self.slots.len() as u128) >> 64) as usize
    }

    /// Records one outcome; returns the window's counts just after it, or `None` when they
    /// did not change (the outcome replaced an equal one: the common case of a healthy
    /// dependency: no write at all when the window holds only successes).
    #[inline]
    pub(crate) fn record(&self, code: u8) -> Option<Counts> {
        // A window full of successes is the same whichever success a new one replaces, and
        // leaving the cursor where it is keeps the order of later evictions: nothing to write.
        if code == RECORDED && self.total.load(Ordering::Relaxed) == self.all_successes {
            return None;
        }
        let slot = &self.slots[self.slot(self.cursor.fetch_add(1, Ordering::Relaxed))];
        // Replacing an outcome with an equal one changes nothing: skip the write.
        if slot.load(Ordering::Relaxed) == code {
            return None;
        }
        let old = slot.swap(code, Ordering::Relaxed);
        if old == code {
            return None;
        }
        let delta = pack(code).wrapping_sub(pack(old));
        let after = self
            .total
            .fetch_add(delta, Ordering::Relaxed)
            .wrapping_add(delta);
        Some(unpack_biased(after))
    }

    pub(crate) fn counts(&self) -> Counts {
        unpack_biased(self.total.load(Ordering::Relaxed))
    }

    /// Outcomes written since the window was created.
    #[cfg(test)]
    fn recorded(&self) -> u64 {
        self.cursor.load(Ordering::Relaxed)
    }

    pub(crate) fn clear(&self) {
        for slot in self.slots.iter() {
            let old = slot.swap(0, Ordering::Relaxed);
            if old != 0 {
                self.total.fetch_sub(pack(old), Ordering::Relaxed);
            }
        }
    }
}

/// Marks a bucket whose tag is being moved to a new epoch.
const ROTATING: u64 = 1 << 63;

struct Bucket {
    /// The epoch (bucket number since the clock's origin, plus one) the counts belong to.
    tag: AtomicU64,
    counts: AtomicU64,
}

/// Outcomes of the last `length` of time, in `buckets` buckets.
pub(crate) struct TimeWindow {
    bucket_nanos: u64,
    buckets: Box<[CachePadded<Bucket>]>,
}

impl TimeWindow {
    pub(crate) fn new(bucket_nanos: u64, buckets: u32) -> Self {
        TimeWindow {
            bucket_nanos: bucket_nanos.max(1),
            buckets: (0..buckets.max(1))
                .map(|_| {
                    CachePadded::new(Bucket {
                        tag: AtomicU64::new(0),
                        counts: AtomicU64::new(0),
                    })
                })
                .collect(),
        }
    }

    fn epoch(&self, now_nanos: u64) -> u64 {
        now_nanos / self.bucket_nanos + 1
    }

    /// Records one outcome at `now_nanos`.
    pub(crate) fn record(&self, code: u8, now_nanos: u64) {
        let epoch = self.epoch(now_nanos);
        let bucket = &self.buckets[(epoch % self.buckets.len() as u64) as usize];
        loop {
            let tag = bucket.tag.load(Ordering::Acquire);
            if tag == epoch {
                bucket.counts.fetch_add(pack(code), Ordering::Relaxed);
                break;
            }
            if tag & ROTATING != 0 {
                // Another thread is between two stores: it is about to publish the new epoch.
                std::hint::spin_loop();
                continue;
            }
            if tag > epoch {
                // This thread read the clock before a bucket moved past its epoch: the
                // outcome belongs to time the window no longer covers.
                break;
            }
            if bucket
                .tag
                .compare_exchange(tag, epoch | ROTATING, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                bucket.counts.store(pack(code), Ordering::Relaxed);
                bucket.tag.store(epoch, Ordering::Release);
                break;
            }
        }
    }

    pub(crate) fn counts(&self, now_nanos: u64) -> Counts {
        let epoch = self.epoch(now_nanos);
        let oldest = epoch.saturating_sub(self.buckets.len() as u64 - 1);
        self.buckets
            .iter()
            .filter_map(|b| {
                let tag = b.tag.load(Ordering::Acquire);
                (tag & ROTATING == 0 && tag >= oldest && tag <= epoch)
                    .then(|| unpack(b.counts.load(Ordering::Relaxed)))
            })
            .fold(Counts::default(), Counts::add)
    }

    pub(crate) fn clear(&self) {
        for b in self.buckets.iter() {
            // Tag 0 is older than every epoch: the bucket counts as empty.
            b.tag.store(0, Ordering::Release);
            b.counts.store(0, Ordering::Relaxed);
        }
    }
}

/// One of the two windows.
#[allow(
    clippy::large_enum_variant,
    reason = "built once per breaker, inside its Arc; boxing would add a pointer chase to the hot path"
)]
pub(crate) enum Window {
    Count(CountWindow),
    Time(TimeWindow),
}

impl Window {
    pub(crate) fn counts(&self, now_nanos: u64) -> Counts {
        match self {
            Window::Count(w) => w.counts(),
            Window::Time(w) => w.counts(now_nanos),
        }
    }

    pub(crate) fn clear(&self) {
        match self {
            Window::Count(w) => w.clear(),
            Window::Time(w) => w.clear(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_window_forgets_the_oldest_outcome() {
        let w = CountWindow::new(3);
        w.record(RECORDED | FAILED);
        w.record(RECORDED | SLOW);
        let c = w.record(RECORDED).expect("changed");
        assert_eq!((c.calls, c.failures, c.slow), (3, 1, 1));
        // The failure falls out of the window.
        let c = w.record(RECORDED).expect("changed");
        assert_eq!((c.calls, c.failures, c.slow), (3, 0, 1));
        let c = w.record(RECORDED).expect("changed");
        assert_eq!((c.calls, c.failures, c.slow), (3, 0, 0));
        assert_eq!(w.record(RECORDED), None, "a success replacing a success");
        let cursor = w.recorded();
        assert_eq!(w.record(RECORDED), None);
        assert_eq!(
            w.recorded(),
            cursor,
            "a window of successes is not written at all"
        );
        w.record(RECORDED | FAILED);
        // The failure leaves after exactly `size` more outcomes.
        assert_eq!(w.counts().failures, 1);
        w.record(RECORDED);
        w.record(RECORDED);
        assert_eq!(w.counts().failures, 1);
        w.record(RECORDED);
        assert_eq!(w.counts().failures, 0);
        w.clear();
        assert_eq!(w.counts(), Counts::default());
    }

    #[test]
    fn the_ring_visits_every_slot_in_order() {
        for size in [1u32, 3, 7, 100, 1000] {
            let w = CountWindow::new(size);
            let slots: Vec<usize> = (0..u64::from(size) * 2).map(|c| w.slot(c)).collect();
            let expected: Vec<usize> = (0..size as usize * 2).map(|c| c % size as usize).collect();
            assert_eq!(slots, expected, "size {size}");
        }
    }

    #[test]
    fn count_window_totals_stay_exact_under_threads() {
        let w = std::sync::Arc::new(CountWindow::new(64));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let w = std::sync::Arc::clone(&w);
                std::thread::spawn(move || {
                    for i in 0..10_000u32 {
                        let failed = (i + t) % 3 == 0;
                        w.record(if failed { RECORDED | FAILED } else { RECORDED });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("recording thread");
        }
        let expected_failures = w
            .slots
            .iter()
            .filter(|s| s.load(Ordering::Relaxed) & FAILED != 0)
            .count() as u32;
        let c = w.counts();
        assert_eq!(c.calls, 64);
        assert_eq!(c.failures, expected_failures);
    }

    #[test]
    fn time_window_drops_buckets_that_age_out() {
        let second = 1_000_000_000;
        let w = TimeWindow::new(second, 3); // a 3 s window
        w.record(RECORDED | FAILED, 0);
        w.record(RECORDED, second);
        w.record(RECORDED, 2 * second + 5);
        let c = w.counts(2 * second + 5);
        assert_eq!((c.calls, c.failures), (3, 1));
        // At 3 s the first bucket (0..1 s) is out of the window.
        assert_eq!(w.counts(3 * second).calls, 2);
        // Its slot is reused for the new epoch, starting from zero.
        w.record(RECORDED | SLOW, 3 * second);
        let c = w.counts(3 * second);
        assert_eq!((c.calls, c.failures, c.slow), (3, 0, 1));
        assert_eq!(w.counts(10 * second), Counts::default());
        w.clear();
        assert_eq!(w.counts(3 * second), Counts::default());
    }

    #[test]
    fn late_outcomes_for_a_reused_bucket_are_not_counted_in_the_new_epoch() {
        let w = TimeWindow::new(10, 2);
        w.record(RECORDED, 40); // epoch 5, bucket 1
        w.record(RECORDED | FAILED, 20); // epoch 3, same bucket: stale
        assert_eq!(w.counts(40).failures, 0);
    }
}
