//! The crate's error type.

/// What went wrong building metrics, encoding them or serving them.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is outside the values it accepts.
    #[error("invalid {setting}: {value}: {reason}")]
    InvalidConfig {
        /// The setting (builder method or argument).
        setting: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What is accepted.
        reason: &'static str,
    },
    /// A collector failed while the registry was being encoded.
    #[error("encoding the metrics registry failed: a collector returned a formatting error")]
    Encode,
    /// The `/metrics` server could not bind or accept connections.
    #[error("metrics server on {address}: {source}")]
    Io {
        /// The address the server was bound (or asked) to listen on.
        address: String,
        /// The operating system's error.
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
}
