//! The crate's error type.

/// What was wrong with a header or a value given to this crate.
///
/// Propagation never fails a request: the propagators and the header functions turn these into
/// "start a new trace" or "drop the member". The error is what the `try_*`/`parse` functions
/// return, for callers who want to know why.
///
/// ```
/// use hivetrace_correlation::{Error, Traceparent};
/// let err = Traceparent::parse(b"00-00000000000000000000000000000000-00f067aa0ba902b7-01").unwrap_err();
/// assert!(matches!(err, Error::InvalidTraceparent { .. }));
/// assert!(err.to_string().contains("all zeros"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `traceparent` value that the W3C Trace Context grammar rejects.
    #[error("invalid traceparent: {reason}")]
    InvalidTraceparent {
        /// What the grammar rejected.
        reason: &'static str,
    },
    /// A `tracestate` list member (or the whole value) that the grammar rejects.
    #[error("invalid tracestate member {member:?}: {reason}")]
    InvalidTracestate {
        /// The member, cut to 64 characters.
        member: String,
        /// What the grammar rejected.
        reason: &'static str,
    },
    /// A `baggage` list member that the W3C Baggage grammar rejects.
    #[error("invalid baggage member {member:?}: {reason}")]
    InvalidBaggage {
        /// The member, cut to 64 characters.
        member: String,
        /// What the grammar rejected.
        reason: &'static str,
    },
    /// A request id outside the accepted length or characters.
    #[error(
        "invalid request id {id:?}: expected 1 to {max} characters among A-Z a-z 0-9 - _ . : / + = @",
        max = crate::request_id::MAX_REQUEST_ID_LEN
    )]
    InvalidRequestId {
        /// The rejected id, cut to 64 characters.
        id: String,
    },
    /// A session id outside the accepted length or characters.
    #[error(
        "invalid session id {id:?}: expected 1 to {max} characters among A-Z a-z 0-9 - _ . : / + = @",
        max = crate::request_id::MAX_REQUEST_ID_LEN
    )]
    InvalidSessionId {
        /// The rejected id, cut to 64 characters.
        id: String,
    },
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Cuts a rejected input for an error message, on a character boundary.
pub(crate) fn excerpt(input: &[u8]) -> String {
    const MAX: usize = 64;
    let text = String::from_utf8_lossy(input);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}
