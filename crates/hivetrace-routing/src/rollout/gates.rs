//! The gates a rollout step must pass: error rate, p95 latency, enough observations.

use std::fmt;

use crate::error::{Error, Result};
use crate::rollout::health::HealthReport;

/// The conditions under which the canary is judged healthy compared with stable.
///
/// Judged only once both tiers have at least `min_observations` requests in the window
/// (before that the plan holds). Then the canary fails when its error rate is above
/// `max_error_rate`, or above stable's by more than `max_error_rate_increase`, or when its p95
/// latency is above stable's times `max_p95_ratio`.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_routing::rollout::{Gates, HealthReport, TierHealth, Verdict};
///
/// let gates = Gates::new().max_error_rate(0.02)?.min_observations(100);
/// let ok = TierHealth { requests: 100, errors: 1, p95_latency: Some(Duration::from_millis(100)) };
/// let bad = TierHealth { errors: 9, ..ok };
/// assert_eq!(gates.judge(&HealthReport { canary: ok, stable: ok }), Verdict::Pass);
/// assert!(matches!(gates.judge(&HealthReport { canary: bad, stable: ok }), Verdict::Fail(_)));
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gates {
    max_error_rate: f64,
    max_error_rate_increase: f64,
    max_p95_ratio: f64,
    min_observations: u64,
}

impl Default for Gates {
    /// Error rate at most 5 %, and at most 1 point above stable's; p95 at most 1.5 × stable's;
    /// 100 observations per tier.
    fn default() -> Self {
        Gates {
            max_error_rate: 0.05,
            max_error_rate_increase: 0.01,
            max_p95_ratio: 1.5,
            min_observations: 100,
        }
    }
}

/// What the gates concluded.
///
/// ```
/// use hivetrace_routing::rollout::{Gates, HealthReport, Verdict};
///
/// let v = Gates::new().judge(&HealthReport::default());
/// assert_eq!(v, Verdict::Insufficient { canary: 0, stable: 0, needed: 100 });
/// assert!(v.to_string().starts_with("waiting for data"));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Every gate passed.
    Pass,
    /// Not enough observations to judge.
    Insufficient {
        /// Canary requests in the window.
        canary: u64,
        /// Stable requests in the window.
        stable: u64,
        /// Requests needed per tier.
        needed: u64,
    },
    /// A gate failed; the text says which, with the figures.
    Fail(String),
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Pass => f.write_str("gates passed"),
            Verdict::Insufficient {
                canary,
                stable,
                needed,
            } => write!(
                f,
                "waiting for data: {canary} canary and {stable} stable requests, {needed} needed each"
            ),
            Verdict::Fail(reason) => f.write_str(reason),
        }
    }
}

/// `value > limit`, not counting a difference of floating-point rounding: a canary exactly at
/// a limit passes it (7 % is one point above 6 %, though `0.07 - 0.06 > 0.01` in `f64`; 910 ms
/// is 1.3 x 700 ms, though `0.7 * 1.3 < 0.91`). The tolerance, a millionth of a millionth of
/// the limit, is far below any difference that counts of requests can make.
fn above(value: f64, limit: f64) -> bool {
    value > limit + limit.abs().max(1.0) * 1e-12
}

fn fraction(setting: &'static str, value: f64) -> Result<f64> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(Error::invalid(
            setting,
            value.to_string(),
            "expected a fraction from 0 to 1",
        ))
    }
}

impl Gates {
    /// The default gates.
    pub fn new() -> Self {
        Self::default()
    }

    /// The canary's highest error rate, 0 to 1.
    pub fn max_error_rate(mut self, rate: f64) -> Result<Self> {
        self.max_error_rate = fraction("max_error_rate", rate)?;
        Ok(self)
    }

    /// How far the canary's error rate may exceed stable's, 0 to 1 (0.01 = one point).
    pub fn max_error_rate_increase(mut self, increase: f64) -> Result<Self> {
        self.max_error_rate_increase = fraction("max_error_rate_increase", increase)?;
        Ok(self)
    }

    /// The highest ratio of canary p95 latency to stable p95 latency, at least 1.
    pub fn max_p95_ratio(mut self, ratio: f64) -> Result<Self> {
        if !(ratio >= 1.0 && ratio.is_finite()) {
            return Err(Error::invalid(
                "max_p95_ratio",
                ratio.to_string(),
                "expected a finite ratio of at least 1",
            ));
        }
        self.max_p95_ratio = ratio;
        Ok(self)
    }

    /// Requests needed in each tier before judging; at least 1.
    #[must_use]
    pub fn min_observations(mut self, n: u64) -> Self {
        self.min_observations = n.max(1);
        self
    }

    /// Judges a report.
    pub fn judge(&self, report: &HealthReport) -> Verdict {
        let (canary, stable) = (&report.canary, &report.stable);
        if canary.requests < self.min_observations || stable.requests < self.min_observations {
            return Verdict::Insufficient {
                canary: canary.requests,
                stable: stable.requests,
                needed: self.min_observations,
            };
        }
        let (c, s) = (canary.error_rate(), stable.error_rate());
        if above(c, self.max_error_rate) {
            return Verdict::Fail(format!(
                "canary error rate {:.2}% is above the {:.2}% limit",
                c * 100.0,
                self.max_error_rate * 100.0
            ));
        }
        if above(c - s, self.max_error_rate_increase) {
            return Verdict::Fail(format!(
                "canary error rate {:.2}% exceeds stable's {:.2}% by more than {:.2} points",
                c * 100.0,
                s * 100.0,
                self.max_error_rate_increase * 100.0
            ));
        }
        if let (Some(cp), Some(sp)) = (canary.p95_latency, stable.p95_latency)
            && above(cp.as_secs_f64(), sp.as_secs_f64() * self.max_p95_ratio)
        {
            return Verdict::Fail(format!(
                "canary p95 latency {cp:?} is above {:.2} x stable's {sp:?}",
                self.max_p95_ratio
            ));
        }
        Verdict::Pass
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::rollout::health::TierHealth;
    use std::time::Duration;

    fn tier(requests: u64, errors: u64, p95_ms: u64) -> TierHealth {
        TierHealth {
            requests,
            errors,
            p95_latency: Some(Duration::from_millis(p95_ms)),
        }
    }

    #[test]
    fn each_gate_fails_on_its_own() {
        let g = Gates::new();
        let judge = |c, s| {
            g.judge(&HealthReport {
                canary: c,
                stable: s,
            })
        };
        assert_eq!(judge(tier(100, 1, 100), tier(100, 1, 100)), Verdict::Pass);
        assert!(matches!(
            judge(tier(99, 0, 100), tier(500, 0, 100)),
            Verdict::Insufficient { canary: 99, .. }
        ));
        assert!(matches!(
            judge(tier(500, 0, 100), tier(99, 0, 100)),
            Verdict::Insufficient { .. }
        ));
        let Verdict::Fail(r) = judge(tier(100, 6, 100), tier(100, 6, 100)) else {
            panic!()
        };
        assert!(r.contains("6.00%") && r.contains("limit"), "{r}");
        let Verdict::Fail(r) = judge(tier(100, 3, 100), tier(100, 1, 100)) else {
            panic!()
        };
        assert!(r.contains("stable"), "{r}");
        assert_eq!(judge(tier(100, 2, 150), tier(100, 1, 100)), Verdict::Pass);
        let Verdict::Fail(r) = judge(tier(100, 0, 151), tier(100, 0, 100)) else {
            panic!()
        };
        assert!(r.contains("p95"), "{r}");
    }

    #[test]
    fn a_canary_exactly_at_a_limit_passes() {
        let g = Gates::new().max_error_rate(1.0).unwrap();
        let judge = |c, s| {
            g.judge(&HealthReport {
                canary: c,
                stable: s,
            })
        };
        // Exactly one point above stable's error rate is "at most one point above", though
        // 0.07 - 0.06 is 0.010000000000000009 in f64.
        for (canary, stable) in [(2, 1), (7, 6), (4, 3), (5, 4)] {
            assert_eq!(
                judge(tier(100, canary, 100), tier(100, stable, 100)),
                Verdict::Pass,
                "{canary}% against {stable}%"
            );
        }
        assert!(matches!(
            judge(tier(1000, 71, 100), tier(1000, 60, 100)),
            Verdict::Fail(_)
        ));
        // Exactly the p95 ratio: 910 ms against 700 ms at 1.3, though 0.7 * 1.3 < 0.91 in f64.
        let g = Gates::new().max_p95_ratio(1.3).unwrap();
        let v = g.judge(&HealthReport {
            canary: tier(100, 0, 910),
            stable: tier(100, 0, 700),
        });
        assert_eq!(v, Verdict::Pass);
        let v = g.judge(&HealthReport {
            canary: tier(100, 0, 911),
            stable: tier(100, 0, 700),
        });
        assert!(matches!(v, Verdict::Fail(_)), "{v:?}");
        // The default gates: 5 % is the limit and one point above stable's 4 %.
        let v = Gates::new().judge(&HealthReport {
            canary: tier(100, 5, 100),
            stable: tier(100, 4, 100),
        });
        assert_eq!(v, Verdict::Pass);
        // And exactly the error-rate limit.
        let g = Gates::new()
            .max_error_rate(0.07)
            .unwrap()
            .max_error_rate_increase(1.0)
            .unwrap();
        let v = g.judge(&HealthReport {
            canary: tier(100, 7, 100),
            stable: tier(100, 0, 100),
        });
        assert_eq!(v, Verdict::Pass);
    }

    #[test]
    fn settings_are_validated() {
        assert!(Gates::new().max_error_rate(1.5).is_err());
        assert!(Gates::new().max_error_rate_increase(-0.1).is_err());
        assert!(Gates::new().max_p95_ratio(0.9).is_err());
        assert!(Gates::new().max_p95_ratio(f64::NAN).is_err());
        assert_eq!(Gates::new().min_observations(0).min_observations, 1);
    }
}
