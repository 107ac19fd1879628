//! One environment and its tracer, built on first use.

use std::sync::{Arc, Mutex, OnceLock};

use hivetrace_core::{Tracer, TracerBuilder};

use crate::deployment::environment::Environment;
use crate::error::{Error, Result};

/// How an environment's tracer builder starts.
pub(super) type MakeBuilder = Arc<dyn Fn(&Environment) -> TracerBuilder + Send + Sync>;

/// An environment and its tracer, built on first use.
pub(super) struct Slot {
    pub(super) environment: Environment,
    pub(super) tracer: OnceLock<Tracer>,
    /// Held only while building, so that two first uses build one tracer.
    building: Mutex<()>,
}

impl Slot {
    pub(super) fn new(environment: Environment) -> Self {
        Slot {
            environment,
            tracer: OnceLock::new(),
            building: Mutex::new(()),
        }
    }

    pub(super) fn tracer(&self, make: &MakeBuilder) -> Result<Tracer> {
        if let Some(t) = self.tracer.get() {
            return Ok(t.clone());
        }
        // A poisoned lock only means another builder panicked; building again is safe.
        let _guard = self.building.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = self.tracer.get() {
            return Ok(t.clone());
        }
        let tracer = self
            .environment
            .apply(make(&self.environment))
            .build()
            .map_err(|source| Error::Tracer {
                environment: self.environment.name().to_owned(),
                source,
            })?;
        Ok(self.tracer.get_or_init(|| tracer).clone())
    }
}
