//! A span processor that copies an allow-list of baggage keys onto every span at start.

use std::sync::Arc;
use std::time::Duration;

use hivetrace_core::conventions::honeyhive;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::Span as _;
use opentelemetry::{Context, Key, KeyValue};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::request_id::REQUEST_ID_KEY;
use crate::session::{SESSION_ID_KEY, SESSION_NAME_KEY};

/// Copies allowed baggage entries onto each span as it starts, so every span of a request or a
/// session carries its ids; baggage keys not on the list never become attributes (baggage
/// comes from outside the process).
///
/// [`BaggageSpanProcessor::new`] copies `request.id`, `session.id` (also as
/// `honeyhive.session_id`) and `session.name` (as `honeyhive.session_name`).
///
/// ```
/// use hivetrace_correlation::BaggageSpanProcessor;
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let processor = BaggageSpanProcessor::new().copy("user.id").copy_as("tenant", "app.tenant");
/// let tracer = hivetrace_core::Tracer::builder()
///     .console_writer(std::io::sink())
///     .observer(processor)
///     .build()?;
/// # drop(tracer); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct BaggageSpanProcessor {
    rules: Arc<[Rule]>,
}

#[derive(Clone, Debug)]
struct Rule {
    baggage_key: Key,
    attributes: Vec<Key>,
}

impl BaggageSpanProcessor {
    /// The correlation keys: `request.id`, `session.id` (and `honeyhive.session_id`),
    /// `session.name` (as `honeyhive.session_name`).
    pub fn new() -> Self {
        BaggageSpanProcessor::empty()
            .copy(REQUEST_ID_KEY)
            .copy_as(SESSION_ID_KEY, SESSION_ID_KEY)
            .copy_as(SESSION_ID_KEY, honeyhive::SESSION_ID)
            .copy_as(SESSION_NAME_KEY, honeyhive::SESSION_NAME)
    }

    /// A processor that copies nothing until told.
    pub fn empty() -> Self {
        BaggageSpanProcessor {
            rules: Arc::from(Vec::new()),
        }
    }

    /// Copies the baggage entry `key` to the attribute of the same name.
    pub fn copy(self, key: impl Into<Key>) -> Self {
        let key = key.into();
        self.copy_as(key.clone(), key)
    }

    /// Copies the baggage entry `key` to the attribute `attribute` (several attributes per key
    /// allowed).
    pub fn copy_as(self, key: impl Into<Key>, attribute: impl Into<Key>) -> Self {
        let (key, attribute) = (key.into(), attribute.into());
        let mut rules = self.rules.to_vec();
        match rules.iter_mut().find(|r| r.baggage_key == key) {
            Some(rule) => {
                if !rule.attributes.contains(&attribute) {
                    rule.attributes.push(attribute);
                }
            }
            None => rules.push(Rule {
                baggage_key: key,
                attributes: vec![attribute],
            }),
        }
        BaggageSpanProcessor {
            rules: Arc::from(rules),
        }
    }

    /// The baggage keys copied.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.baggage_key.as_str())
    }
}

impl Default for BaggageSpanProcessor {
    fn default() -> Self {
        BaggageSpanProcessor::new()
    }
}

/// The cheaper way to attach it to a hivetrace tracer ([`TracerBuilder::observer`]): the SDK
/// then makes no copy of each ended span for it.
///
/// [`TracerBuilder::observer`]: hivetrace_core::TracerBuilder::observer
impl hivetrace_core::SpanObserver for BaggageSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        SpanProcessor::on_start(self, span, cx);
    }
}

/// For any OpenTelemetry provider. Beside another processor the SDK clones each ended span
/// for it; with a hivetrace tracer prefer [`TracerBuilder::observer`].
///
/// [`TracerBuilder::observer`]: hivetrace_core::TracerBuilder::observer
impl SpanProcessor for BaggageSpanProcessor {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        let baggage = cx.baggage();
        if baggage.is_empty() || !span.is_recording() {
            return;
        }
        for rule in self.rules.iter() {
            if let Some(value) = baggage.get(rule.baggage_key.as_str()) {
                for attribute in &rule.attributes {
                    span.set_attribute(KeyValue::new(attribute.clone(), value.clone()));
                }
            }
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
