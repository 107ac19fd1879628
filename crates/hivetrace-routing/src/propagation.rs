//! The tier carried along: span attributes, the `deployment.tier` baggage entry, and honouring
//! an upstream service's decision.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opentelemetry::baggage::{Baggage, BaggageExt, KeyValueMetadata};
use opentelemetry::trace::{Span as _, TraceContextExt};
use opentelemetry::{Context, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span as SdkSpan, SpanData, SpanProcessor};

use crate::decision::{Decision, TierSource};
use crate::header::TierNames;
use crate::router::{RouteRequest, Router};
use crate::tier::Tier;

/// The span attribute holding the tier.
pub const TIER_ATTRIBUTE: &str = "deployment.tier";
/// The span attribute saying why the tier was chosen ([`TierSource::as_str`]).
pub const TIER_SOURCE_ATTRIBUTE: &str = "deployment.tier.source";
/// The baggage entry carrying the tier to downstream services.
pub const TIER_BAGGAGE: &str = "deployment.tier";

impl Decision {
    /// The two span attributes: `deployment.tier` and `deployment.tier.source`.
    pub fn attributes(&self) -> [KeyValue; 2] {
        [
            KeyValue::new(TIER_ATTRIBUTE, self.tier().to_value()),
            KeyValue::new(TIER_SOURCE_ATTRIBUTE, self.source().as_str()),
        ]
    }

    /// Records the decision on a hivetrace span (nothing when it is not recording).
    ///
    /// ```
    /// use hivetrace_routing::{Decision, Tier, TierSource};
    /// # fn main() -> Result<(), hivetrace_core::Error> {
    /// let tracer = hivetrace_core::Tracer::builder().console_writer(std::io::sink()).build()?;
    /// let span = tracer.span("handle").start();
    /// Decision::new(Tier::CANARY, TierSource::Header).record(&span);
    /// # Ok(()) }
    /// ```
    pub fn record(&self, span: &hivetrace_core::Span) {
        if span.is_recording() {
            for kv in self.attributes() {
                span.set_attribute(kv);
            }
        }
    }

    /// Records the decision on the span of `cx` (any OpenTelemetry span).
    pub fn record_in(&self, cx: &Context) {
        let span = cx.span();
        if span.is_recording() {
            span.set_attributes(self.attributes());
        }
    }

    /// `cx` with the tier added to its baggage (other entries kept), so that a propagator
    /// carries it to downstream services, which then honour it through [`UpstreamRouter`].
    ///
    /// The tier always fits: when the baggage is already at OpenTelemetry's limits (64
    /// entries, 8192 bytes), another entry is left out to make room for it.
    ///
    /// ```
    /// use hivetrace_routing::{upstream_tier, Decision, Tier, TierSource};
    /// use opentelemetry::Context;
    ///
    /// let cx = Decision::new(Tier::CANARY, TierSource::Percentage).with_baggage(&Context::new());
    /// assert_eq!(upstream_tier(&cx), Some("canary"));
    /// ```
    pub fn with_baggage(&self, cx: &Context) -> Context {
        let tier = KeyValueMetadata::new(TIER_BAGGAGE, self.tier().as_str().to_owned(), "");
        let others = cx
            .baggage()
            .iter()
            .filter(|(k, _)| k.as_str() != TIER_BAGGAGE)
            .map(|(k, (v, m))| KeyValueMetadata::new(k.clone(), v.clone(), m.clone()));
        // The tier first: the baggage drops what passes its limits, and without the tier a
        // downstream service would choose again (and child spans would carry no tier).
        let baggage: Baggage = std::iter::once(tier).chain(others).collect();
        cx.with_baggage(baggage)
    }
}

/// The tier an upstream service put in `cx`'s baggage, if any.
pub fn upstream_tier(cx: &Context) -> Option<&str> {
    cx.baggage().get(TIER_BAGGAGE).map(|v| v.as_str())
}

/// The `deployment.tier` entry of a W3C `baggage` header value, read in place (no allocation,
/// no percent-decoding: tier names need none), for services without a propagation layer.
/// When the key appears more than once, the last one counts, as in a parsed baggage.
///
/// ```
/// use hivetrace_routing::tier_in_baggage_header;
///
/// let header = "user.id=u-1, deployment.tier = canary;ttl=60,region=eu";
/// assert_eq!(tier_in_baggage_header(header), Some("canary"));
/// assert_eq!(tier_in_baggage_header("user.id=u-1"), None);
/// ```
pub fn tier_in_baggage_header(value: &str) -> Option<&str> {
    value.rsplit(',').find_map(|member| {
        let (key, rest) = member.split_once('=')?;
        if key.trim_ascii() != TIER_BAGGAGE {
            return None;
        }
        let value = rest.split(';').next().unwrap_or(rest).trim_ascii();
        (!value.is_empty()).then_some(value)
    })
}

/// Honours the tier an upstream service decided ([`RouteRequest::upstream`], read from the
/// `deployment.tier` baggage entry), so a request stays on one tier across services.
///
/// A name this service does not know passes to the next router and is counted.
///
/// ```
/// use hivetrace_routing::{Canary, Percentage, RouteRequest, Router, Tier, TierSource, UpstreamRouter};
///
/// let router = UpstreamRouter::new().or(Canary::new(Percentage::ZERO));
/// let d = router.decide(&RouteRequest::new().upstream("canary").key("user-1"));
/// assert_eq!((d.tier(), d.source()), (&Tier::CANARY, TierSource::Upstream));
/// # Ok::<(), hivetrace_routing::Error>(())
/// ```
#[derive(Clone)]
pub struct UpstreamRouter {
    names: TierNames,
    unknown: Arc<AtomicU64>,
}

impl UpstreamRouter {
    /// Honours `stable`, `canary` and `experimental`.
    pub fn new() -> Self {
        Self::with_names(TierNames::new())
    }

    /// Honours these names.
    pub fn with_names(names: TierNames) -> Self {
        UpstreamRouter {
            names,
            unknown: Arc::new(AtomicU64::new(0)),
        }
    }

    /// How many requests carried a tier this service does not know.
    pub fn unknown_count(&self) -> u64 {
        self.unknown.load(Ordering::Relaxed)
    }
}

impl Default for UpstreamRouter {
    fn default() -> Self {
        Self::new()
    }
}

impl Router for UpstreamRouter {
    #[inline]
    fn route(&self, request: &RouteRequest<'_>) -> Option<Decision> {
        let value = request.upstream_value()?;
        match self.names.find(value) {
            Some(tier) => Some(Decision::new(tier.clone(), TierSource::Upstream)),
            None => {
                self.unknown.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

impl fmt::Debug for UpstreamRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamRouter")
            .field("names", &self.names)
            .field("unknown", &self.unknown_count())
            .finish()
    }
}

/// A span processor that writes `deployment.tier` on every span started in a context whose
/// baggage carries the tier, so child spans, not only the request's root, show their tier.
///
/// The entry can come from outside (an upstream service's `baggage` header), so only a valid
/// tier name is written, lowercased: 1 to [`MAX_TIER_NAME_LEN`](crate::MAX_TIER_NAME_LEN)
/// ASCII letters, digits, `-`, `_` or `.` (see [`Tier::custom`]); any other value is left off.
///
/// Add it with `TracerBuilder::observer(TierSpanProcessor)` (or as a span processor on any provider). Spans started without the
/// baggage entry cost one context lookup.
///
/// ```
/// use hivetrace_routing::{Decision, Tier, TierSource, TierSpanProcessor};
///
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let tracer = hivetrace_core::Tracer::builder()
///     .console_writer(std::io::sink())
///     .observer(TierSpanProcessor)
///     .build()?;
/// let cx = Decision::new(Tier::CANARY, TierSource::Header).with_baggage(&opentelemetry::Context::new());
/// let span = tracer.span("handle").parent(&cx).start(); // gets deployment.tier = canary
/// # drop(span);
/// # Ok(()) }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TierSpanProcessor;

/// The cheaper way to attach it to a hivetrace tracer (`TracerBuilder::observer`): the SDK
/// then makes no copy of each ended span for it.
impl hivetrace_core::SpanObserver for TierSpanProcessor {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        SpanProcessor::on_start(self, span, cx);
    }
}

impl SpanProcessor for TierSpanProcessor {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        // The entry may come from another service's `baggage` header, unchecked: only a tier
        // name (bounded length and charset, lowercased, as `Tier` keeps it) lands on the span.
        let tier = cx
            .baggage()
            .get(TIER_BAGGAGE)
            .and_then(|value| Tier::custom(value.as_str()).ok());
        if let Some(tier) = tier {
            span.set_attribute(KeyValue::new(TIER_ATTRIBUTE, tier.to_value()));
        }
    }

    fn on_end(&self, _span: SpanData) {}

    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }

    fn shutdown_with_timeout(&self, _timeout: Duration) -> OTelSdkResult {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use opentelemetry::trace::Tracer as _;
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    #[test]
    fn baggage_keeps_other_entries_and_round_trips() {
        let cx = Context::new().with_baggage([KeyValue::new("user.id", "u-1")]);
        let cx = Decision::new(Tier::EXPERIMENTAL, TierSource::Header).with_baggage(&cx);
        assert_eq!(upstream_tier(&cx), Some("experimental"));
        assert_eq!(cx.baggage().get("user.id").map(|v| v.as_str()), Some("u-1"));
        assert_eq!(upstream_tier(&Context::new()), None);
    }

    #[test]
    fn the_tier_is_carried_even_when_the_baggage_is_full() {
        // As many bytes as OpenTelemetry's baggage holds (8192, keys and values), with the
        // upstream tier: a header choosing a tier with a longer name replaces it.
        let blob = "x".repeat(8192 - "blob".len() - "deployment.tier".len() - "stable".len());
        let cx = Context::new().with_baggage([
            KeyValue::new("blob", blob),
            KeyValue::new(TIER_BAGGAGE, "stable"),
        ]);
        assert_eq!(upstream_tier(&cx), Some("stable"));
        let cx = Decision::new(Tier::EXPERIMENTAL, TierSource::Header).with_baggage(&cx);
        assert_eq!(upstream_tier(&cx), Some("experimental"));

        // As many entries as it holds (64).
        let full: Vec<KeyValue> = (0..64)
            .map(|i| KeyValue::new(format!("k{i}"), "v"))
            .collect();
        let cx = Context::new().with_baggage(full);
        assert_eq!(cx.baggage().len(), 64);
        let cx = Decision::new(Tier::CANARY, TierSource::Header).with_baggage(&cx);
        assert_eq!(upstream_tier(&cx), Some("canary"));
        assert_eq!(cx.baggage().len(), 64);
    }

    #[test]
    fn baggage_header_members_are_matched_exactly() {
        assert_eq!(
            tier_in_baggage_header("deployment.tier=canary"),
            Some("canary")
        );
        assert_eq!(
            tier_in_baggage_header(" a=1 ,deployment.tier=stable "),
            Some("stable")
        );
        assert_eq!(
            tier_in_baggage_header("deployment.tier=stable,deployment.tier=canary"),
            Some("canary")
        );
        assert_eq!(
            tier_in_baggage_header("deployment.tier=stable,deployment.tier="),
            Some("stable")
        );
        assert_eq!(tier_in_baggage_header("deployment.tier="), None);
        assert_eq!(tier_in_baggage_header("deployment.tier=;p"), None);
        assert_eq!(tier_in_baggage_header("deployment.tiers=canary"), None);
        assert_eq!(tier_in_baggage_header("x=deployment.tier=canary"), None);
        assert_eq!(tier_in_baggage_header(""), None);
    }

    #[test]
    fn upstream_router_honours_known_tiers_and_counts_unknown_ones() {
        let router = UpstreamRouter::new();
        let d = router
            .route(&RouteRequest::new().upstream("Canary"))
            .unwrap();
        assert_eq!(d, Decision::new(Tier::CANARY, TierSource::Upstream));
        assert_eq!(router.route(&RouteRequest::new().upstream("shadow")), None);
        assert_eq!(router.route(&RouteRequest::new()), None);
        assert_eq!(router.unknown_count(), 1);
    }

    /// A provider with the [`TierSpanProcessor`], exporting to memory.
    fn tier_provider() -> (SdkTracerProvider, InMemorySpanExporter) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_span_processor(TierSpanProcessor)
            .with_simple_exporter(exporter.clone())
            .build();
        (provider, exporter)
    }

    #[test]
    fn processor_stamps_only_valid_tier_names_from_upstream_baggage() {
        use opentelemetry::propagation::TextMapPropagator;
        use opentelemetry_sdk::propagation::BaggagePropagator;

        let (provider, exporter) = tier_provider();
        let tracer = provider.tracer("test");
        let long = "x".repeat(crate::tier::MAX_TIER_NAME_LEN + 1);
        let cases = [
            ("Canary", Some("canary")),
            ("shadow-2", Some("shadow-2")),
            ("%3Cscript%3Ealert(1)%3C%2Fscript%3E", None),
            ("two%20words", None),
            (long.as_str(), None),
        ];
        for (value, _) in &cases {
            let header = format!("{TIER_BAGGAGE}={value}");
            let carrier = std::collections::HashMap::from([("baggage".to_owned(), header)]);
            let cx = BaggagePropagator::new().extract(&carrier);
            assert!(upstream_tier(&cx).is_some(), "{value}: extracted");
            drop(tracer.start_with_context(value.to_string(), &cx));
        }
        let spans = exporter.get_finished_spans().expect("finished spans");
        for (value, expected) in cases {
            let span = spans
                .iter()
                .find(|s| s.name == value)
                .expect("span per case");
            let tier = span
                .attributes
                .iter()
                .find(|kv| kv.key.as_str() == TIER_ATTRIBUTE)
                .map(|kv| kv.value.as_str().into_owned());
            assert_eq!(tier.as_deref(), expected, "{value}");
        }
    }

    #[test]
    fn processor_and_record_write_the_attributes() {
        let (provider, exporter) = tier_provider();
        let tracer = provider.tracer("test");
        let decision = Decision::new(Tier::CANARY, TierSource::Rule);
        let cx = decision.with_baggage(&Context::new());
        let root = tracer.start_with_context("root", &cx);
        let root_cx = cx.with_span(root);
        decision.record_in(&root_cx);
        let child = tracer.start_with_context("child", &root_cx);
        drop(child);
        root_cx.span().end();
        let spans = exporter.get_finished_spans().unwrap();
        let attr = |name: &str, key: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .and_then(|s| s.attributes.iter().find(|kv| kv.key.as_str() == key))
                .map(|kv| kv.value.as_str().into_owned())
        };
        assert_eq!(attr("child", TIER_ATTRIBUTE).as_deref(), Some("canary"));
        assert_eq!(attr("child", TIER_SOURCE_ATTRIBUTE), None);
        assert_eq!(attr("root", TIER_ATTRIBUTE).as_deref(), Some("canary"));
        assert_eq!(attr("root", TIER_SOURCE_ATTRIBUTE).as_deref(), Some("rule"));
    }
}
