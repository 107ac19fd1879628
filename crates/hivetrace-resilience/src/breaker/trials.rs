//! The half-open state's trial permits, each tied to the half-open period it was taken in.
//!
//! One word holds `(period << 32) | permits in use`, changed by compare-and-swap only when
//! its period is the caller's: a permit taken or given back late, for a period that is over,
//! cannot take or free a slot of the next one.

use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_utils::CachePadded;

const COUNT_MASK: u64 = 0xffff_ffff;

/// The half-open period a state word belongs to: the low 32 bits of its generation (a
/// permit would have to outlive 2^32 transitions to be mistaken for a current one).
#[inline]
const fn period_of(word: u64) -> u64 {
    (word >> 8) & COUNT_MASK
}

/// What asking for a trial permit found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Take {
    /// A slot of the period is now the caller's.
    Taken,
    /// Every slot of the period is in use.
    Full,
    /// The caller's period is over: another has started since.
    Ended,
}

/// The trial permits in use in the current (or last) half-open period.
#[derive(Debug)]
pub(crate) struct TrialSlots(CachePadded<AtomicU64>);

impl TrialSlots {
    pub(crate) fn new() -> Self {
        TrialSlots(CachePadded::new(AtomicU64::new(0)))
    }

    /// Starts the period of the state word `word` with every slot free. Called before the
    /// word is published, so a caller that sees the word finds its period here.
    pub(crate) fn start(&self, word: u64) {
        self.0.store(period_of(word) << 32, Ordering::Release);
    }

    /// Takes one of `permits` slots of `word`'s period.
    pub(crate) fn take(&self, word: u64, permits: u32) -> Take {
        let period = period_of(word);
        let mut slots = self.0.load(Ordering::Acquire);
        loop {
            if slots >> 32 != period {
                return Take::Ended;
            }
            if slots & COUNT_MASK >= u64::from(permits) {
                return Take::Full;
            }
            match self.0.compare_exchange_weak(
                slots,
                slots + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Take::Taken,
                Err(now) => slots = now,
            }
        }
    }

    /// Gives a slot taken in `word`'s period back, if that period is still the current one.
    pub(crate) fn give_back(&self, word: u64) {
        let period = period_of(word);
        let _ = self
            .0
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |slots| {
                (slots >> 32 == period && slots & COUNT_MASK > 0).then(|| slots - 1)
            });
    }

    /// The slots in use, whatever the period.
    #[cfg(test)]
    fn in_use(&self) -> u64 {
        self.0.load(Ordering::Acquire) & COUNT_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::{Take, TrialSlots};

    /// The state word of generation `g` (the state code does not matter here).
    fn word(g: u64) -> u64 {
        (g << 8) | 2
    }

    #[test]
    fn slots_are_bounded_and_come_back() {
        let slots = TrialSlots::new();
        slots.start(word(1));
        assert_eq!(slots.take(word(1), 2), Take::Taken);
        assert_eq!(slots.take(word(1), 2), Take::Taken);
        assert_eq!(slots.take(word(1), 2), Take::Full);
        slots.give_back(word(1));
        assert_eq!(slots.take(word(1), 2), Take::Taken);
    }

    #[test]
    fn a_late_caller_of_an_ended_period_neither_takes_nor_frees_a_slot() {
        let slots = TrialSlots::new();
        slots.start(word(1));
        assert_eq!(slots.take(word(1), 1), Take::Taken);
        slots.start(word(3));
        assert_eq!(slots.take(word(1), 1), Take::Ended);
        assert_eq!(slots.take(word(3), 1), Take::Taken);
        slots.give_back(word(1));
        assert_eq!(slots.in_use(), 1, "the old permit freed nothing");
        slots.give_back(word(3));
        slots.give_back(word(3));
        assert_eq!(slots.in_use(), 0, "never below zero");
    }

    #[test]
    fn periods_are_told_apart_across_the_generations_high_bits() {
        let slots = TrialSlots::new();
        slots.start(word(u64::from(u32::MAX)));
        assert_eq!(slots.take(word(1 << 32), 1), Take::Ended);
        assert_eq!(slots.take(word(u64::from(u32::MAX)), 1), Take::Taken);
    }
}
