//! The crate's error type.

use std::time::Duration;

/// What went wrong while configuring, starting or stopping a [`Tracer`](crate::Tracer).
///
/// Messages name the setting (an environment variable or a builder method) and the value that
/// was rejected. Secrets are never part of a message: header values and API keys are replaced
/// by `<redacted>`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting had a value that could not be used.
    #[error("invalid {setting}: {value:?}: {reason}")]
    InvalidConfig {
        /// The environment variable or builder method that carried the value.
        setting: String,
        /// The rejected value (secrets already redacted).
        value: String,
        /// Why it was rejected and what would be accepted.
        reason: String,
    },
    /// The configured protocol needs a cargo feature that is not enabled.
    #[error("protocol {protocol} needs the `{feature}` feature of hivetrace-core")]
    FeatureDisabled {
        /// The protocol asked for.
        protocol: &'static str,
        /// The feature that provides it.
        feature: &'static str,
    },
    /// The exporter could not be built.
    #[error("could not build the {exporter} exporter: {reason}")]
    ExporterBuild {
        /// Which exporter.
        exporter: &'static str,
        /// The underlying reason (secrets redacted).
        reason: String,
    },
    /// The local trace file could not be opened.
    #[error("could not open the trace file {path}: {source}")]
    File {
        /// The path that was tried.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A flush or shutdown did not finish within its bound.
    #[error("{operation} did not finish within {timeout:?}")]
    Timeout {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// The bound that was exceeded.
        timeout: Duration,
    },
    /// One or more exports failed during a flush or shutdown.
    #[error("{operation} finished but an export failed: {reason}")]
    Export {
        /// `flush` or `shutdown`.
        operation: &'static str,
        /// The exporter's error (secrets redacted).
        reason: String,
    },
    /// The tracer was already shut down.
    #[error("the tracer is already shut down")]
    AlreadyShutdown,
}

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

/// A `Result` whose error is hivetrace's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
