//! The process-wide tracer, read cheaply on every traced call.
//!
//! Reads go through a per-thread copy checked against a generation number, so the common case
//! is one atomic load and no lock; installing or removing the global tracer bumps the generation.

use std::cell::RefCell;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::tracer::{Tracer, WeakTracer};

static GLOBAL: RwLock<Option<Tracer>> = RwLock::new(None);
static GENERATION: AtomicU64 = AtomicU64::new(1);

thread_local! {
    // Weak: an idle thread must not keep a removed tracer alive (its last drop flushes).
    static CACHED: RefCell<(u64, Option<WeakTracer>)> = const { RefCell::new((0, None)) };
}

pub(crate) fn get() -> Option<Tracer> {
    match GLOBAL.read() {
        Ok(slot) => slot.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Puts `tracer` in the slot and returns the previous one. Installing a tracer also makes its
/// provider OpenTelemetry's global one, under the same lock, so two concurrent installs cannot
/// leave `opentelemetry::global` on one tracer and the slot on the other.
pub(crate) fn replace(tracer: Option<Tracer>) -> Option<Tracer> {
    let mut slot = match GLOBAL.write() {
        Ok(slot) => slot,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(tracer) = &tracer {
        opentelemetry::global::set_tracer_provider(tracer.provider().clone());
    }
    let old = std::mem::replace(&mut *slot, tracer);
    GENERATION.fetch_add(1, Ordering::AcqRel);
    drop(slot);
    old
}

/// Runs `f` with the global tracer, without taking the lock when this thread has seen the
/// current one already.
pub(crate) fn with<R>(f: impl FnOnce(Option<&Tracer>) -> R) -> R {
    let generation = GENERATION.load(Ordering::Acquire);
    let cached = CACHED.try_with(|cell| {
        let mut cell = cell.try_borrow_mut().ok()?;
        if cell.0 != generation {
            *cell = (generation, get().map(|t| t.downgrade()));
        }
        Some(cell.1.as_ref().and_then(WeakTracer::upgrade))
    });
    match cached {
        Ok(Some(tracer)) => f(tracer.as_ref()),
        // Re-entered (a sampler that traces) or the thread is exiting: read the slot itself.
        _ => f(get().as_ref()),
    }
}
