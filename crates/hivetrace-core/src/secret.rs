//! A string that never shows itself in `Debug` or `Display`.

use std::fmt;

/// A secret value such as an API key or an authorization header.
///
/// `Debug` prints `Secret(<redacted>)`; the only way to read it is [`Secret::expose`], so a
/// secret cannot reach a log line or an error message by accident.
///
/// ```
/// use hivetrace_core::Secret;
/// let key = Secret::new("hh-123");
/// assert_eq!(format!("{key:?}"), "Secret(<redacted>)");
/// assert_eq!(key.expose(), "hh-123");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value itself. Call this only where it must be sent.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

/// Whether a header's value must be treated as a secret, judged by its name.
pub(crate) fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "authorization"
        || name == "proxy-authorization"
        || name == "cookie"
        || name.contains("key")
        || name.contains("token")
        || name.contains("secret")
        || name.contains("password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_value() {
        let s = Secret::new("sk-live-abc");
        assert!(!format!("{s:?}").contains("sk-live"));
    }

    #[test]
    fn sensitive_headers_are_recognised() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("x-api-key"));
        assert!(is_sensitive_header("X-Auth-Token"));
        assert!(!is_sensitive_header("x-source"));
    }
}
