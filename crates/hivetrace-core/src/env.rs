//! Reading settings from environment variables: each parser names the variable and the value
//! it rejects, and never prints a secret.

use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};
use crate::secret::redact_url;

/// Where settings come from: the process environment, or any lookup a caller supplies.
pub(crate) type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A variable's value, with empty values treated as unset (as the OpenTelemetry spec says).
pub(crate) fn get(lookup: &Lookup, name: &str) -> Option<String> {
    lookup(name).filter(|v| !v.trim().is_empty())
}

/// The first of `names` that is set, with its name.
pub(crate) fn first(lookup: &Lookup, names: &[&'static str]) -> Option<(&'static str, String)> {
    names
        .iter()
        .find_map(|name| get(lookup, name).map(|v| (*name, v)))
}

/// A duration in milliseconds, the unit of every `OTEL_*` timeout and delay.
pub(crate) fn millis(name: &str, value: &str) -> Result<Duration> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| {
            Error::invalid(
                name,
                value,
                "expected a whole number of milliseconds, such as 10000",
            )
        })
}

/// A whole number of the type's range; `expected` says what was wanted when it is not one.
pub(crate) fn whole<T: std::str::FromStr>(name: &str, value: &str, expected: &str) -> Result<T> {
    value
        .trim()
        .parse::<T>()
        .map_err(|_| Error::invalid(name, value, expected))
}

/// A positive count.
pub(crate) fn count(name: &str, value: &str) -> Result<usize> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Error::invalid(
            name,
            value,
            "expected a whole number greater than 0",
        )),
    }
}

/// A `key=value,key=value` list in the W3C baggage octet format that `OTEL_RESOURCE_ATTRIBUTES`
/// and `OTEL_EXPORTER_OTLP_HEADERS` use: keys and values percent-decoded, blanks trimmed.
///
/// With `secret_values`, a rejected member is described without its value, since header
/// values carry credentials.
pub(crate) fn key_value_list(
    name: &str,
    value: &str,
    secret_values: bool,
) -> Result<Vec<(String, String)>> {
    let shown = |member: &str| -> String {
        if secret_values {
            match member.split_once('=') {
                Some((k, _)) => format!("{}=<redacted>", shown_header_name(k.trim())),
                None => format!("<redacted, {} bytes>", member.len()),
            }
        } else {
            member.to_owned()
        }
    };
    let mut out = Vec::new();
    for (index, member) in value.split(',').enumerate() {
        if member.trim().is_empty() {
            continue;
        }
        let Some((k, v)) = member.split_once('=') else {
            return Err(Error::invalid(
                name,
                shown(member),
                format!(
                    "member {} has no '=': expected key=value pairs separated by commas",
                    index + 1
                ),
            ));
        };
        let key = decode(k.trim());
        let val = decode(v.trim());
        let (Some(key), Some(val)) = (key, val) else {
            return Err(Error::invalid(
                name,
                shown(member),
                format!("member {} is not valid percent-encoded UTF-8", index + 1),
            ));
        };
        if key.is_empty() {
            return Err(Error::invalid(
                name,
                shown(member),
                format!("member {} has an empty key", index + 1),
            ));
        }
        out.push((key, val));
    }
    Ok(out)
}

fn decode(s: &str) -> Option<String> {
    percent_decode_str(s)
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// A header name as messages show it. A name HTTP refuses is often a whole header written
/// `Name: value` where `name=value` was expected (`Authorization: Basic dXNlcjpwYXNz=` splits
/// at the base64 padding), so only its leading token is shown, never what follows it.
pub(crate) fn shown_header_name(name: &str) -> String {
    if http::HeaderName::from_bytes(name.as_bytes()).is_ok() {
        return name.to_owned();
    }
    let token = name
        .find(|c: char| !(c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)))
        .map_or(name, |end| &name[..end]);
    format!("{token}<redacted>")
}

/// Checks that header names and values can go on the wire, describing bad ones without
/// their values when they may be secrets.
pub(crate) fn check_headers(setting: &str, headers: &[(String, String)]) -> Result<()> {
    for (k, v) in headers {
        if http::HeaderName::from_bytes(k.as_bytes()).is_err() {
            return Err(Error::invalid(
                setting,
                shown_header_name(k),
                "not a valid HTTP header name; expected name=value pairs",
            ));
        }
        if http::HeaderValue::from_str(v).is_err() {
            // Any header may carry a credential: never show a value.
            return Err(Error::invalid(
                setting,
                format!("{k}=<redacted>"),
                "the header value contains characters HTTP does not allow",
            ));
        }
    }
    Ok(())
}

/// An endpoint URL: absolute, with an `http` or `https` scheme and a host.
pub(crate) fn endpoint(setting: &str, value: &str) -> Result<String> {
    let value = value.trim();
    let shown = redact_url(value);
    let parsed = url::Url::parse(value).map_err(|e| {
        Error::invalid(
            setting,
            shown.clone(),
            format!("not a URL ({e}); expected e.g. http://localhost:4318"),
        )
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(Error::invalid(
            setting,
            shown.clone(),
            "expected an http:// or https:// URL with a host",
        ));
    }
    if value.parse::<http::Uri>().is_err() {
        return Err(Error::invalid(
            setting,
            shown,
            "not a URI an HTTP client accepts",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_with_percent_encoding() {
        let kv = key_value_list("V", "a=1, b = x%20y ,,c=", false).unwrap_or_default();
        assert_eq!(
            kv,
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into())
            ]
        );
    }

    #[test]
    fn malformed_header_lists_name_the_variable_but_not_the_secret() {
        let err = key_value_list("OTEL_EXPORTER_OTLP_HEADERS", "ok=1,sk-live-123", true)
            .expect_err("a member without '=' is an error");
        let msg = err.to_string();
        assert!(msg.contains("OTEL_EXPORTER_OTLP_HEADERS"), "{msg}");
        assert!(msg.contains("member 2"), "{msg}");
        assert!(!msg.contains("sk-live"), "{msg}");
    }

    #[test]
    fn malformed_resource_lists_show_the_value() {
        let err = key_value_list("OTEL_RESOURCE_ATTRIBUTES", "=x", false)
            .expect_err("an empty key is an error");
        assert!(err.to_string().contains("\"=x\""), "{err}");
    }

    #[test]
    fn timeouts_must_be_numbers() {
        assert_eq!(millis("T", "250").ok(), Some(Duration::from_millis(250)));
        let err =
            millis("OTEL_EXPORTER_OTLP_TIMEOUT", "10s").expect_err("unit suffixes are not allowed");
        assert!(err.to_string().contains("OTEL_EXPORTER_OTLP_TIMEOUT"));
        assert!(err.to_string().contains("10s"));
    }

    #[test]
    fn endpoint_errors_never_show_credentials() {
        let err = endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", "http://u:s3cr3t@host:99999/")
            .expect_err("the port is out of range");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(err.to_string().contains("<redacted>@host"), "{err}");
    }

    #[test]
    fn malformed_endpoint_errors_never_show_credentials() {
        for bad in [
            "user:s3cr3t@collector:4318",
            "http:/user:s3cr3t@collector:4318/",
            "http://user:s3/cr3t@collector:4318/",
        ] {
            let err = endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", bad).expect_err(bad);
            let shown = format!("{err} {err:?}");
            assert!(!shown.contains("s3"), "{shown}");
            assert!(shown.contains("<redacted>@collector:4318"), "{shown}");
        }
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        assert!(endpoint("E", "http://127.0.0.1:4318/v1/traces").is_ok());
        for bad in ["localhost:4318", "not a url", "ftp://x/", "http://"] {
            let err = endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", bad).expect_err(bad);
            assert!(
                err.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"),
                "{err}"
            );
        }
    }

    #[test]
    fn a_header_written_as_name_colon_value_is_rejected_without_the_credential() {
        // Base64 padding gives the member an '=', so the whole header lands in the name.
        let list = "Authorization: Basic dXNlcjpzM2NyM3Q=";
        let parsed = key_value_list("OTEL_EXPORTER_OTLP_HEADERS", list, true)
            .expect("the member has an '='");
        let err = check_headers("OTEL_EXPORTER_OTLP_HEADERS", &parsed)
            .expect_err("a name with a space and a colon is not a header name");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("dXNlcjpzM2NyM3Q"), "{shown}");
        assert!(!shown.contains("Basic"), "{shown}");
        assert!(shown.contains("Authorization<redacted>"), "{shown}");

        let err = key_value_list(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization: Bearer x%ff=",
            true,
        )
        .expect_err("%ff is not UTF-8");
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains("Bearer"), "{shown}");
    }

    #[test]
    fn header_values_with_control_characters_are_rejected_without_the_value() {
        let err = check_headers("headers", &[("authorization".into(), "Bearer a\nb".into())])
            .expect_err("newline is not allowed");
        assert!(!err.to_string().contains("Bearer"), "{err}");
    }
}
