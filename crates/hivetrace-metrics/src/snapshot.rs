//! What [`MetricsProcessor::snapshot`](crate::MetricsProcessor::snapshot) returns: counts,
//! error rates and latency percentiles, overall and per endpoint, serializable.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde::Serialize;
use sketches_ddsketch::DDSketch;

use crate::processor::Shared;
use crate::window::new_sketch;

/// Latency percentiles of a set of spans, in milliseconds, from a DDSketch: each percentile is
/// within 1% of the exact value of the same rank. All zero when `count` is zero.
///
/// ```
/// let summary = hivetrace_metrics::LatencySummary::default();
/// assert_eq!((summary.count, summary.p99_ms), (0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LatencySummary {
    /// Spans in the distribution, adjusted for sampling (rounded to whole spans).
    pub count: u64,
    /// The mean.
    pub mean_ms: f64,
    /// The median.
    pub p50_ms: f64,
    /// The 95th percentile.
    pub p95_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The largest latency seen.
    pub max_ms: f64,
}

impl LatencySummary {
    pub(crate) fn of(sketch: &DDSketch) -> Self {
        let count = sketch.count() as u64;
        if count == 0 {
            return LatencySummary::default();
        }
        let q = |q: f64| sketch.quantile(q).ok().flatten().unwrap_or(0.0) * 1000.0;
        LatencySummary {
            count,
            mean_ms: sketch.sum().unwrap_or(0.0) / count as f64 * 1000.0,
            p50_ms: q(0.5),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: sketch.max().unwrap_or(0.0) * 1000.0,
        }
    }
}

/// One endpoint's (span name's) metrics.
///
/// ```
/// let e = hivetrace_metrics::EndpointSnapshot::default();
/// assert_eq!(e.error_rate, 0.0);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct EndpointSnapshot {
    /// Spans, adjusted for sampling: a span kept with probability `p` counts `1/p`.
    pub count: f64,
    /// Spans recorded, each counted once.
    pub spans: u64,
    /// Failed spans, adjusted for sampling.
    pub error_count: f64,
    /// `error_count / count`, 0 when there are none.
    pub error_rate: f64,
    /// Latency since the start (or the last reset).
    pub latency: LatencySummary,
    /// Latency over the recent window.
    pub recent: LatencySummary,
}

/// Everything the processor knows, at one moment: [`MetricsProcessor::snapshot`](crate::MetricsProcessor::snapshot).
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = hivetrace_metrics::MetricsProcessor::builder().build()?;
/// let json = serde_json::to_value(metrics.snapshot())?;
/// assert_eq!(json["count"], 0.0);
/// assert!(json["endpoints"].as_object().unwrap().is_empty());
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Seconds since the processor was built.
    pub uptime_seconds: f64,
    /// Seconds since the last [`reset`](crate::MetricsProcessor::reset) (or since built).
    pub since_reset_seconds: f64,
    /// The length of the recent window, in seconds.
    pub window_seconds: f64,
    /// Spans, adjusted for sampling.
    pub count: f64,
    /// Spans recorded, each counted once.
    pub spans: u64,
    /// Failed spans, adjusted for sampling.
    pub error_count: f64,
    /// `error_count / count`, 0 when there are none.
    pub error_rate: f64,
    /// Latency of every span since the start (or the last reset).
    pub latency: LatencySummary,
    /// Latency of the spans of the recent window.
    pub recent: LatencySummary,
    /// Per endpoint (span name); endpoints past the cardinality cap are under
    /// [`OVERFLOW_LABEL`](crate::OVERFLOW_LABEL).
    pub endpoints: BTreeMap<String, EndpointSnapshot>,
    /// Failed spans per error type, adjusted for sampling.
    pub error_types: BTreeMap<String, f64>,
    /// Spans recorded under the overflow endpoint because the cap on endpoints was reached.
    pub overflowed: u64,
}

fn rate(errors: f64, count: f64) -> f64 {
    if count > 0.0 { errors / count } else { 0.0 }
}

pub(crate) fn take(s: &Shared) -> MetricsSnapshot {
    let now = s.clock.now_nanos();
    let epoch = s.epoch(s.clock.wall_time());
    let mut all_lifetime = new_sketch();
    let mut all_recent = new_sketch();
    let mut snapshot = MetricsSnapshot {
        uptime_seconds: now.saturating_sub(s.created) as f64 / 1e9,
        since_reset_seconds: now.saturating_sub(s.reset_at.load(Ordering::Relaxed)) as f64 / 1e9,
        window_seconds: s.window.as_secs_f64(),
        ..MetricsSnapshot::default()
    };

    let endpoints = s.endpoints.table();
    let overflow = (crate::OVERFLOW_LABEL, &endpoints.overflow);
    let named = endpoints.series.iter().map(|(k, v)| (&**k, v));
    for (name, stats) in named.chain(std::iter::once(overflow)) {
        let (mut lifetime, mut recent) = (new_sketch(), new_sketch());
        let totals = stats.read(epoch, &mut lifetime, &mut recent);
        if totals.spans == 0 {
            continue;
        }
        let _ = all_lifetime.merge(&lifetime);
        let _ = all_recent.merge(&recent);
        let count = totals.ok + totals.errors;
        snapshot.count += count;
        snapshot.spans += totals.spans;
        snapshot.error_count += totals.errors;
        snapshot.endpoints.insert(
            name.to_owned(),
            EndpointSnapshot {
                count,
                spans: totals.spans,
                error_count: totals.errors,
                error_rate: rate(totals.errors, count),
                latency: LatencySummary::of(&lifetime),
                recent: LatencySummary::of(&recent),
            },
        );
    }
    snapshot.overflowed = endpoints.overflowed.load(Ordering::Relaxed);
    snapshot.error_rate = rate(snapshot.error_count, snapshot.count);
    snapshot.latency = LatencySummary::of(&all_lifetime);
    snapshot.recent = LatencySummary::of(&all_recent);

    let errors = s.error_types.table();
    let overflow = (crate::OVERFLOW_LABEL, &errors.overflow);
    let named = errors.series.iter().map(|(k, v)| (&**k, v));
    for (name, stats) in named.chain(std::iter::once(overflow)) {
        let count = stats.get();
        if count > 0.0 {
            snapshot.error_types.insert(name.to_owned(), count);
        }
    }
    snapshot
}
