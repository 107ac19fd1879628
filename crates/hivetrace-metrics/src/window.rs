//! Latency sketches over the whole lifetime and over a recent window, with bounded memory.
//!
//! Each sketch is a DDSketch (`sketches-ddsketch`): logarithmic buckets whose quantiles are
//! within [`RELATIVE_ACCURACY`] (1%) of the exact value of the same rank, in at most
//! [`MAX_BINS`] buckets per sketch (past that the lowest buckets collapse, which only blurs
//! latencies more than 8 decades below the largest).
//!
//! The recent window is a ring of [`SLOTS`] sketches, one per `window / SLOTS` of time. A span
//! is added to the slot of its time only; a slot is merged into the lifetime sketch when it
//! is reused, so each span costs one sketch insertion and the lifetime view is the lifetime
//! sketch plus the live slots.

use sketches_ddsketch::{Config, DDSketch};

/// The relative accuracy of every quantile: 1%.
pub const RELATIVE_ACCURACY: f64 = 0.01;

/// The most buckets one sketch keeps.
pub const MAX_BINS: u32 = 1024;

/// The number of slots the recent window is made of.
pub const SLOTS: usize = 6;

/// The smallest latency told apart from zero: one nanosecond.
const MIN_VALUE: f64 = 1e-9;

const EMPTY: u64 = u64::MAX;

/// The configuration every sketch shares, so that any two merge.
pub(crate) fn sketch_config() -> Config {
    Config::new(RELATIVE_ACCURACY, MAX_BINS, MIN_VALUE)
}

/// A new empty sketch; allocates nothing until the first value.
pub(crate) fn new_sketch() -> DDSketch {
    DDSketch::new(sketch_config())
}

#[derive(Clone)]
struct Slot {
    epoch: u64,
    sketch: DDSketch,
}

/// A lifetime sketch and a ring of recent ones.
#[derive(Clone)]
pub(crate) struct WindowedSketch {
    expired: DDSketch,
    slots: [Slot; SLOTS],
}

impl std::fmt::Debug for WindowedSketch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowedSketch")
            .field("expired_count", &self.expired.count())
            .finish_non_exhaustive()
    }
}

impl Default for WindowedSketch {
    fn default() -> Self {
        WindowedSketch {
            expired: new_sketch(),
            slots: std::array::from_fn(|_| Slot {
                epoch: EMPTY,
                sketch: new_sketch(),
            }),
        }
    }
}

impl WindowedSketch {
    /// Adds `value` `count` times in the slot of `epoch` (time divided by the slot length).
    ///
    /// A value older than what its slot holds is either late (recorded a whole window or more
    /// behind the newest spans) or the slot holds values dated in the future (a clock ahead, a
    /// wall clock stepped back). `now` (the current epoch, read only then) tells them apart:
    /// a late value goes straight to the lifetime, as reusing the slot for it would push the
    /// newer spans out of the recent window; a slot from the future is retired to the
    /// lifetime and reused, or it would keep current spans out of the window until the clock
    /// caught up with it.
    #[inline]
    pub(crate) fn add(&mut self, epoch: u64, value: f64, count: u64, now: impl FnOnce() -> u64) {
        let slot = &mut self.slots[(epoch % SLOTS as u64) as usize];
        if slot.epoch != EMPTY && epoch < slot.epoch && slot.epoch <= now() {
            self.expired.add_with_count(value, count);
            return;
        }
        if slot.epoch != epoch {
            if slot.epoch != EMPTY {
                // Same configuration on both sides: merging cannot fail.
                let _ = self.expired.merge(&slot.sketch);
                slot.sketch = new_sketch();
            }
            slot.epoch = epoch;
        }
        slot.sketch.add_with_count(value, count);
    }

    /// Merges everything into `lifetime`, and the slots of the `SLOTS` epochs up to `epoch`
    /// into `recent`.
    pub(crate) fn merge_into(&self, epoch: u64, lifetime: &mut DDSketch, recent: &mut DDSketch) {
        let _ = lifetime.merge(&self.expired);
        for slot in &self.slots {
            if slot.epoch == EMPTY {
                continue;
            }
            let _ = lifetime.merge(&slot.sketch);
            if slot.epoch <= epoch && epoch - slot.epoch < SLOTS as u64 {
                let _ = recent.merge(&slot.sketch);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_slots_leave_the_window_but_stay_in_the_lifetime() {
        let mut w = WindowedSketch::default();
        w.add(0, 1.0, 10, || 0);
        w.add(3, 2.0, 5, || 3);
        // Epoch 6 reuses slot 0: the ten values of epoch 0 move to the expired sketch.
        w.add(6, 3.0, 1, || 6);
        let (mut life, mut recent) = (new_sketch(), new_sketch());
        w.merge_into(6, &mut life, &mut recent);
        assert_eq!(life.count(), 16);
        assert_eq!(recent.count(), 6);

        // Much later, nothing is recent.
        let (mut life, mut recent) = (new_sketch(), new_sketch());
        w.merge_into(100, &mut life, &mut recent);
        assert_eq!(life.count(), 16);
        assert_eq!(recent.count(), 0);
    }

    #[test]
    fn a_late_span_from_a_window_ago_does_not_evict_the_current_slot() {
        let mut w = WindowedSketch::default();
        w.add(12, 1.0, 100, || 12);
        // A span that ended a full window before (epoch 6 maps to slot 0, like 12), recorded
        // late: a replayed batch, an explicit end time.
        w.add(6, 2.0, 1, || 12);
        let (mut life, mut recent) = (new_sketch(), new_sketch());
        w.merge_into(12, &mut life, &mut recent);
        assert_eq!(life.count(), 101);
        assert_eq!(recent.count(), 100, "the current slot left the window");
        assert_eq!(recent.max(), Some(1.0));
    }

    #[test]
    fn a_slot_dated_in_the_future_is_retired_for_current_values() {
        let mut w = WindowedSketch::default();
        // Epoch 18 is ahead of the clock (now 6) and maps to slot 0, like 6.
        w.add(18, 2.0, 1, || 6);
        w.add(6, 1.0, 100, || 6);
        let (mut life, mut recent) = (new_sketch(), new_sketch());
        w.merge_into(6, &mut life, &mut recent);
        assert_eq!(life.count(), 101);
        assert_eq!(
            recent.count(),
            100,
            "the current values were kept out of the window"
        );
    }
}
