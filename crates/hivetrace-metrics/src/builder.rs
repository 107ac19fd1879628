//! Settings of a [`MetricsProcessor`](crate::MetricsProcessor), checked when it is built.

use std::sync::Arc;
use std::time::Duration;

use hivetrace_core::clock::{Clock, SystemClock};

use crate::error::{Error, Result};
use crate::processor::MetricsProcessor;
use crate::weight::Weighting;
use crate::window::SLOTS;

/// The namespace (metric name prefix) unless set: `hivetrace_traces_total`, ...
pub const DEFAULT_NAMESPACE: &str = "hivetrace";

/// The most label values per label (`endpoint`, `error_type`) unless set.
pub const DEFAULT_MAX_SERIES: usize = 200;

/// The length of the recent window of percentiles unless set.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Latency histogram buckets (seconds) unless set: from 5 ms (a cache hit, a tool call) to
/// 10 minutes (a long agent run), dense where LLM calls fall (0.25 s to 30 s).
pub const DEFAULT_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];

/// The shortest recent window: one millisecond per slot.
const MIN_WINDOW: Duration = Duration::from_millis(SLOTS as u64);

/// Configures a [`MetricsProcessor`]. From [`MetricsProcessor::builder`].
///
/// ```
/// use std::time::Duration;
/// use hivetrace_metrics::MetricsProcessor;
///
/// # fn main() -> Result<(), hivetrace_metrics::Error> {
/// let metrics = MetricsProcessor::builder()
///     .namespace("honeyhive") // honeyhive_traces_total, as the seed's dashboards expect
///     .max_series(100)
///     .window(Duration::from_secs(300))
///     .build()?;
/// assert_eq!(metrics.namespace(), "honeyhive");
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct MetricsProcessorBuilder {
    pub(crate) namespace: String,
    pub(crate) max_series: usize,
    pub(crate) window: Duration,
    pub(crate) buckets: Vec<f64>,
    pub(crate) weighting: Weighting,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) shards: usize,
}

impl Default for MetricsProcessorBuilder {
    fn default() -> Self {
        let parallelism = std::thread::available_parallelism().map_or(1, |n| n.get());
        MetricsProcessorBuilder {
            namespace: DEFAULT_NAMESPACE.to_owned(),
            max_series: DEFAULT_MAX_SERIES,
            window: DEFAULT_WINDOW,
            buckets: DEFAULT_BUCKETS.to_vec(),
            weighting: Weighting::default(),
            clock: Arc::new(SystemClock::new()),
            shards: parallelism.next_power_of_two().min(8),
        }
    }
}

impl MetricsProcessorBuilder {
    /// The prefix of every metric name; default `hivetrace`. Letters, digits, `_` and `:`,
    /// not starting with a digit.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The cardinality guard: at most this many endpoints (span names) and as many error
    /// types; further ones are recorded under the label value
    /// [`OVERFLOW_LABEL`](crate::OVERFLOW_LABEL) and counted in `<ns>_metrics_overflow_total`.
    /// Default [`DEFAULT_MAX_SERIES`].
    pub fn max_series(mut self, max: usize) -> Self {
        self.max_series = max;
        self
    }

    /// The recent window of [`MetricsSnapshot::recent`](crate::MetricsSnapshot::recent);
    /// default one minute. It moves in steps of a sixth of its length.
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window;
        self
    }

    /// The upper bounds (seconds) of the latency histogram's buckets; `+Inf` is added.
    pub fn buckets(mut self, buckets: impl IntoIterator<Item = f64>) -> Self {
        self.buckets = buckets.into_iter().collect();
        self
    }

    /// How sampled spans are weighed; default [`Weighting::Threshold`].
    pub fn weighting(mut self, weighting: Weighting) -> Self {
        self.weighting = weighting;
        self
    }

    /// The clock that places spans in the recent window and measures uptime.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// How many independently locked shards each endpoint has; default the number of CPUs
    /// rounded up to a power of two, at most 8.
    pub fn shards(mut self, shards: usize) -> Self {
        self.shards = shards;
        self
    }

    /// Builds the processor, or says which setting is unusable.
    pub fn build(self) -> Result<MetricsProcessor> {
        if !valid_metric_name(&self.namespace) {
            return Err(Error::invalid(
                "namespace",
                &self.namespace,
                "expected letters, digits, '_' or ':', not starting with a digit",
            ));
        }
        if self.max_series == 0 {
            return Err(Error::invalid(
                "max_series",
                0,
                "expected at least one series per label",
            ));
        }
        if self.window < MIN_WINDOW {
            return Err(Error::invalid(
                "window",
                format!("{:?}", self.window),
                "expected at least 6 ms",
            ));
        }
        let increasing = self.buckets.windows(2).all(|w| w[0] < w[1]);
        let finite = self.buckets.iter().all(|b| b.is_finite() && *b > 0.0);
        if self.buckets.is_empty() || !increasing || !finite {
            return Err(Error::invalid(
                "buckets",
                format!("{:?}", self.buckets),
                "expected finite positive bounds in increasing order",
            ));
        }
        if !(1..=64).contains(&self.shards) {
            return Err(Error::invalid("shards", self.shards, "expected 1 to 64"));
        }
        self.weighting.validate()?;
        Ok(MetricsProcessor::from_builder(self))
    }
}

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`, Prometheus's metric name syntax.
pub(crate) fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invalid_setting(builder: MetricsProcessorBuilder) -> &'static str {
        match builder.build() {
            Err(Error::InvalidConfig { setting, .. }) => setting,
            other => panic!("expected an invalid setting, got {other:?}"),
        }
    }

    #[test]
    fn unusable_settings_are_named() {
        let b = MetricsProcessor::builder;
        assert_eq!(invalid_setting(b().namespace("9lives")), "namespace");
        assert_eq!(invalid_setting(b().namespace("a-b")), "namespace");
        assert_eq!(invalid_setting(b().namespace("")), "namespace");
        assert_eq!(invalid_setting(b().max_series(0)), "max_series");
        assert_eq!(invalid_setting(b().window(Duration::ZERO)), "window");
        assert_eq!(invalid_setting(b().buckets([1.0, 0.5])), "buckets");
        assert_eq!(invalid_setting(b().buckets([f64::NAN])), "buckets");
        assert_eq!(invalid_setting(b().buckets([])), "buckets");
        assert_eq!(invalid_setting(b().shards(0)), "shards");
        assert_eq!(
            invalid_setting(b().weighting(Weighting::Probability(0.0))),
            "weighting probability"
        );
        assert!(b().namespace("honeyhive:llm_2").build().is_ok());
    }
}
