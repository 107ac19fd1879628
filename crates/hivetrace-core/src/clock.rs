//! Time that decides behaviour (windows, cooldowns, rollout steps), injectable so tests never sleep.
//!
//! hivetrace's crates that judge time (the circuit breaker's windows and open durations, retry
//! backoff, rollout dwell times, metrics windows) read it through [`Clock`]. Production code
//! uses [`SystemClock`]; tests use [`ManualClock`] and move time by hand, so a test of a
//! five-minute window runs in microseconds.
//!
//! ```
//! use std::time::Duration;
//! use hivetrace_core::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::new();
//! let start = clock.now_nanos();
//! clock.advance(Duration::from_secs(30));
//! assert_eq!(clock.now_nanos() - start, 30_000_000_000);
//! ```

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of time: monotonic nanoseconds for measuring, and wall time for dates.
///
/// [`SystemClock`] in production; [`ManualClock`] in tests.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since the clock's origin; does not go backwards, up to the cores' counter
    /// skew described at [`SystemClock`].
    fn now_nanos(&self) -> u64;

    /// The wall-clock time, for dates that come from outside (an HTTP `Retry-After` date).
    fn wall_time(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_nanos(&self) -> u64 {
        (**self).now_nanos()
    }

    fn wall_time(&self) -> SystemTime {
        (**self).wall_time()
    }
}

/// The real clock: monotonic time from the CPU's invariant counter (or the OS clock), wall
/// time from [`SystemTime`].
///
/// Monotonic time is read through [`quanta`]: where the CPU has an invariant time-stamp counter
/// (x86-64 with invariant TSC and `rdtscp`, and AArch64) it is read in user space and scaled
/// to nanoseconds, about half the cost of [`Instant::now`](std::time::Instant::now) and cheap
/// enough for a check on every request; elsewhere it is the OS monotonic clock. The counter is
/// calibrated against the OS clock once per process, when the first clock is made (usually
/// under a millisecond, 200 ms at most).
///
/// Where the cores' counters are synchronised (the OS checks this before using the counter as
/// its own clock) reads never go backwards. Elsewhere a read on another core, or after the
/// thread moves, can be behind the last by the skew; every user of the clock here compares or
/// saturates rather than subtracting, so such a read only delays a decision.
#[derive(Clone, Debug)]
pub struct SystemClock {
    clock: quanta::Clock,
    /// The raw reading at creation: the origin.
    origin: u64,
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let origin = clock.raw();
        SystemClock { clock, origin }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        // Zero for a reading before the origin (another core's skew), never a wrap.
        self.clock.delta_as_nanos(self.origin, self.clock.raw())
    }
}

/// A clock that moves only when told to; clones share one time.
///
/// Its wall time starts at a fixed date (2026-01-01T00:00:00Z) and moves with it, so dates
/// in tests are deterministic too.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use hivetrace_core::clock::{Clock, ManualClock};
///
/// let clock = ManualClock::new();
/// let wall = clock.wall_time();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now_nanos(), 1_500_000_000);
/// assert_eq!(clock.wall_time().duration_since(wall).unwrap(), Duration::from_millis(1500));
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

/// Where a [`ManualClock`]'s wall time starts: 2026-01-01T00:00:00Z.
pub const MANUAL_CLOCK_EPOCH_SECS: u64 = 1_767_225_600;

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // Saturating: a test that advances by Duration::MAX must not wrap to the past.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Time since the clock's origin.
    pub fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }

    fn wall_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(MANUAL_CLOCK_EPOCH_SECS) + self.elapsed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time_and_saturate() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_secs(2));
        assert_eq!(b.now_nanos(), 2_000_000_000);
        b.advance(Duration::MAX);
        assert_eq!(a.now_nanos(), u64::MAX);
    }

    #[test]
    fn system_clock_counts_nanoseconds_not_counter_ticks() {
        let clock = SystemClock::new();
        let (start, wall) = (clock.now_nanos(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (end, wall) = (clock.now_nanos(), wall.elapsed());
        let measured = Duration::from_nanos(end - start);
        // Unscaled counter ticks would read several times the OS clock's time; a wrong scale,
        // a fraction of it. Generous bounds: a descheduled thread only stretches both readings.
        assert!(measured >= wall / 2, "{measured:?} against {wall:?}");
        assert!(measured <= wall * 2, "{measured:?} against {wall:?}");
    }

    #[test]
    fn system_clock_is_monotonic_and_shared_through_arc() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
        let first = clock.now_nanos();
        let second = clock.now_nanos();
        assert!(second >= first);
        assert!(clock.wall_time() > UNIX_EPOCH);
    }
}
