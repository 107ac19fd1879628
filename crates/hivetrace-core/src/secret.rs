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

/// `url` with any credentials (`user:password@`) replaced by `<redacted>@`, and the value of
/// every query parameter by `<redacted>` (receivers that take a key in the URL take it there),
/// for messages and `Debug`. Works on text that is not a valid URL too.
///
/// In a well-formed URL (one both `url` and `http` accept) everything up to the last `@`
/// before the path, query or fragment is credentials, and the scheme stays readable. Text that
/// is not a well-formed URL has no reliable authority (`http:/u:p@host`, a password holding a
/// `/`, a missing scheme), so everything up to its last `@` is redacted.
pub(crate) fn redact_url(url: &str) -> String {
    let shown = match well_formed_authority(url) {
        Some((start, end)) => match url[start..end].rfind('@') {
            Some(at) => format!("{}<redacted>{}", &url[..start], &url[start + at..]),
            None => url.to_owned(),
        },
        None => match url.rfind('@') {
            Some(at) => format!("<redacted>{}", &url[at..]),
            None => url.to_owned(),
        },
    };
    redact_query(shown)
}

/// `url` with each query parameter's value replaced by `<redacted>` (`?key=<redacted>`), and
/// a parameter without a name by `<redacted>` alone; the fragment is kept.
///
/// What is left of the authority holds no `?` (credentials are already redacted, and a host
/// or port cannot hold one), so the first `?` starts the query.
fn redact_query(url: String) -> String {
    let Some(start) = url.find('?') else {
        return url;
    };
    let end = url[start..].find('#').map_or(url.len(), |i| start + i);
    let query = url[start + 1..end]
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((name, _)) => format!("{name}=<redacted>"),
            None if param.is_empty() => String::new(),
            None => "<redacted>".to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{}?{query}{}", &url[..start], &url[end..])
}

/// The byte range of `url`'s authority, when `url` is a well-formed `scheme://authority...` URL.
fn well_formed_authority(url: &str) -> Option<(usize, usize)> {
    let scheme_end = url.find("://")?;
    if url::Url::parse(url).is_err() || url.parse::<http::Uri>().is_err() {
        return None;
    }
    let start = scheme_end + 3;
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    Some((start, end))
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
            "http://<redacted>@host:4318/v1/traces?a=<redacted>"
        );
        assert_eq!(redact_url("https://host/x@y"), "https://host/x@y");
        assert_eq!(redact_url("http://u@v:w@host/"), "http://<redacted>@host/");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn query_values_are_redacted_and_their_names_kept() {
        for (url, shown) in [
            (
                "https://collector.example/v1/traces?api_key=s3cr3t&tenant=t1",
                "https://collector.example/v1/traces?api_key=<redacted>&tenant=<redacted>",
            ),
            (
                "http://collector:4318/v1/traces?s3cr3t&&x=",
                "http://collector:4318/v1/traces?<redacted>&&x=<redacted>",
            ),
            (
                "http://collector:4318/v1/traces?token=s3cr3t#part",
                "http://collector:4318/v1/traces?token=<redacted>#part",
            ),
            ("http://collector:4318/?", "http://collector:4318/?"),
            // Not a URL the HTTP client takes (the port is out of range): redacted all the same.
            (
                "http://host:99999/v1/traces?token=s3cr3t",
                "http://host:99999/v1/traces?token=<redacted>",
            ),
            (
                "http://user:pw@host:99999/?token=s3cr3t",
                "<redacted>@host:99999/?token=<redacted>",
            ),
        ] {
            assert_eq!(redact_url(url), shown, "{url}");
        }
    }

    #[test]
    fn credentials_in_malformed_urls_are_redacted_up_to_the_last_at() {
        for (malformed, shown) in [
            ("user:s3cr3t@collector:4318", "<redacted>@collector:4318"),
            (
                "http:/user:s3cr3t@collector:4318/",
                "<redacted>@collector:4318/",
            ),
            (
                "http://user:s3/cr3t@collector:4318/",
                "<redacted>@collector:4318/",
            ),
            ("http://user:s3#cr3t@collector/", "<redacted>@collector/"),
            ("http://user:s3cr3t@host:99999/a@b", "<redacted>@b"),
        ] {
            assert_eq!(redact_url(malformed), shown, "{malformed}");
        }
    }
}
