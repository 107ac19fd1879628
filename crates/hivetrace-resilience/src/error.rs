//! The crate's error type.

use std::path::PathBuf;
use std::time::Duration;

use crate::breaker::State;

/// What went wrong in hivetrace-resilience: a setting out of range, a call the breaker refused,
/// or spool storage that could not be used.
///
/// ```
/// let err = hivetrace_resilience::CircuitBreaker::builder("x")
///     .minimum_calls(0)
///     .build()
///     .expect_err("no calls to judge");
/// assert!(err.to_string().starts_with("invalid minimum_calls"));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is outside the values it accepts.
    #[error("invalid {setting}: {value}: {reason}")]
    InvalidConfig {
        /// The setting (builder method).
        setting: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What is accepted.
        reason: &'static str,
    },
    /// The circuit breaker did not permit the call.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// A background thread could not be started.
    #[error("could not start the {name} thread: {source}")]
    Thread {
        /// The thread's purpose.
        name: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The disk spool could not be opened or written.
    #[error("span spool at {path}: {source}")]
    Spool {
        /// The file or directory involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn invalid(
        setting: &'static str,
        value: impl ToString,
        reason: &'static str,
    ) -> Self {
        Error::InvalidConfig {
            setting,
            value: value.to_string(),
            reason,
        }
    }

    pub(crate) fn spool(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Spool {
            path: path.into(),
            source,
        }
    }
}

/// A call the circuit breaker refused: it is open (or forced open), or half-open with every
/// trial permit in use.
///
/// ```
/// use hivetrace_resilience::{CircuitBreaker, State};
/// let breaker = CircuitBreaker::builder("search").build()?;
/// breaker.force_open();
/// let rejected = breaker.try_acquire().expect_err("forced open");
/// assert_eq!(rejected.state(), State::ForcedOpen);
/// assert!(rejected.to_string().contains("search"));
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit breaker `{name}` is {state} and did not permit the call{}", retry_hint(*.retry_after))]
pub struct Rejected {
    pub(crate) name: std::sync::Arc<str>,
    pub(crate) state: State,
    pub(crate) retry_after: Option<Duration>,
}

fn retry_hint(retry_after: Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!("; it may permit calls again in {d:?}"),
        None => String::new(),
    }
}

impl Rejected {
    /// The breaker's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The state that refused the call.
    pub fn state(&self) -> State {
        self.state
    }

    /// How long until the breaker will let a trial call through, when it knows (open state).
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }
}
