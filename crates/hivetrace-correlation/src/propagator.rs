//! The codecs as OpenTelemetry [`TextMapPropagator`]s, for any code written against the API
//! (`opentelemetry::global::set_text_map_propagator`, other crates' middleware).

use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TraceState};

use crate::baggage::{parse_baggage, write_baggage};
use crate::traceparent::{Traceparent, format_ids};
use crate::tracestate::{parse_tracestate, write_tracestate};

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";

static TRACE_CONTEXT_FIELDS: std::sync::LazyLock<[String; 2]> =
    std::sync::LazyLock::new(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]);
static BAGGAGE_FIELDS: std::sync::LazyLock<[String; 1]> =
    std::sync::LazyLock::new(|| [BAGGAGE.to_owned()]);
static ALL_FIELDS: std::sync::LazyLock<[String; 3]> = std::sync::LazyLock::new(|| {
    [
        TRACEPARENT.to_owned(),
        TRACESTATE.to_owned(),
        BAGGAGE.to_owned(),
    ]
});

/// W3C Trace Context Level 2 (`traceparent`, `tracestate`) as a [`TextMapPropagator`].
///
/// ```
/// use std::collections::HashMap;
/// use hivetrace_correlation::TraceContextPropagator;
/// use opentelemetry::propagation::TextMapPropagator;
/// use opentelemetry::trace::TraceContextExt;
///
/// let mut carrier = HashMap::new();
/// carrier.insert("traceparent".to_owned(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_owned());
/// let cx = TraceContextPropagator::new().extract(&carrier);
/// assert!(cx.span().span_context().is_remote());
///
/// let mut out = HashMap::new();
/// TraceContextPropagator::new().inject_context(&cx, &mut out);
/// assert_eq!(out["traceparent"], carrier["traceparent"]);
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceContextPropagator {
    _private: (),
}

impl TraceContextPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        TraceContextPropagator { _private: () }
    }
}

impl TextMapPropagator for TraceContextPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_trace_context(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        extract_trace_context(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&TRACE_CONTEXT_FIELDS[..])
    }
}

/// W3C Baggage as a [`TextMapPropagator`].
///
/// ```
/// use std::collections::HashMap;
/// use hivetrace_correlation::BaggagePropagator;
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::propagation::TextMapPropagator;
///
/// let mut carrier = HashMap::new();
/// carrier.insert("baggage".to_owned(), "user.id=u%2042;ttl=60".to_owned());
/// let cx = BaggagePropagator::new().extract(&carrier);
/// assert_eq!(cx.baggage().get("user.id").map(|v| v.as_str()), Some("u 42"));
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// The propagator.
    pub const fn new() -> Self {
        BaggagePropagator { _private: () }
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_baggage(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        extract_baggage(cx, extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&BAGGAGE_FIELDS[..])
    }
}

/// Trace Context and Baggage in one propagator: what a composite of
/// [`TraceContextPropagator`] and [`BaggagePropagator`] does, in one pass.
///
/// ```
/// use hivetrace_correlation::W3cPropagator;
/// opentelemetry::global::set_text_map_propagator(W3cPropagator::new());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct W3cPropagator {
    _private: (),
}

impl W3cPropagator {
    /// The propagator.
    pub const fn new() -> Self {
        W3cPropagator { _private: () }
    }
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        inject_trace_context(cx, injector);
        inject_baggage(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        extract_baggage(&extract_trace_context(cx, extractor), extractor)
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&ALL_FIELDS[..])
    }
}

fn inject_trace_context(cx: &Context, injector: &mut dyn Injector) {
    let span = cx.span();
    let sc = span.span_context();
    if !sc.is_valid() {
        return;
    }
    let traceparent = format_ids(sc.trace_id(), sc.span_id(), sc.trace_flags());
    injector.set(TRACEPARENT, ascii_string(&traceparent));
    if *sc.trace_state() != TraceState::NONE {
        let mut out = Vec::with_capacity(64);
        write_tracestate(sc.trace_state(), &mut out);
        if !out.is_empty() {
            injector.set(TRACESTATE, ascii_string(&out));
        }
    }
}

fn extract_trace_context(cx: &Context, extractor: &dyn Extractor) -> Context {
    let Some(Ok(traceparent)) = extractor
        .get(TRACEPARENT)
        .map(|v| Traceparent::parse(v.as_bytes()))
    else {
        return cx.clone();
    };
    // Two parents cannot both be right: the spec's test suite expects a new trace.
    if extractor
        .get_all(TRACEPARENT)
        .is_some_and(|all| all.len() > 1)
    {
        return cx.clone();
    }
    let state = match extractor.get(TRACESTATE) {
        None => TraceState::NONE,
        // Several headers are one combined value; ask for them all only when there is one.
        Some(first) => match extractor.get_all(TRACESTATE) {
            Some(all) => parse_tracestate(all.iter().map(|v| v.as_bytes())),
            None => parse_tracestate([first.as_bytes()]),
        },
    };
    cx.with_remote_span_context(traceparent.into_span_context(state))
}

fn inject_baggage(cx: &Context, injector: &mut dyn Injector) {
    let baggage = cx.baggage();
    if baggage.is_empty() {
        return;
    }
    let mut out = Vec::with_capacity(baggage.len() * 24);
    write_baggage(baggage, &mut out);
    if !out.is_empty() {
        injector.set(BAGGAGE, ascii_string(&out));
    }
}

fn extract_baggage(cx: &Context, extractor: &dyn Extractor) -> Context {
    let Some(first) = extractor.get(BAGGAGE) else {
        return cx.clone();
    };
    let baggage = match extractor.get_all(BAGGAGE) {
        Some(all) => parse_baggage(all.iter().map(|v| v.as_bytes())),
        None => parse_baggage([first.as_bytes()]),
    };
    cx.with_baggage(baggage)
}

/// The codecs write ASCII only.
fn ascii_string(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId};
    use std::collections::HashMap;

    #[test]
    fn composite_round_trip_through_a_hash_map() {
        let sc = SpanContext::new(
            TraceId::from(42),
            SpanId::from(7),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("v", "1")]).expect("valid"),
        );
        let cx = Context::new()
            .with_remote_span_context(sc.clone())
            .with_baggage([opentelemetry::KeyValue::new("k", "a b")]);
        let mut carrier = HashMap::new();
        W3cPropagator::new().inject_context(&cx, &mut carrier);
        assert_eq!(carrier["baggage"], "k=a%20b");
        assert_eq!(carrier["tracestate"], "v=1");
        let back = W3cPropagator::new().extract(&carrier);
        assert_eq!(back.span().span_context().trace_id(), sc.trace_id());
        assert_eq!(back.span().span_context().trace_state(), sc.trace_state());
        assert_eq!(back.baggage().get("k").map(|v| v.as_str()), Some("a b"));
        let propagator = W3cPropagator::new();
        let fields: Vec<&str> = propagator.fields().collect();
        assert_eq!(fields, ["traceparent", "tracestate", "baggage"]);
    }

    #[test]
    fn agrees_with_the_sdk_propagators_both_ways() {
        use opentelemetry::propagation::TextMapCompositePropagator;
        use opentelemetry_sdk::propagation::{
            BaggagePropagator as SdkBaggage, TraceContextPropagator as SdkTraceContext,
        };
        let sdk = TextMapCompositePropagator::new(vec![
            Box::new(SdkTraceContext::new()),
            Box::new(SdkBaggage::new()),
        ]);
        let sc = SpanContext::new(
            TraceId::from(0x0af7_6519_16cd_43dd_8448_eb21_1c80_319c),
            SpanId::from(0xb7ad_6b71_6920_3331),
            TraceFlags::SAMPLED,
            false,
            TraceState::from_key_value([("congo", "t61rcWkgMzE"), ("rojo", "00f067aa")])
                .expect("valid"),
        );
        let cx = Context::new().with_remote_span_context(sc).with_baggage([
            opentelemetry::KeyValue::new("user.id", "u-42"),
            opentelemetry::KeyValue::new("note", "a b,c;d"),
        ]);
        for (inject, extract) in [
            (
                &sdk as &dyn TextMapPropagator,
                &W3cPropagator::new() as &dyn TextMapPropagator,
            ),
            (&W3cPropagator::new(), &sdk),
        ] {
            let mut carrier = HashMap::new();
            inject.inject_context(&cx, &mut carrier);
            let back = extract.extract(&carrier);
            let (want, got) = (cx.span(), back.span());
            let (want, got) = (want.span_context(), got.span_context());
            assert_eq!(got.trace_id(), want.trace_id(), "{carrier:?}");
            assert_eq!(got.span_id(), want.span_id());
            assert_eq!(got.trace_flags(), want.trace_flags());
            assert_eq!(got.trace_state(), want.trace_state());
            for (k, (v, _)) in cx.baggage() {
                assert_eq!(back.baggage().get(k.as_str()), Some(v), "{carrier:?}");
            }
        }
    }

    #[test]
    fn invalid_input_leaves_the_context_as_it_was() {
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_owned(), "garbage".to_owned());
        carrier.insert("baggage".to_owned(), "=,;".to_owned());
        let cx = W3cPropagator::new().extract_with_context(&Context::new(), &carrier);
        assert!(!cx.span().span_context().is_valid());
        assert!(cx.baggage().is_empty());
        let mut out = HashMap::new();
        TraceContextPropagator::new().inject_context(&cx, &mut out);
        BaggagePropagator::new().inject_context(&cx, &mut out);
        assert!(out.is_empty());
    }
}
