//! Retry with exponential backoff and jitter, server hints, a retry budget, and a record of
//! every attempt on the current span.
//!
//! ```
//! use std::time::Duration;
//! use hivetrace_core::clock::ManualClock;
//! use hivetrace_resilience::retry::{retry, Backoff, Jitter, ManualSleeper, RetryPolicy};
//!
//! let clock = ManualClock::new();
//! let sleeper = ManualSleeper::new(clock.clone());
//! let policy = RetryPolicy::new(3)?
//!     .backoff(Backoff::exponential(Duration::from_millis(100)).jitter(Jitter::None))
//!     .sleeper(sleeper.clone())
//!     .clock(clock);
//! let result: Result<(), &str> = futures_executor::block_on(retry(&policy, || async { Err("down") }));
//! assert_eq!(result, Err("down"));
//! assert_eq!(sleeper.slept(), [Duration::from_millis(100), Duration::from_millis(200)]);
//! # Ok::<(), hivetrace_resilience::Error>(())
//! ```

mod backoff;
mod budget;
mod policy;
mod run;
mod sleep;

pub use backoff::{Backoff, Delays, Jitter};
pub use budget::RetryBudget;
pub use policy::RetryPolicy;
pub(crate) use run::{Attempts, Next};
pub use run::{GiveUp, retry};
#[cfg(feature = "tokio")]
pub use sleep::TokioSleeper;
pub use sleep::{ManualSleeper, Sleep, Sleeper, ThreadSleeper};
