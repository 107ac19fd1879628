//! Building a resilient exporter.

use std::collections::VecDeque;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivetrace_core::clock::{Clock, SystemClock};
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::trace::SpanExporter;

use super::classify::classify_export_error;
use super::spool::{Spool, SpoolConfig};

/// The longest export deadline: `Instant + Duration::MAX` would overflow.
const MAX_DEADLINE: Duration = Duration::from_secs(24 * 60 * 60);
use super::stats::Counters;
use super::{ClassifyFn, Core, ResilientExporter, Shared};
use crate::breaker::{CircuitBreaker, SlidingWindow};
use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::retry::{Backoff, RetryPolicy, Sleeper, ThreadSleeper};

/// Builds a [`ResilientExporter`].
///
/// Defaults: a breaker over the last 10 exports that opens at 50 % failures from 3 exports
/// on, for 5 s growing ×2 up to 5 min, or for as long as a server's hint says; 3 attempts
/// per batch, backoff from 200 ms (full jitter, at most 5 s); a 10 s deadline per export; a
/// memory buffer of 8192 spans or 16 MiB; no spool (256 MiB cap and 8 MiB segments when on).
///
/// ```
/// use std::time::Duration;
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use hivetrace_resilience::exporter::ResilientExporter;
/// use hivetrace_resilience::retry::RetryPolicy;
///
/// let dir = tempfile::tempdir().map_err(|e| hivetrace_resilience::Error::Spool { path: ".".into(), source: e })?;
/// let exporter = ResilientExporter::builder(InMemorySpanExporter::default())
///     .retry(RetryPolicy::new(5)?)
///     .deadline(Duration::from_secs(3))
///     .buffer(1_000, 8 << 20)
///     .spool(dir.path())
///     .spool_limits(64 << 20, 4 << 20)
///     .build()?;
/// assert_eq!(exporter.stats().pending_spool_records, 0);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub struct ResilientExporterBuilder<E> {
    inner: E,
    breaker: Option<CircuitBreaker>,
    retry: Option<RetryPolicy>,
    sleeper: Option<Arc<dyn Sleeper>>,
    clock: Arc<dyn Clock>,
    classify: Box<ClassifyFn>,
    deadline: Duration,
    max_buffer_spans: usize,
    max_buffer_bytes: usize,
    spool: Option<SpoolConfig>,
    replay_every: Option<Duration>,
}

impl<E> fmt::Debug for ResilientExporterBuilder<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResilientExporterBuilder")
            .field("deadline", &self.deadline)
            .field("max_buffer_spans", &self.max_buffer_spans)
            .field("max_buffer_bytes", &self.max_buffer_bytes)
            .field("spool", &self.spool)
            .finish_non_exhaustive()
    }
}

impl<E: SpanExporter + 'static> ResilientExporterBuilder<E> {
    pub(super) fn new(inner: E) -> Self {
        ResilientExporterBuilder {
            inner,
            breaker: None,
            retry: None,
            sleeper: None,
            clock: Arc::new(SystemClock::new()),
            classify: Box::new(classify_export_error),
            deadline: Duration::from_secs(10),
            max_buffer_spans: 8192,
            max_buffer_bytes: 16 << 20,
            spool: None,
            replay_every: None,
        }
    }

    /// Also replays from a background thread every `interval` while something waits and the
    /// breaker would let a call through, so a recovered backend gets the backlog even when
    /// no new spans come. The thread ends at the first tick after the exporter and its
    /// handles are dropped.
    pub fn replay_every(mut self, interval: Duration) -> Self {
        self.replay_every = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// The breaker in front of the backend (its clock is its own).
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// The retry policy: attempts, backoff, hints cap, budget. Its classifier is not used:
    /// export errors are classified by [`classify`](Self::classify). Its sleeper waits
    /// between attempts unless [`sleeper`](Self::sleeper) is given.
    pub fn retry<C>(mut self, policy: RetryPolicy<C>) -> Self {
        self.retry = Some(policy.classify(crate::outcome::AnyError));
        self
    }

    /// How export errors are judged (default [`classify_export_error`]). Only a successful
    /// export counts as exported: a batch whose error is judged [`Outcome::Ignored`] (or a
    /// success) is neither retried nor kept, and counts as `dropped_not_retryable`.
    pub fn classify(
        mut self,
        classify: impl Fn(&OTelSdkError) -> Outcome + Send + Sync + 'static,
    ) -> Self {
        self.classify = Box::new(classify);
        self
    }

    /// How to wait between attempts (default: block the export thread).
    pub fn sleeper(mut self, sleeper: impl Sleeper) -> Self {
        self.sleeper = Some(Arc::new(sleeper));
        self
    }

    /// The clock of the default breaker and retry policy.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The most time one `export` call takes, replay and retries included. At most a day:
    /// a longer value is taken as a day.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline.min(MAX_DEADLINE);
        self
    }

    /// Bounds of the memory buffer: spans and estimated bytes.
    pub fn buffer(mut self, max_spans: usize, max_bytes: usize) -> Self {
        self.max_buffer_spans = max_spans;
        self.max_buffer_bytes = max_bytes;
        self
    }

    /// Spools to `dir` what the memory buffer cannot hold, and replays what an earlier
    /// process left there.
    pub fn spool(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spool = Some(SpoolConfig {
            dir: dir.into(),
            max_bytes: 256 << 20,
            segment_bytes: 8 << 20,
            sync: true,
        });
        self
    }

    /// The spool's size cap and segment size, in bytes (with [`spool`](Self::spool)).
    pub fn spool_limits(mut self, max_bytes: u64, segment_bytes: u64) -> Self {
        if let Some(s) = &mut self.spool {
            s.max_bytes = max_bytes;
            s.segment_bytes = segment_bytes.max(1);
        }
        self
    }

    /// Whether each spool write is flushed to the disk before `export` returns (default
    /// `true`: a crash loses nothing spooled).
    pub fn spool_sync(mut self, sync: bool) -> Self {
        if let Some(s) = &mut self.spool {
            s.sync = sync;
        }
        self
    }

    /// Builds the exporter, opening the spool. Fails when a setting is out of range or the
    /// spool directory cannot be used.
    pub fn build(self) -> Result<ResilientExporter<E>> {
        if self.deadline.is_zero() {
            return Err(Error::invalid(
                "deadline",
                "0s",
                "expected a positive duration",
            ));
        }
        let breaker = match self.breaker {
            Some(b) => b,
            None => CircuitBreaker::builder("span-export")
                .sliding_window(SlidingWindow::Count(10))
                .minimum_calls(3)
                .failure_rate_threshold(50.0)
                .half_open_permits(1)
                .wait_in_open(Duration::from_secs(5))
                .wait_growth(2.0, Duration::from_secs(300))
                .open_on_hint(true)
                .max_hint(Duration::from_secs(300))
                .clock(Arc::clone(&self.clock))
                .build()?,
        };
        let retry = match self.retry {
            Some(r) => r,
            None => RetryPolicy::new(3)?
                .backoff(
                    Backoff::exponential(Duration::from_millis(200))
                        .max_delay(Duration::from_secs(5)),
                )
                .max_hint(Duration::from_secs(5))
                .clock(Arc::clone(&self.clock))
                .sleeper(ThreadSleeper),
        };
        let sleeper = self.sleeper.unwrap_or_else(|| Arc::clone(&retry.sleeper));
        let spool = match self.spool {
            Some(config) => {
                let dir = config.dir.clone();
                Some(Spool::open(config).map_err(|e| Error::spool(dir, e))?)
            }
            None => None,
        };
        let shared = Shared {
            core: Mutex::new(Core {
                inner: self.inner,
                memory: VecDeque::new(),
                memory_spans: 0,
                memory_bytes: 0,
                spool,
            }),
            counters: Counters::default(),
            breaker,
            retry,
            sleeper,
            classify: self.classify,
            deadline: self.deadline,
            max_buffer_spans: self.max_buffer_spans,
            max_buffer_bytes: self.max_buffer_bytes,
        };
        {
            let mut core = shared.lock();
            shared.publish(&mut core);
        }
        let shared = Arc::new(shared);
        if let Some(interval) = self.replay_every {
            let weak = Arc::downgrade(&shared);
            std::thread::Builder::new()
                .name("hivetrace-replay".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(interval);
                        let Some(shared) = weak.upgrade() else {
                            return;
                        };
                        if shared.is_waiting() && shared.breaker.is_call_permitted() {
                            super::handle::Handle::replay(&*shared);
                        }
                    }
                })
                .map_err(|source| Error::Thread {
                    name: "span replay",
                    source,
                })?;
        }
        Ok(ResilientExporter { shared })
    }
}
