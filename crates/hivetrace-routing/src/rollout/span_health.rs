//! Feeding a [`HealthRecorder`] from the spans a service already makes.

use std::time::Duration;

use opentelemetry::Context;
use opentelemetry::trace::Status;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span as SdkSpan, SpanData, SpanProcessor};

use crate::propagation::{TIER_ATTRIBUTE, TIER_SOURCE_ATTRIBUTE};
use crate::rollout::recorder::HealthRecorder;
use crate::tier::Tier;

/// A span processor that records each routed request in a [`HealthRecorder`]: every span
/// carrying a recorded decision (`deployment.tier` and `deployment.tier.source`, as
/// [`Decision::record`](crate::Decision::record) writes them on the request's span) counts
/// as one request of its tier, its duration as the latency and an error status as a failure.
///
/// Child spans (which carry only `deployment.tier`) are not counted, so each request counts
/// once.
///
/// ```
/// use hivetrace_routing::rollout::{HealthRecorder, HealthSignal, HealthSpanProcessor};
/// use hivetrace_routing::{Decision, Tier, TierSource};
///
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let health = HealthRecorder::new();
/// let tracer = hivetrace_core::Tracer::builder()
///     .console_writer(std::io::sink())
///     .observer(HealthSpanProcessor::new(health.clone()))
///     .build()?;
/// let span = tracer.span("handle").start();
/// Decision::new(Tier::CANARY, TierSource::Percentage).record(&span);
/// span.record_error_message("Timeout", "the model did not answer");
/// drop(span);
/// let report = health.report();
/// assert_eq!((report.canary.requests, report.canary.errors), (1, 1));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct HealthSpanProcessor {
    recorder: HealthRecorder,
}

impl HealthSpanProcessor {
    /// Records into `recorder` (keep a clone to give the rollout plan).
    pub fn new(recorder: HealthRecorder) -> Self {
        HealthSpanProcessor { recorder }
    }
}

/// The cheaper way to attach it to a hivetrace tracer (`TracerBuilder::observer`): it reads
/// each ended span where it is, with no copy.
impl hivetrace_core::SpanObserver for HealthSpanProcessor {
    fn on_end(&self, span: &SpanData) {
        self.observe(span);
    }
}

impl SpanProcessor for HealthSpanProcessor {
    fn on_start(&self, _span: &mut SdkSpan, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        self.observe(&span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

impl HealthSpanProcessor {
    /// Feeds the recorder from one ended span that carries a routing decision.
    fn observe(&self, span: &SpanData) {
        let mut tier = None;
        let mut decided = false;
        for kv in &span.attributes {
            match kv.key.as_str() {
                TIER_ATTRIBUTE => tier = Tier::builtin(&kv.value.as_str()),
                TIER_SOURCE_ATTRIBUTE => decided = true,
                _ => {}
            }
        }
        let (Some(tier), true) = (tier, decided) else {
            return;
        };
        let latency = span
            .end_time
            .duration_since(span.start_time)
            .unwrap_or(Duration::ZERO);
        let ok = !matches!(span.status, Status::Error { .. });
        self.recorder.record(&tier, latency, ok);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::decision::{Decision, TierSource};
    use crate::rollout::health::HealthSignal;

    #[test]
    fn only_spans_with_a_recorded_decision_count() {
        let health = HealthRecorder::new();
        let tracer = hivetrace_core::Tracer::builder()
            .console_writer(std::io::sink())
            .observer(HealthSpanProcessor::new(health.clone()))
            .build()
            .unwrap();
        for (tier, fail) in [
            (Tier::STABLE, false),
            (Tier::STABLE, true),
            (Tier::CANARY, false),
        ] {
            let root = tracer.span("handle").start();
            Decision::new(tier.clone(), TierSource::Percentage).record(&root);
            root.in_scope(|| {
                let child = tracer.span("model").start();
                child.set_attribute(opentelemetry::KeyValue::new(
                    TIER_ATTRIBUTE,
                    tier.as_str().to_owned(),
                ));
            });
            if fail {
                root.record_error_message("E", "failed");
            }
        }
        drop(tracer.span("unrouted").start());
        let r = health.report();
        assert_eq!((r.stable.requests, r.stable.errors), (2, 1));
        assert_eq!((r.canary.requests, r.canary.errors), (1, 0));
        assert!(r.canary.p95_latency.is_some());
    }
}
