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

/// `url` with any credentials (`user:password@`) replaced by `<redacted>@`, for messages and
/// `Debug`. Works on text that is not a valid URL too.
pub(crate) fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{}<redacted>{}", &url[..scheme_end + 3], &rest[at..]),
        None => url.to_owned(),
    }
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
    fn credentials_in_urls_are_redacted() {
        assert_eq!(
            redact_url("http://user:s3cr3t@host:4318/v1/traces?a=b@c"),
            "http://<redacted>@host:4318/v1/traces?a=b@c"
        );
        assert_eq!(redact_url("https://host/x@y"), "https://host/x@y");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
