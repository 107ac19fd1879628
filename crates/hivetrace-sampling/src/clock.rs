//! Time for the samplers whose decisions depend on it, injectable so tests never sleep.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic clock, read as nanoseconds since an arbitrary origin.
///
/// [`SystemClock`] in production; [`ManualClock`] in tests, advanced by hand.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Nanoseconds since the clock's origin; does not go backwards, up to the cores' counter
    /// skew described at [`SystemClock`].
    fn now_nanos(&self) -> u64;
}

/// The real monotonic clock, made to be read on every sampling decision.
///
/// Where the CPU has an invariant time-stamp counter (x86-64 with invariant TSC and `rdtscp`,
/// and AArch64), the clock reads it in user space and scales it to nanoseconds: about half the
/// cost of [`Instant::now`](std::time::Instant::now), which goes through the OS clock. Elsewhere
/// it reads the OS monotonic clock. Both come from [`quanta`], which calibrates the counter
/// against the OS clock once per process, when the first `SystemClock` is made (usually under a
/// millisecond, 200 ms at most).
///
/// Where the cores' counters are synchronised (the OS checks this before using the counter as
/// its own clock) reads never go backwards. Elsewhere a read on another core, or after the
/// thread moves, can be behind the last by the skew; the samplers compare or take the maximum,
/// so such a read only delays a refill or a window's end.
///
/// ```
/// use hivetrace_sampling::clock::{Clock, SystemClock};
/// let clock = SystemClock::new();
/// let first = clock.now_nanos();
/// std::thread::sleep(std::time::Duration::from_millis(2));
/// assert!(clock.now_nanos() - first >= 1_000_000);
/// ```
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
/// ```
/// use std::time::Duration;
/// use hivetrace_sampling::clock::{Clock, ManualClock};
/// let clock = ManualClock::new();
/// clock.advance(Duration::from_millis(1500));
/// assert_eq!(clock.now_nanos(), 1_500_000_000);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at time zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward; it stops at `u64::MAX` nanoseconds rather than wrap to the past.
    pub fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        // `fetch_add` would wrap; the closure always returns `Some`, so this never fails.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
    }
}

impl Clock for ManualClock {
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn system_clock_counts_nanoseconds_not_counter_ticks() {
        let clock = SystemClock::new();
        let (start, wall) = (clock.now_nanos(), Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let (end, wall) = (clock.now_nanos(), wall.elapsed());
        let measured = Duration::from_nanos(end - start);
        // Unscaled TSC ticks would read several times the OS clock's time; a wrong scale, a
        // fraction of it. Generous bounds: a descheduled thread only stretches both readings.
        assert!(measured >= wall / 2, "{measured:?} against {wall:?}");
        assert!(measured <= wall * 2, "{measured:?} against {wall:?}");
    }

    #[test]
    fn manual_clock_stops_at_its_end_instead_of_wrapping() {
        let clock = ManualClock::new();
        clock.advance(Duration::from_secs(1));
        clock.advance(Duration::MAX);
        assert_eq!(clock.now_nanos(), u64::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now_nanos(), u64::MAX, "the clock went backwards");
    }

    #[test]
    fn system_clock_clones_share_the_origin() {
        let clock = SystemClock::new();
        std::thread::sleep(Duration::from_millis(2));
        let copy = clock.clone();
        assert!(copy.now_nanos() >= 1_000_000);
    }
}
