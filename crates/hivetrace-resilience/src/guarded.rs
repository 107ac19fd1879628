//! Guarded start: building the tracer behind a breaker, so the application runs untraced
//! while the tracer cannot be built or its backend is down, and traced again when it recovers.

use std::borrow::Cow;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Duration;

use arc_swap::ArcSwapOption;
use hivetrace_core::clock::Clock;
use hivetrace_core::{Span, Tracer};

use crate::breaker::{CircuitBreaker, SlidingWindow};
use crate::error::Result;

type BuildFn = dyn Fn() -> hivetrace_core::Result<Tracer> + Send + Sync;

/// A tracer that may not exist yet: the seed's `get_safe_tracer`.
///
/// Construction runs behind a breaker: while it fails, spans are
/// [`Span::none`](hivetrace_core::Span::none) (the application runs, untraced) and no
/// construction is attempted until the breaker's wait is over. With a health breaker (the
/// [`ResilientExporter`](crate::exporter::ResilientExporter)'s, say), spans are also off while
/// the backend is down, and come back on when the breaker lets a trial through. Clones share
/// one tracer.
///
/// ```
/// use hivetrace_resilience::GuardedTracer;
///
/// let guarded = GuardedTracer::builder(|| {
///     hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()
/// })
/// .build()?;
/// let span = guarded.span("handle_request"); // a real span once the tracer is built
/// assert!(span.is_recording());
/// assert!(guarded.is_tracing());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone)]
pub struct GuardedTracer {
    inner: Arc<Inner>,
}

struct Inner {
    build: Box<BuildFn>,
    tracer: ArcSwapOption<Tracer>,
    breaker: CircuitBreaker,
    health: Option<CircuitBreaker>,
    building: Mutex<Option<String>>,
}

impl fmt::Debug for GuardedTracer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedTracer")
            .field("built", &self.inner.tracer.load().is_some())
            .field("breaker", &self.inner.breaker)
            .field("health", &self.inner.health)
            .finish_non_exhaustive()
    }
}

/// Builds a [`GuardedTracer`].
///
/// ```
/// use hivetrace_resilience::{CircuitBreaker, GuardedTracer};
/// let backend = CircuitBreaker::builder("backend").build()?;
/// let guarded = GuardedTracer::builder(|| hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build())
///     .health(backend.clone())
///     .build()?;
/// backend.force_open(); // the backend is down: untraced
/// assert!(!guarded.span("request").is_recording());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
pub struct GuardedTracerBuilder {
    build: Box<BuildFn>,
    breaker: Option<CircuitBreaker>,
    health: Option<CircuitBreaker>,
    clock: Option<Arc<dyn Clock>>,
}

impl fmt::Debug for GuardedTracerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GuardedTracerBuilder")
            .field("breaker", &self.breaker)
            .field("health", &self.health)
            .finish_non_exhaustive()
    }
}

impl GuardedTracer {
    /// A builder; `build` makes the tracer (called again after failures, behind the breaker).
    pub fn builder(
        build: impl Fn() -> hivetrace_core::Result<Tracer> + Send + Sync + 'static,
    ) -> GuardedTracerBuilder {
        GuardedTracerBuilder {
            build: Box::new(build),
            breaker: None,
            health: None,
            clock: None,
        }
    }

    /// The tracer, when it exists and its backend is not known to be down; tries to build it
    /// when the breaker allows.
    pub fn tracer(&self) -> Option<Tracer> {
        if !self.backend_up() {
            return None;
        }
        if let Some(t) = self.inner.tracer.load_full() {
            return Some((*t).clone());
        }
        self.try_build()
    }

    fn backend_up(&self) -> bool {
        self.inner
            .health
            .as_ref()
            .is_none_or(CircuitBreaker::is_call_permitted)
    }

    fn try_build(&self) -> Option<Tracer> {
        let permit = self.inner.breaker.try_acquire().ok()?;
        // One build at a time; callers that find one running go untraced meanwhile.
        // A build that panicked poisoned the lock; the next one may still succeed.
        let mut last_error = match self.inner.building.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                drop(permit);
                return None;
            }
        };
        if let Some(t) = self.inner.tracer.load_full() {
            drop(permit);
            return Some((*t).clone());
        }
        match (self.inner.build)() {
            Ok(tracer) => {
                permit.success();
                *last_error = None;
                self.inner.tracer.store(Some(Arc::new(tracer.clone())));
                Some(tracer)
            }
            Err(e) => {
                permit.failure();
                *last_error = Some(e.to_string());
                None
            }
        }
    }

    /// A span named `name`: a real one when tracing, else [`Span::none`].
    pub fn span(&self, name: impl Into<Cow<'static, str>>) -> Span {
        if !self.backend_up() {
            return Span::none();
        }
        let guard = self.inner.tracer.load();
        match guard.as_deref() {
            Some(t) => t.span(name).start(),
            None => match self.try_build() {
                Some(t) => t.span(name).start(),
                None => Span::none(),
            },
        }
    }

    /// Runs `f` inside a span named `name` when tracing, plainly otherwise.
    pub fn in_span<T>(&self, name: impl Into<Cow<'static, str>>, f: impl FnOnce() -> T) -> T {
        self.span(name).in_scope(f)
    }

    /// Whether spans are recorded now (built, backend not known to be down).
    pub fn is_tracing(&self) -> bool {
        self.backend_up() && self.inner.tracer.load().is_some()
    }

    /// Why the last construction failed, if it did.
    pub fn last_error(&self) -> Option<String> {
        self.inner
            .building
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The breaker guarding construction.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }
}

impl GuardedTracerBuilder {
    /// The breaker guarding construction (default: opens on the first failure, waits 5 s,
    /// growing ×2 up to 5 min).
    pub fn breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// A breaker whose state says whether the backend is up (spans are off while it refuses
    /// calls): typically [`ExporterHandle::breaker`](crate::exporter::ExporterHandle::breaker).
    pub fn health(mut self, breaker: CircuitBreaker) -> Self {
        self.health = Some(breaker);
        self
    }

    /// The clock of the default breaker.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Builds the guard; the tracer itself is built on first use.
    pub fn build(self) -> Result<GuardedTracer> {
        let breaker = match self.breaker {
            Some(b) => b,
            None => {
                let mut b = CircuitBreaker::builder("tracer-start")
                    .sliding_window(SlidingWindow::Count(1))
                    .minimum_calls(1)
                    .half_open_permits(1)
                    .wait_in_open(Duration::from_secs(5))
                    .wait_growth(2.0, Duration::from_secs(300))
                    .span_events(false);
                if let Some(clock) = self.clock {
                    b = b.clock(clock);
                }
                b.build()?
            }
        };
        Ok(GuardedTracer {
            inner: Arc::new(Inner {
                build: self.build,
                tracer: ArcSwapOption::empty(),
                breaker,
                health: self.health,
                building: Mutex::new(None),
            }),
        })
    }
}
