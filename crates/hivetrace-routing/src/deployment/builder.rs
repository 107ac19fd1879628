//! Configuring a deployment manager.

use std::fmt;
use std::sync::Arc;

use hivetrace_core::TracerBuilder;

use crate::deployment::environment::Environment;
use crate::deployment::slot::{MakeBuilder, Slot};
use crate::deployment::{DEPLOYMENT_ENV, DeploymentManager};
use crate::error::{Error, Result};

/// Reads an environment variable.
pub(super) type Lookup = Box<dyn Fn(&str) -> Option<String>>;

/// Configures a [`DeploymentManager`]. From [`DeploymentManager::builder`].
///
/// ```
/// use hivetrace_routing::{DeploymentManager, Environment};
///
/// let manager = DeploymentManager::builder()
///     .without("staging")
///     .environment(Environment::new("canary")?)
///     .initial_from_env_with(|name| (name == "DEPLOYMENT_ENV").then(|| "green".to_string()))
///     .build()?;
/// assert_eq!(manager.current().name(), "green");
/// assert_eq!(manager.environments().count(), 3);
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
pub struct DeploymentManagerBuilder {
    pub(super) environments: Vec<Environment>,
    pub(super) make: MakeBuilder,
    pub(super) initial: Option<String>,
    pub(super) lookup: Option<Lookup>,
}

impl fmt::Debug for DeploymentManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeploymentManagerBuilder")
            .field("environments", &self.environments)
            .field("initial", &self.initial)
            .field("from_env", &self.lookup.is_some())
            .finish_non_exhaustive()
    }
}

impl DeploymentManagerBuilder {
    /// Adds an environment, replacing one of the same name (`blue`, `green` and `staging`
    /// exist from the start, with default settings).
    #[must_use]
    pub fn environment(mut self, environment: Environment) -> Self {
        self.environments.retain(|e| e.name() != environment.name());
        self.environments.push(environment);
        self
    }

    /// Removes the predefined environment `name` (or one added earlier).
    #[must_use]
    pub fn without(mut self, name: &str) -> Self {
        self.environments.retain(|e| e.name() != name);
        self
    }

    /// How each environment's tracer builder starts, before the environment's project,
    /// source and resource attributes are applied: its exporter, endpoint, sampler.
    /// Default: [`TracerBuilder::from_env`].
    #[must_use]
    pub fn tracer_builder(
        mut self,
        make: impl Fn(&Environment) -> TracerBuilder + Send + Sync + 'static,
    ) -> Self {
        self.make = Arc::new(make);
        self
    }

    /// The initial environment; wins over `DEPLOYMENT_ENV`. Default: `blue` if defined,
    /// else the first environment in name order.
    #[must_use]
    pub fn initial(mut self, name: impl Into<String>) -> Self {
        self.initial = Some(name.into());
        self
    }

    /// Reads the initial environment from `DEPLOYMENT_ENV` (unset or empty: the default) when
    /// [`initial`](Self::initial) is not given.
    #[must_use]
    pub fn initial_from_env(self) -> Self {
        self.initial_from_env_with(|name| std::env::var(name).ok())
    }

    /// Like [`initial_from_env`](Self::initial_from_env), reading variables through `lookup`.
    #[must_use]
    pub fn initial_from_env_with(
        mut self,
        lookup: impl Fn(&str) -> Option<String> + 'static,
    ) -> Self {
        self.lookup = Some(Box::new(lookup));
        self
    }

    /// Builds the manager. No tracer is built yet. Fails when there is no environment or the
    /// initial one is unknown (naming `DEPLOYMENT_ENV` when it came from there).
    pub fn build(self) -> Result<DeploymentManager> {
        let mut environments = self.environments;
        environments.sort_by(|a, b| a.name().cmp(b.name()));
        let valid: Vec<String> = environments.iter().map(|e| e.name().to_owned()).collect();
        let slots: Vec<Arc<Slot>> = environments
            .into_iter()
            .map(|environment| Arc::new(Slot::new(environment)))
            .collect();
        let find = |name: &str| {
            let name = name.trim();
            slots
                .iter()
                .find(|s| s.environment.name().eq_ignore_ascii_case(name))
                .cloned()
        };
        let initial = match (
            self.initial,
            self.lookup
                .as_ref()
                .and_then(|l| l(DEPLOYMENT_ENV))
                .filter(|v| !v.trim().is_empty()),
        ) {
            (Some(name), _) => find(&name).ok_or(Error::UnknownEnvironment {
                name,
                valid: valid.clone(),
            })?,
            (None, Some(value)) => find(&value).ok_or_else(|| {
                Error::invalid(
                    DEPLOYMENT_ENV,
                    value.clone(),
                    format!(
                        "no such environment; valid environments: {}",
                        valid.join(", ")
                    ),
                )
            })?,
            (None, None) => find("blue")
                .or_else(|| slots.first().cloned())
                .ok_or_else(|| {
                    Error::invalid("environments", "none", "define at least one environment")
                })?,
        };
        Ok(DeploymentManager::from_parts(slots, initial, self.make))
    }
}
