//! The exposition of a registry, for any transport: OpenMetrics text (with exemplars), or
//! Prometheus's classic text format for clients that do not ask for OpenMetrics.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

/// The content type of the OpenMetrics text exposition that [`encode`] writes.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The content type of Prometheus's classic text format that [`encode_text`] writes.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `registry` as OpenMetrics text, exemplars and `# EOF` included: what Prometheus
/// asks for when it scrapes.
///
/// ```
/// use prometheus_client::registry::Registry;
/// # fn main() -> Result<(), hivetrace_metrics::Error> {
/// let metrics = hivetrace_metrics::MetricsProcessor::builder().namespace("honeyhive").build()?;
/// let mut registry = Registry::default();
/// metrics.register(&mut registry);
/// let text = hivetrace_metrics::encode(&registry)?;
/// assert!(text.starts_with("# HELP honeyhive_traces "));
/// assert!(text.ends_with("# EOF\n"));
/// # Ok(()) }
/// ```
pub fn encode(registry: &Registry) -> Result<String> {
    // Expositions are about as long as the previous one: start there, and skip the copies
    // of a string doubling its way up to 100 KB.
    static LAST_LEN: AtomicUsize = AtomicUsize::new(4096);
    let hint = LAST_LEN.load(Ordering::Relaxed);
    let mut text = String::with_capacity(hint + hint / 8);
    prometheus_client::encoding::text::encode(&mut text, registry).map_err(|_| Error::Encode)?;
    LAST_LEN.store(text.len().clamp(4096, 16 << 20), Ordering::Relaxed);
    Ok(text)
}

/// Encodes `registry` in Prometheus's classic text format (version 0.0.4): the same samples as
/// [`encode`] without exemplars, `# UNIT` and `# EOF`, counters' `# TYPE` naming the `_total`
/// series. For `curl`, `promtool check metrics` and scrapers that do not speak OpenMetrics.
///
/// ```
/// use prometheus_client::registry::Registry;
/// # fn main() -> Result<(), hivetrace_metrics::Error> {
/// let metrics = hivetrace_metrics::MetricsProcessor::builder().build()?;
/// let mut registry = Registry::default();
/// metrics.register(&mut registry);
/// let text = hivetrace_metrics::encode_text(&registry)?;
/// assert!(text.contains("# TYPE hivetrace_traces_total counter\n"));
/// assert!(!text.contains("# EOF"));
/// # Ok(()) }
/// ```
pub fn encode_text(registry: &Registry) -> Result<String> {
    Ok(openmetrics_to_text(&encode(registry)?))
}

/// Rewrites OpenMetrics text (as prometheus-client writes it) into the classic format.
pub(crate) fn openmetrics_to_text(openmetrics: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            types.insert(name, kind);
        }
    }
    // The classic name of a family's `# HELP` / `# TYPE` line, and its classic type.
    let classic = |name: &str| -> (String, &'static str) {
        match types.get(name).copied() {
            Some("counter") => (format!("{name}_total"), "counter"),
            Some("info") => (format!("{name}_info"), "gauge"),
            Some("gauge") => (name.to_owned(), "gauge"),
            Some("histogram") => (name.to_owned(), "histogram"),
            Some("summary") => (name.to_owned(), "summary"),
            _ => (name.to_owned(), "untyped"),
        }
    };

    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, _) = classic(name);
            out.push_str("# HELP ");
            out.push_str(&name);
            out.push(' ');
            // OpenMetrics escapes `"` in help text; the classic format does not.
            out.push_str(&help.replace("\\\"", "\""));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let name = rest.split_once(' ').map_or(rest, |(n, _)| n);
            let (name, kind) = classic(name);
            out.push_str("# TYPE ");
            out.push_str(&name);
            out.push(' ');
            out.push_str(kind);
        } else if line.starts_with('#') {
            out.push_str(line);
        } else {
            out.push_str(without_exemplar(line));
        }
        out.push('\n');
    }
    out
}

/// A sample line without its ` # {labels} value [timestamp]` exemplar. The exemplar starts
/// after the label set, whose quoted values may themselves hold `#`.
fn without_exemplar(line: &str) -> &str {
    let bytes = line.as_bytes();
    let mut i = 0;
    let mut in_labels = false;
    let mut in_quotes = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if in_quotes => i += 1,
            b'"' if in_labels => in_quotes = !in_quotes,
            b'{' if !in_quotes => in_labels = true,
            b'}' if !in_quotes => in_labels = false,
            b'#' if !in_labels && i > 0 && bytes[i - 1] == b' ' => {
                return line[..i - 1].trim_end();
            }
            _ => {}
        }
        i += 1;
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn lines_without_exemplars_are_kept_whole(
            name in "[a-z_]{1,12}",
            value in "[a-z0-9 #{}]{0,20}",
            sample in "[0-9.]{1,8}",
        ) {
            let escaped = value.replace('"', "");
            let line = format!("{name}{{label=\"{escaped}\"}} {sample}");
            proptest::prop_assert_eq!(without_exemplar(&line), line.as_str());
            let with = format!("{line} # {{trace_id=\"ab\"}} 0.5");
            proptest::prop_assert_eq!(without_exemplar(&with), line.as_str());
        }
    }

    #[test]
    fn exemplars_units_and_eof_are_dropped_and_counters_renamed() {
        let om = "# HELP a_traces Spans \\\"ok\\\".\n# TYPE a_traces counter\n\
                  a_traces_total{endpoint=\"x # {y}\"} 3.0\n\
                  # HELP a_lat Latency.\n# TYPE a_lat histogram\n# UNIT a_lat seconds\n\
                  a_lat_bucket{le=\"1.0\"} 2 # {trace_id=\"ab\"} 0.5 1767225600.5\n\
                  # HELP b Build.\n# TYPE b info\nb_info{v=\"1\"} 1\n# EOF\n";
        let text = openmetrics_to_text(om);
        assert_eq!(
            text,
            "# HELP a_traces_total Spans \"ok\".\n# TYPE a_traces_total counter\n\
             a_traces_total{endpoint=\"x # {y}\"} 3.0\n\
             # HELP a_lat Latency.\n# TYPE a_lat histogram\n\
             a_lat_bucket{le=\"1.0\"} 2\n\
             # HELP b_info Build.\n# TYPE b_info gauge\nb_info{v=\"1\"} 1\n"
        );
    }
}
