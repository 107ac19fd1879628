//! Blue-green: named environments, each with its own lazily built tracer, switched atomically.

mod builder;
mod environment;
mod slot;

use std::fmt;
use std::sync::Arc;

use arc_swap::ArcSwap;
use hivetrace_core::{Tracer, TracerBuilder};

use crate::error::{Error, Result};
use crate::tier::Tier;

pub use builder::DeploymentManagerBuilder;
pub use environment::Environment;
use slot::{MakeBuilder, Slot};

/// The environment variable naming the initial environment.
pub const DEPLOYMENT_ENV: &str = "DEPLOYMENT_ENV";

/// Named deployment environments (blue, green, staging, yours), each with its own tracer, one
/// of them current.
///
/// - Tracers are built on first use and cached.
/// - [`switch`](Self::switch) is atomic: spans already started finish on the tracer that
///   started them (and are exported by it), spans started afterwards go to the new
///   environment; nothing is lost.
/// - An unknown name is an error listing the valid ones.
/// - The initial environment can come from `DEPLOYMENT_ENV`.
///
/// Clones share the environments and the current choice.
///
/// ```
/// use hivetrace_routing::{DeploymentManager, Environment};
///
/// # fn main() -> Result<(), hivetrace_routing::Error> {
/// let manager = DeploymentManager::builder()
///     .tracer_builder(|_env| hivetrace_core::Tracer::builder().console_writer(std::io::sink()))
///     .environment(Environment::new("blue")?.project("support-bot"))
///     .environment(Environment::new("green")?.project("support-bot"))
///     .initial("blue")
///     .build()?;
///
/// let before = manager.tracer()?.span("in flight").start(); // on blue
/// manager.switch("green")?;
/// assert_eq!(manager.current().name(), "green");
/// drop(before); // ends, and is exported, on blue
///
/// let err = manager.switch("purple").unwrap_err().to_string();
/// assert!(err.contains("blue, green, staging"), "{err}");
/// manager.shutdown()?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct DeploymentManager {
    inner: Arc<Inner>,
}

struct Inner {
    /// Sorted by name.
    slots: Vec<Arc<Slot>>,
    current: ArcSwap<Slot>,
    make: MakeBuilder,
}

impl DeploymentManager {
    fn from_parts(slots: Vec<Arc<Slot>>, initial: Arc<Slot>, make: MakeBuilder) -> Self {
        DeploymentManager {
            inner: Arc::new(Inner {
                slots,
                current: ArcSwap::new(initial),
                make,
            }),
        }
    }

    /// A builder with `blue`, `green` and `staging` defined, tracers from the environment.
    pub fn builder() -> DeploymentManagerBuilder {
        let defaults = ["blue", "green", "staging"]
            .into_iter()
            .filter_map(|n| Environment::new(n).ok())
            .collect();
        DeploymentManagerBuilder {
            environments: defaults,
            make: Arc::new(|_| TracerBuilder::from_env()),
            initial: None,
            lookup: None,
        }
    }

    /// The current environment.
    pub fn current(&self) -> Environment {
        self.inner.current.load().environment.clone()
    }

    /// The current environment's name, compared without allocating.
    pub fn is_current(&self, name: &str) -> bool {
        self.inner
            .current
            .load()
            .environment
            .name()
            .eq_ignore_ascii_case(name.trim())
    }

    /// The current environment's tracer, built on first use. Start spans on it: they stay
    /// on it even if the environment is switched before they end.
    pub fn tracer(&self) -> Result<Tracer> {
        self.inner.current.load().tracer(&self.inner.make)
    }

    /// The tracer of environment `name`, built on first use.
    pub fn tracer_for(&self, name: &str) -> Result<Tracer> {
        self.slot(name)?.tracer(&self.inner.make)
    }

    /// The tracer for a request routed to `tier`: the environment named like the tier (say,
    /// environments `stable` and `canary`) if there is one, else the current environment.
    pub fn tracer_for_tier(&self, tier: &Tier) -> Result<Tracer> {
        match self.find(tier.as_str()) {
            Some(slot) => slot.tracer(&self.inner.make),
            None => self.tracer(),
        }
    }

    /// Makes `name` current and returns the environment it replaces. The new environment's
    /// tracer is built first, so a switch to an environment whose tracer cannot be built
    /// fails and changes nothing.
    pub fn switch(&self, name: &str) -> Result<Environment> {
        let slot = self.slot(name)?;
        slot.tracer(&self.inner.make)?;
        let previous = self.inner.current.swap(slot);
        Ok(previous.environment.clone())
    }

    /// Every environment, in name order.
    pub fn environments(&self) -> impl Iterator<Item = &Environment> {
        self.inner.slots.iter().map(|s| &s.environment)
    }

    /// The tracers built so far, with their environments' names.
    pub fn built_tracers(&self) -> Vec<(String, Tracer)> {
        self.inner
            .slots
            .iter()
            .filter_map(|s| {
                s.tracer
                    .get()
                    .map(|t| (s.environment.name().to_owned(), t.clone()))
            })
            .collect()
    }

    /// Exports every ended span of every built tracer; the first error is returned after all
    /// were flushed.
    pub fn force_flush(&self) -> Result<()> {
        self.each_tracer(Tracer::force_flush)
    }

    /// Shuts every built tracer down; the first error is returned after all were shut down.
    pub fn shutdown(&self) -> Result<()> {
        self.each_tracer(Tracer::shutdown)
    }

    fn each_tracer(&self, f: impl Fn(&Tracer) -> hivetrace_core::Result<()>) -> Result<()> {
        let mut first = None;
        for (name, tracer) in self.built_tracers() {
            if let Err(source) = f(&tracer) {
                first.get_or_insert(Error::Tracer {
                    environment: name,
                    source,
                });
            }
        }
        first.map_or(Ok(()), Err)
    }

    fn find(&self, name: &str) -> Option<&Arc<Slot>> {
        let name = name.trim();
        self.inner
            .slots
            .iter()
            .find(|s| s.environment.name().eq_ignore_ascii_case(name))
    }

    fn slot(&self, name: &str) -> Result<Arc<Slot>> {
        self.find(name)
            .cloned()
            .ok_or_else(|| Error::UnknownEnvironment {
                name: name.to_owned(),
                valid: self.environments().map(|e| e.name().to_owned()).collect(),
            })
    }
}

impl fmt::Debug for DeploymentManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.environments().map(Environment::name).collect();
        f.debug_struct("DeploymentManager")
            .field("environments", &names)
            .field("current", &self.inner.current.load().environment.name())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry_sdk::trace::InMemorySpanExporter;

    fn manager(exporter: &InMemorySpanExporter) -> DeploymentManagerBuilder {
        let exporter = exporter.clone();
        DeploymentManager::builder()
            .tracer_builder(move |_| Tracer::builder().exporter(exporter.clone()))
    }

    #[test]
    fn initial_comes_from_builder_then_env_then_blue() {
        let e = InMemorySpanExporter::default();
        let m = manager(&e).build().unwrap();
        assert_eq!(m.current().name(), "blue");
        let m = manager(&e)
            .initial_from_env_with(|_| Some("Green".into()))
            .build()
            .unwrap();
        assert!(m.is_current("green"));
        let m = manager(&e)
            .initial("staging")
            .initial_from_env_with(|_| Some("green".into()))
            .build()
            .unwrap();
        assert!(m.is_current("staging"));
        let err = manager(&e)
            .initial_from_env_with(|_| Some("purple".into()))
            .build()
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("DEPLOYMENT_ENV") && err.contains("purple"),
            "{err}"
        );
        assert!(err.contains("blue, green, staging"), "{err}");
        let m = manager(&e)
            .initial_from_env_with(|_| Some(String::new()))
            .build()
            .unwrap();
        assert!(m.is_current("blue"), "empty DEPLOYMENT_ENV means unset");
        let m = manager(&e).without("blue").build().unwrap();
        assert!(m.is_current("green"));
        let err = manager(&e)
            .without("blue")
            .without("green")
            .without("staging")
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("at least one"));
    }

    #[test]
    fn tracers_are_built_lazily_once_with_the_environment_settings() {
        let e = InMemorySpanExporter::default();
        let m = manager(&e)
            .environment(
                Environment::new("canary")
                    .unwrap()
                    .project("p")
                    .source("prod-canary"),
            )
            .build()
            .unwrap();
        assert!(m.built_tracers().is_empty());
        let a = m.tracer_for("canary").unwrap();
        let b = m.tracer_for_tier(&Tier::CANARY).unwrap();
        assert_eq!(a.session_id(), b.session_id(), "one tracer, cached");
        // No environment named `stable`: the current one (blue).
        let blue = m.tracer_for_tier(&Tier::STABLE).unwrap();
        assert_eq!(blue.session_id(), m.tracer().unwrap().session_id());
        assert_eq!(m.built_tracers().len(), 2);
        drop(a.span("x").start());
        a.force_flush().unwrap();
        let spans = e.get_finished_spans().unwrap();
        let source = spans[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "honeyhive.source")
            .map(|kv| kv.value.as_str().into_owned());
        assert_eq!(source.as_deref(), Some("prod-canary"));
        m.shutdown().unwrap();
    }

    #[test]
    fn unknown_or_unbuildable_environments_leave_the_current_one() {
        let e = InMemorySpanExporter::default();
        let m = manager(&e)
            .environment(Environment::new("broken").unwrap())
            .tracer_builder(|env| {
                let b = Tracer::builder().console_writer(std::io::sink());
                if env.name() == "broken" {
                    b.export_timeout(std::time::Duration::ZERO)
                } else {
                    b
                }
            })
            .build()
            .unwrap();
        let err = m.switch("purple").unwrap_err();
        assert!(matches!(&err, Error::UnknownEnvironment { valid, .. } if valid.len() == 4));
        let err = m.switch("broken").unwrap_err().to_string();
        assert!(
            err.contains("broken") && err.contains("export timeout"),
            "{err}"
        );
        assert!(m.is_current("blue"));
        assert_eq!(m.switch("GREEN").unwrap().name(), "blue");
        assert!(m.is_current("green"));
    }
}
