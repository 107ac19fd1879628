//! How long to wait before each retry.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::error::{Error, Result};

/// How delays are randomised, so that clients that failed together do not retry together
/// (AWS's "Exponential Backoff and Jitter" names).
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::retry::{Backoff, Jitter};
/// let equal = Backoff::exponential(Duration::from_millis(100)).jitter(Jitter::Equal);
/// let first = equal.delays_seeded(1).next().unwrap_or_default();
/// assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Jitter {
    /// Exactly `initial * multiplier^n`, capped.
    None,
    /// Uniform in `[0, capped exponential]`.
    #[default]
    Full,
    /// Half the capped exponential, plus uniform in `[0, half]`.
    Equal,
    /// Uniform in `[initial, 3 * previous delay]`, capped: grows without the exponent.
    Decorrelated,
}

/// Exponential backoff with jitter, a cap per delay and an optional cap on total elapsed time.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::retry::{Backoff, Jitter};
///
/// let backoff = Backoff::exponential(Duration::from_millis(100))
///     .jitter(Jitter::None)
///     .max_delay(Duration::from_millis(500));
/// let delays: Vec<u64> = backoff.delays_seeded(7).take(5).map(|d| d.as_millis() as u64).collect();
/// assert_eq!(delays, [100, 200, 400, 500, 500]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub(crate) initial: Duration,
    pub(crate) multiplier: f64,
    pub(crate) max_delay: Duration,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) jitter: Jitter,
}

impl Default for Backoff {
    /// 100 ms doubling, full jitter, at most 10 s per delay.
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(100))
    }
}

impl Backoff {
    /// Delays starting at `initial`, doubling, with full jitter, at most 10 s each.
    pub fn exponential(initial: Duration) -> Self {
        Backoff {
            initial,
            multiplier: 2.0,
            max_delay: Duration::from_secs(10).max(initial),
            max_elapsed: None,
            jitter: Jitter::Full,
        }
    }

    /// The growth factor between delays (at least 1).
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// The longest single delay.
    pub fn max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// No retry starts once this much time has passed since the first attempt, and no delay
    /// runs past it.
    pub fn max_elapsed(mut self, max: Duration) -> Self {
        self.max_elapsed = Some(max);
        self
    }

    /// The jitter.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if !self.multiplier.is_finite() || self.multiplier < 1.0 {
            return Err(Error::invalid(
                "backoff multiplier",
                self.multiplier,
                "expected a finite number of at least 1",
            ));
        }
        if self.max_delay < self.initial {
            return Err(Error::invalid(
                "backoff max_delay",
                format!("{:?}", self.max_delay),
                "the cap must be at least the initial delay",
            ));
        }
        Ok(())
    }

    /// The delays before retry 1, 2, ..., randomised from the OS's entropy.
    pub fn delays(&self) -> Delays {
        Delays::new(*self, SmallRng::from_os_rng())
    }

    /// The delays, randomised from `seed`: the same seed gives the same delays.
    pub fn delays_seeded(&self, seed: u64) -> Delays {
        Delays::new(*self, SmallRng::seed_from_u64(seed))
    }
}

/// The sequence of delays of one [`Backoff`]: an endless iterator.
#[derive(Debug)]
pub struct Delays {
    backoff: Backoff,
    rng: SmallRng,
    retry: u32,
    previous: Duration,
}

impl Delays {
    fn new(backoff: Backoff, rng: SmallRng) -> Self {
        Delays {
            backoff,
            rng,
            retry: 0,
            previous: backoff.initial,
        }
    }
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let b = &self.backoff;
        let cap = b.max_delay.as_secs_f64();
        let base = b.initial.as_secs_f64();
        // Within [0, cap] whatever the settings: `delays` does not validate them, and a
        // negative growth factor would leave the jitter an empty range to sample from.
        let exp = (base * b.multiplier.powi(self.retry.min(1024) as i32))
            .min(cap)
            .max(0.0);
        let secs = match b.jitter {
            Jitter::None => exp,
            Jitter::Full => self.rng.random_range(0.0..=exp),
            Jitter::Equal => exp / 2.0 + self.rng.random_range(0.0..=exp / 2.0),
            Jitter::Decorrelated => {
                let high = (self.previous.as_secs_f64() * 3.0).max(base);
                self.rng.random_range(base..=high).min(cap)
            }
        };
        self.retry = self.retry.saturating_add(1);
        let delay = Duration::try_from_secs_f64(secs.max(0.0)).unwrap_or(b.max_delay);
        self.previous = delay;
        Some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(d: Duration) -> f64 {
        d.as_secs_f64() * 1000.0
    }

    #[test]
    fn full_jitter_stays_under_the_capped_exponential() {
        let b =
            Backoff::exponential(Duration::from_millis(10)).max_delay(Duration::from_millis(50));
        for (n, d) in b.delays_seeded(1).take(200).enumerate() {
            let bound = (10.0 * 2f64.powi(n as i32)).min(50.0);
            assert!(ms(d) <= bound + 1e-6, "retry {n}: {d:?} over {bound} ms");
        }
    }

    #[test]
    fn equal_jitter_keeps_at_least_half() {
        let b = Backoff::exponential(Duration::from_millis(100))
            .jitter(Jitter::Equal)
            .max_delay(Duration::from_secs(1));
        for (n, d) in b.delays_seeded(2).take(50).enumerate() {
            let exp = (100.0 * 2f64.powi(n as i32)).min(1000.0);
            assert!(
                ms(d) >= exp / 2.0 - 1e-6 && ms(d) <= exp + 1e-6,
                "{n}: {d:?}"
            );
        }
    }

    #[test]
    fn decorrelated_jitter_stays_between_initial_and_cap() {
        let b = Backoff::exponential(Duration::from_millis(10))
            .jitter(Jitter::Decorrelated)
            .max_delay(Duration::from_millis(300));
        let delays: Vec<Duration> = b.delays_seeded(3).take(100).collect();
        let mut previous = Duration::from_millis(10);
        for d in &delays {
            assert!(*d >= Duration::from_millis(10) && *d <= Duration::from_millis(300));
            assert!(ms(*d) <= ms(previous) * 3.0 + 1e-6);
            previous = *d;
        }
        assert!(
            delays.iter().any(|d| *d > Duration::from_millis(100)),
            "it grows"
        );
    }

    #[test]
    fn unvalidated_settings_give_delays_within_the_cap_without_a_panic() {
        // `delays` is public and does not validate: a shrinking or negative growth factor
        // must not make the jitter sample from an empty range.
        for multiplier in [-2.0, -0.5, f64::NEG_INFINITY, f64::NAN] {
            for jitter in [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
            ] {
                let b = Backoff::exponential(Duration::from_millis(100))
                    .multiplier(multiplier)
                    .jitter(jitter);
                for d in b.delays_seeded(4).take(5) {
                    assert!(d <= b.max_delay, "{multiplier} {jitter:?}: {d:?}");
                }
            }
        }
    }

    #[test]
    fn seeds_repeat_and_bad_settings_are_refused() {
        let b = Backoff::default();
        let a: Vec<_> = b.delays_seeded(9).take(5).collect();
        let c: Vec<_> = b.delays_seeded(9).take(5).collect();
        assert_eq!(a, c);
        assert!(Backoff::default().multiplier(0.5).validate().is_err());
        assert!(
            Backoff::exponential(Duration::from_secs(2))
                .max_delay(Duration::from_secs(1))
                .validate()
                .is_err()
        );
    }
}
