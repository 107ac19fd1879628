//! The Prometheus families of a [`MetricsProcessor`], read at scrape time.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::processor::{MetricsProcessor, Shared};
use crate::series::OVERFLOW_LABEL;

/// The families of a [`MetricsProcessor`] as a `prometheus_client` collector. From
/// [`MetricsProcessor::collector`]; [`MetricsProcessor::register`] adds it to a registry.
///
/// With the namespace `ns` (default `hivetrace`):
///
/// | family | type | labels |
/// |---|---|---|
/// | `ns_traces_total` | counter, adjusted for sampling | `endpoint`, `status` (`ok`, `error`) |
/// | `ns_trace_latency_seconds` | histogram, exemplars `trace_id`, `span_id` on sampled spans | `endpoint` |
/// | `ns_trace_errors_total` | counter, adjusted for sampling | `error_type` |
/// | `ns_metrics_overflow_total` | counter: spans recorded under `__overflow__` because the cap was reached | `label` (`endpoint`, `error_type`) |
/// | `ns_uptime_seconds` | gauge | |
///
/// The histogram counts each recorded span once (Prometheus histograms count whole
/// observations); `ns_traces_total` carries the sampling-adjusted totals.
///
/// Spans only touch the processor's shards; the histogram is brought up to date from them (one
/// histogram observation per span since the previous update, tens of nanoseconds each) by
/// each scrape and, once a second, by a background thread. Other state joins the same
/// `Registry` through its own `Collector`: hivetrace-resilience's `BreakerCollector`, say.
///
/// ```
/// use prometheus_client::registry::Registry;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = hivetrace_metrics::MetricsProcessor::builder().build()?;
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(metrics.collector()));
/// let text = hivetrace_metrics::encode(&registry)?;
/// assert!(text.contains("# TYPE hivetrace_traces counter"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct MetricsCollector {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for MetricsCollector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsCollector")
            .field("namespace", &self.shared.names.namespace)
            .finish()
    }
}

impl MetricsProcessor {
    /// A collector of this processor's families, to register in a `prometheus_client` registry.
    ///
    /// The first call starts a thread (`hivetrace-metrics-sync`) that brings the latency
    /// histograms up to date once a second, off the threads that record spans.
    pub fn collector(&self) -> MetricsCollector {
        crate::histogram_sync::start(&self.shared);
        MetricsCollector {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Registers [`collector`](MetricsProcessor::collector) in `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(self.collector()));
    }
}

impl Collector for MetricsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let s = &*self.shared;
        let names = &s.names;
        let endpoints = s.endpoints.table();
        let overflow = std::iter::once((OVERFLOW_LABEL, &endpoints.overflow));
        let all = || {
            endpoints
                .series
                .iter()
                .map(|(k, v)| (&**k, v))
                .chain(overflow.clone())
        };

        {
            let mut family = encoder.encode_descriptor(
                &names.traces,
                "Spans ended, by endpoint (span name) and status, adjusted for sampling.",
                None,
                MetricType::Counter,
            )?;
            for (endpoint, stats) in all() {
                let totals = stats.counts();
                if totals.spans == 0 {
                    continue;
                }
                for (status, value) in [("ok", totals.ok), ("error", totals.errors)] {
                    let labels = [("endpoint", endpoint), ("status", status)];
                    family
                        .encode_family(&labels)?
                        .encode_counter::<NoLabelSet, f64, f64>(&value, None)?;
                }
            }
        }

        {
            let mut family = encoder.encode_descriptor(
                &names.latency,
                "Span latency by endpoint; exemplars link to sampled traces.",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (endpoint, stats) in all() {
                if stats.counts().spans == 0 {
                    continue;
                }
                stats.sync_histogram();
                let labels = [("endpoint", endpoint)];
                stats.histogram.encode(family.encode_family(&labels)?)?;
            }
        }

        let error_types = s.error_types.table();
        {
            let mut family = encoder.encode_descriptor(
                &names.errors,
                "Failed spans by error type, adjusted for sampling.",
                None,
                MetricType::Counter,
            )?;
            let overflow = std::iter::once((OVERFLOW_LABEL, &error_types.overflow));
            let all = error_types
                .series
                .iter()
                .map(|(k, v)| (&**k, v))
                .chain(overflow);
            for (error_type, stats) in all {
                let value = stats.get();
                if value > 0.0 {
                    family
                        .encode_family(&[("error_type", error_type)])?
                        .encode_counter::<NoLabelSet, f64, f64>(&value, None)?;
                }
            }
        }

        {
            let mut family = encoder.encode_descriptor(
                &names.overflow,
                "Spans recorded under the __overflow__ label value because a label reached its cardinality cap.",
                None,
                MetricType::Counter,
            )?;
            for (label, count) in [
                ("endpoint", endpoints.overflowed.load(Ordering::Relaxed)),
                ("error_type", error_types.overflowed.load(Ordering::Relaxed)),
            ] {
                family
                    .encode_family(&[("label", label)])?
                    .encode_counter::<NoLabelSet, u64, u64>(&count, None)?;
            }
        }

        let uptime = s.clock.now_nanos().saturating_sub(s.created) as f64 / 1e9;
        encoder
            .encode_descriptor(
                &names.uptime,
                "Seconds since the metrics processor started.",
                Some(&Unit::Seconds),
                MetricType::Gauge,
            )?
            .encode_gauge(&uptime)?;
        Ok(())
    }
}
