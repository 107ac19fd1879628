//! A tracer's export counters (`Tracer::stats`) as Prometheus families.

use std::fmt;
use std::sync::Arc;

use hivetrace_core::{Tracer, TracerStats};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;

use crate::builder::valid_metric_name;
use crate::error::{Error, Result};
use crate::processor::MetricsProcessor;

/// Reads a tracer's [`TracerStats`] at each scrape and writes them as Prometheus families:
/// `ns_spans_started_total`, `ns_spans_exported_total`, `ns_spans_dropped_total` (queue full or
/// after shutdown), `ns_spans_export_failed_total`, `ns_spans_unsampled_total`,
/// `ns_export_errors_total` and the gauge `ns_spans_queued`.
///
/// [`TracerCollector::new`] (and [`MetricsProcessor::tracer_collector`], which uses the
/// processor's namespace) keeps a clone of the tracer, so dropping your handle no longer shuts
/// it down: call `Tracer::shutdown`. [`TracerCollector::from_fn`] reads any source.
///
/// ```
/// use hivetrace_metrics::TracerCollector;
/// use prometheus_client::registry::Registry;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
/// let mut registry = Registry::default();
/// registry.register_collector(Box::new(TracerCollector::new("honeyhive", &tracer)?));
/// tracer.span("work").start().end();
/// tracer.force_flush()?;
/// let text = hivetrace_metrics::encode(&registry)?;
/// assert!(text.contains("honeyhive_spans_exported_total 1"));
/// assert!(text.contains("honeyhive_spans_dropped_total 0"));
/// # tracer.shutdown()?; Ok(()) }
/// ```
#[derive(Clone)]
pub struct TracerCollector {
    namespace: Arc<str>,
    names: Arc<[String; 7]>,
    stats: Arc<dyn Fn() -> TracerStats + Send + Sync>,
}

impl fmt::Debug for TracerCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TracerCollector")
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

impl TracerCollector {
    /// A collector of `tracer`'s stats, under `namespace` (a metric name prefix: letters,
    /// digits, `_` and `:`, not starting with a digit).
    pub fn new(namespace: &str, tracer: &Tracer) -> Result<Self> {
        let tracer = tracer.clone();
        Self::from_fn(namespace, move || tracer.stats())
    }

    /// A collector of whatever `stats` returns at each scrape.
    pub fn from_fn(
        namespace: &str,
        stats: impl Fn() -> TracerStats + Send + Sync + 'static,
    ) -> Result<Self> {
        if !valid_metric_name(namespace) {
            return Err(Error::invalid(
                "namespace",
                namespace,
                "expected letters, digits, '_' or ':', not starting with a digit",
            ));
        }
        Ok(Self::unchecked(namespace, Arc::new(stats)))
    }

    fn unchecked(namespace: &str, stats: Arc<dyn Fn() -> TracerStats + Send + Sync>) -> Self {
        let name = |suffix: &str| format!("{namespace}_{suffix}");
        TracerCollector {
            namespace: Arc::from(namespace),
            names: Arc::new([
                name("spans_started"),
                name("spans_exported"),
                name("spans_dropped"),
                name("spans_export_failed"),
                name("spans_unsampled"),
                name("export_errors"),
                name("spans_queued"),
            ]),
            stats,
        }
    }
}

impl MetricsProcessor {
    /// A [`TracerCollector`] of `tracer`'s stats under this processor's namespace.
    pub fn tracer_collector(&self, tracer: &Tracer) -> TracerCollector {
        let tracer = tracer.clone();
        TracerCollector::unchecked(self.namespace(), Arc::new(move || tracer.stats()))
    }
}

impl Collector for TracerCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let stats = (self.stats)();
        let n = &self.names;
        let counters: [(&str, &str, u64); 6] = [
            (&n[0], "Recording spans started.", stats.started),
            (&n[1], "Spans the exporter accepted.", stats.exported),
            (
                &n[2],
                "Spans dropped before export: the queue was full, or the tracer was shut down.",
                stats.dropped,
            ),
            (
                &n[3],
                "Spans in batches the exporter failed to deliver.",
                stats.export_failed,
            ),
            (
                &n[4],
                "Spans recorded but not sampled, hence never exported.",
                stats.unsampled,
            ),
            (
                &n[5],
                "Export calls that failed or timed out.",
                stats.export_errors,
            ),
        ];
        for (name, help, value) in counters {
            encoder
                .encode_descriptor(name, help, None, MetricType::Counter)?
                .encode_counter::<NoLabelSet, u64, u64>(&value, None)?;
        }
        encoder
            .encode_descriptor(
                &n[6],
                "Spans waiting for export: in the queue, or in an export not yet answered.",
                None,
                MetricType::Gauge,
            )?
            .encode_gauge(&stats.queued)?;
        Ok(())
    }
}
