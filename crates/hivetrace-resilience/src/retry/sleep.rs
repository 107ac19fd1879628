//! Waiting between attempts, injectable so tests never really wait.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;

/// A boxed sleep.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Waits between retry attempts.
///
/// [`ThreadSleeper`] blocks the thread (for export threads and blocking code),
/// `TokioSleeper` (feature `tokio`) uses tokio's timer, [`ManualSleeper`] moves a
/// `ManualClock` instead of waiting, for tests.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::retry::{Sleep, Sleeper};
///
/// /// Never waits: for a caller that retries at once.
/// #[derive(Debug)]
/// struct NoWait;
/// impl Sleeper for NoWait {
///     fn sleep(&self, _delay: Duration) -> Sleep {
///         Box::pin(std::future::ready(()))
///     }
/// }
/// futures_executor::block_on(NoWait.sleep(Duration::from_secs(60)));
/// ```
pub trait Sleeper: Send + Sync + fmt::Debug + 'static {
    /// A future that completes after `delay`.
    fn sleep(&self, delay: Duration) -> Sleep;
}

/// Sleeps by blocking the calling thread: for code that runs on its own thread (an export
/// thread), never inside an async runtime's worker.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_resilience::retry::{Sleeper, ThreadSleeper};
/// futures_executor::block_on(ThreadSleeper.sleep(Duration::from_millis(1)));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, delay: Duration) -> Sleep {
        Box::pin(async move { std::thread::sleep(delay) })
    }
}

/// Sleeps on tokio's timer (feature `tokio`); needs a tokio runtime with time enabled.
#[cfg(feature = "tokio")]
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioSleeper;

#[cfg(feature = "tokio")]
impl Sleeper for TokioSleeper {
    fn sleep(&self, delay: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(delay))
    }
}

/// The default sleeper: tokio's timer inside a tokio runtime (feature `tokio`), otherwise
/// the blocking [`ThreadSleeper`].
pub(crate) fn default_sleeper() -> Arc<dyn Sleeper> {
    #[cfg(feature = "tokio")]
    if tokio::runtime::Handle::try_current().is_ok() {
        return Arc::new(TokioSleeper);
    }
    Arc::new(ThreadSleeper)
}

/// A sleeper for tests: instead of waiting it advances a `ManualClock` by the delay, at
/// once, and remembers every delay.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_core::clock::ManualClock;
/// use hivetrace_resilience::retry::{ManualSleeper, Sleeper};
///
/// let clock = ManualClock::new();
/// let sleeper = ManualSleeper::new(clock.clone());
/// futures_executor::block_on(sleeper.sleep(Duration::from_secs(5)));
/// assert_eq!(clock.elapsed(), Duration::from_secs(5));
/// assert_eq!(sleeper.slept(), [Duration::from_secs(5)]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualSleeper {
    clock: ManualClock,
    slept: Arc<Mutex<Vec<Duration>>>,
}

impl ManualSleeper {
    /// A sleeper that advances `clock`.
    pub fn new(clock: ManualClock) -> Self {
        ManualSleeper {
            clock,
            slept: Arc::default(),
        }
    }

    /// Every delay slept so far, in order.
    pub fn slept(&self) -> Vec<Duration> {
        self.slept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Sleeper for ManualSleeper {
    fn sleep(&self, delay: Duration) -> Sleep {
        self.clock.advance(delay);
        self.slept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(delay);
        Box::pin(std::future::ready(()))
    }
}
