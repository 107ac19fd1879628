//! The crate's error type.

/// What went wrong while configuring routing, switching environments or driving a rollout.
///
/// Messages name the setting (an environment variable, a builder method) and the rejected value.
///
/// ```
/// use hivetrace_routing::{Canary, Error};
///
/// let err = Canary::from_env_with(|_| Some("12.345".into())).unwrap_err();
/// assert!(matches!(&err, Error::InvalidConfig { setting, .. } if setting == "CANARY_PERCENTAGE"));
/// assert_eq!(
///     err.to_string(),
///     "invalid CANARY_PERCENTAGE: \"12.345\": the resolution is 0.01: at most two decimals"
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting had a value that cannot be used.
    #[error("invalid {setting}: {value:?}: {reason}")]
    InvalidConfig {
        /// The environment variable or builder method that carried the value.
        setting: String,
        /// The rejected value.
        value: String,
        /// Why it was rejected and what would be accepted.
        reason: String,
    },
    /// An environment name that the [`DeploymentManager`](crate::DeploymentManager) does not know.
    #[error("unknown deployment environment {name:?}; valid environments: {}", valid.join(", "))]
    UnknownEnvironment {
        /// The name asked for.
        name: String,
        /// Every configured environment, sorted.
        valid: Vec<String>,
    },
    /// A rollout was asked for something its phase does not allow.
    #[error("cannot {action} a rollout that is {phase}")]
    Rollout {
        /// What was asked: `start`, `pause`, `resume`, `promote`, `roll back`.
        action: &'static str,
        /// The phase it is in.
        phase: &'static str,
    },
    /// An environment's tracer could not be built.
    #[error("could not build the tracer of environment {environment:?}: {source}")]
    Tracer {
        /// The environment whose settings were used.
        environment: String,
        /// What the tracer builder rejected.
        #[source]
        source: hivetrace_core::Error,
    },
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(
        setting: impl Into<String>,
        value: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Error::InvalidConfig {
            setting: setting.into(),
            value: value.into(),
            reason: reason.into(),
        }
    }
}
