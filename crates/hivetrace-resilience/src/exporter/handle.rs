//! A handle on a resilient exporter that stays with the application.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry_sdk::trace::SpanExporter;

use super::Shared;
use super::stats::ExportStats;
use crate::breaker::CircuitBreaker;

/// A handle to a [`ResilientExporter`](super::ResilientExporter) that stays with the
/// application after the exporter is given to a tracer: its counts, its breaker, and replay
/// on demand.
///
/// ```
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use hivetrace_resilience::exporter::ResilientExporter;
/// let exporter = ResilientExporter::builder(InMemorySpanExporter::default()).build()?;
/// let handle = exporter.handle();
/// drop(exporter); // given to a tracer, say
/// handle.replay(); // nothing waits: nothing to do
/// assert_eq!(handle.stats().exported, 0);
/// assert!(handle.breaker().is_call_permitted());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone)]
pub struct ExporterHandle {
    pub(super) shared: Arc<dyn Handle>,
}

impl fmt::Debug for ExporterHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExporterHandle")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

pub(super) trait Handle: Send + Sync {
    fn stats(&self) -> ExportStats;
    fn breaker(&self) -> &CircuitBreaker;
    fn replay(&self);
}

impl<E: SpanExporter> Handle for Shared<E> {
    fn stats(&self) -> ExportStats {
        self.counters.snapshot()
    }

    fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }

    fn replay(&self) {
        let deadline = Instant::now() + self.deadline;
        let mut core = self.lock();
        self.drain(&mut core, deadline);
        self.publish(&mut core);
    }
}

impl ExporterHandle {
    /// What happened to the spans so far.
    pub fn stats(&self) -> ExportStats {
        self.shared.stats()
    }

    /// The breaker in front of the backend.
    pub fn breaker(&self) -> &CircuitBreaker {
        self.shared.breaker()
    }

    /// Delivers what waits (memory, then spool) if the breaker lets calls through, within
    /// one deadline. Exports do this on their own; this is for when no new spans come.
    pub fn replay(&self) {
        self.shared.replay()
    }
}
