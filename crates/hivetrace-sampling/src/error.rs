//! The crate's error type.

/// A sampler that cannot be built as configured.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A setting is outside the values it accepts.
    #[error("invalid {setting}: {value}: {reason}")]
    InvalidConfig {
        /// The setting (constructor argument or builder method).
        setting: &'static str,
        /// The rejected value, as text.
        value: String,
        /// What is accepted.
        reason: &'static str,
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
