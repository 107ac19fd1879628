//! A retry budget: gRPC's retry throttling, so retries cannot multiply load in an outage.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Thousandths of a token, so fractional ratios stay integer.
const MILLI: u64 = 1000;

/// A token bucket shared by every call to one dependency (gRPC's retry throttling): each
/// failure takes a token, each success gives back `token_ratio`; retries are allowed only
/// while more than half the tokens remain. Clones share one bucket; lock-free.
///
/// ```
/// use hivetrace_resilience::retry::RetryBudget;
/// let budget = RetryBudget::new(4, 0.5)?;
/// assert!(budget.can_retry());
/// budget.on_failure();
/// budget.on_failure(); // 2 of 4 left: at the threshold, retries stop
/// assert!(!budget.can_retry());
/// budget.on_success();
/// budget.on_success(); // +1
/// assert!(budget.can_retry());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone)]
pub struct RetryBudget {
    inner: Arc<Bucket>,
}

struct Bucket {
    tokens: AtomicU64,
    max: u64,
    ratio: u64,
}

impl fmt::Debug for RetryBudget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryBudget")
            .field("tokens", &self.tokens())
            .field("max_tokens", &(self.inner.max / MILLI))
            .finish()
    }
}

impl RetryBudget {
    /// A full bucket of `max_tokens` (1..=1000, gRPC's limit); each success returns
    /// `token_ratio` (0 < ratio <= 1) of a token.
    pub fn new(max_tokens: u32, token_ratio: f64) -> Result<Self> {
        if max_tokens == 0 || max_tokens > 1000 {
            return Err(Error::invalid(
                "retry budget max_tokens",
                max_tokens,
                "expected 1 to 1000",
            ));
        }
        if !(token_ratio.is_finite() && token_ratio > 0.0 && token_ratio <= 1.0) {
            return Err(Error::invalid(
                "retry budget token_ratio",
                token_ratio,
                "expected above 0 and at most 1",
            ));
        }
        let max = u64::from(max_tokens) * MILLI;
        Ok(RetryBudget {
            inner: Arc::new(Bucket {
                tokens: AtomicU64::new(max),
                max,
                ratio: ((token_ratio * MILLI as f64).round() as u64).max(1),
            }),
        })
    }

    /// Whether a retry may start now.
    pub fn can_retry(&self) -> bool {
        self.inner.tokens.load(Ordering::Relaxed) * 2 > self.inner.max
    }

    /// A call failed: one token less.
    pub fn on_failure(&self) {
        let _ = self
            .inner
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(MILLI))
            });
    }

    /// A call succeeded: `token_ratio` more, up to the maximum.
    pub fn on_success(&self) {
        let (max, ratio) = (self.inner.max, self.inner.ratio);
        let _ = self
            .inner
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t < max).then(|| (t + ratio).min(max))
            });
    }

    /// The tokens left.
    pub fn tokens(&self) -> f64 {
        self.inner.tokens.load(Ordering::Relaxed) as f64 / MILLI as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_leave_their_bounds() {
        let b = RetryBudget::new(2, 1.0).expect("valid");
        for _ in 0..5 {
            b.on_failure();
        }
        assert_eq!(b.tokens(), 0.0);
        for _ in 0..5 {
            b.on_success();
        }
        assert_eq!(b.tokens(), 2.0);
        assert!(RetryBudget::new(0, 0.1).is_err());
        assert!(RetryBudget::new(10, 0.0).is_err());
        assert!(RetryBudget::new(10, f64::NAN).is_err());
    }
}
