//! Propagation straight to and from [`http::HeaderMap`]: no `Injector`/`Extractor` trait
//! objects, no intermediate `String`s, header names that are constants.

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::Context;
use opentelemetry::baggage::{Baggage, BaggageExt};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};

use crate::baggage::{parse_baggage, write_baggage};
use crate::traceparent::{Traceparent, format_ids};
use crate::tracestate::{parse_tracestate, write_tracestate};

/// The `traceparent` header.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// The `baggage` header.
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// Writes `traceparent` (and `tracestate`, or removes a stale one) for a valid span context;
/// does nothing for an invalid one.
///
/// ```
/// use hivetrace_correlation::headers::{extract_span_context, inject_span_context};
/// use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};
/// let sc = SpanContext::new(TraceId::from(7), SpanId::from(9), TraceFlags::SAMPLED, false, TraceState::NONE);
/// let mut headers = http::HeaderMap::new();
/// inject_span_context(&sc, &mut headers);
/// assert_eq!(headers["traceparent"], "00-00000000000000000000000000000007-0000000000000009-01");
/// assert_eq!(extract_span_context(&headers).map(|r| r.trace_id()), Some(sc.trace_id()));
/// ```
pub fn inject_span_context(span_context: &SpanContext, headers: &mut HeaderMap) {
    if !span_context.is_valid() {
        return;
    }
    // A fresh map has no stale `tracestate` to remove: skip the lookup.
    let fresh = headers.is_empty();
    let traceparent = format_ids(
        span_context.trace_id(),
        span_context.span_id(),
        span_context.trace_flags(),
    );
    if let Ok(value) = HeaderValue::from_bytes(&traceparent) {
        set(headers, TRACEPARENT, value);
    }
    let state = span_context.trace_state();
    if *state == TraceState::NONE {
        if !fresh {
            headers.remove(TRACESTATE);
        }
        return;
    }
    let mut out = Vec::with_capacity(64);
    write_tracestate(state, &mut out);
    match value_of(out) {
        Ok(value) if !value.is_empty() => {
            set(headers, TRACESTATE, value);
        }
        _ => {
            headers.remove(TRACESTATE);
        }
    }
}

/// `headers.insert(name, value)` without its panic: a map that must grow for a new name
/// past the most a header map can hold (tens of thousands of names, which only the
/// application can build) leaves the header out, after dropping any stale value of it.
fn set(headers: &mut HeaderMap, name: HeaderName, value: HeaderValue) {
    if headers.keys_len() >= headers.capacity() {
        // A new name makes the map grow here, which may be past its maximum size: the old
        // value (if any) makes room instead, and never goes out stale.
        headers.remove(&name);
    }
    // Fails only on a map that cannot grow.
    let _ = headers.try_insert(name, value);
}

/// A header value that takes over `bytes`' allocation instead of copying it.
#[inline]
pub(crate) fn value_of(bytes: Vec<u8>) -> Result<HeaderValue, http::header::InvalidHeaderValue> {
    HeaderValue::from_maybe_shared(bytes::Bytes::from(bytes))
}

/// The remote span context in `traceparent` and `tracestate`, or `None` when `traceparent` is
/// missing, invalid or sent more than once (the request then starts a new trace; `tracestate`
/// is not read).
pub fn extract_span_context(headers: &HeaderMap) -> Option<SpanContext> {
    let mut traceparents = headers.get_all(TRACEPARENT).iter();
    let traceparent = traceparents.next()?;
    if traceparents.next().is_some() {
        // Two parents cannot both be right: the spec's test suite expects a new trace.
        return None;
    }
    let traceparent = Traceparent::parse(traceparent.as_bytes()).ok()?;
    let mut states = headers.get_all(TRACESTATE).iter().peekable();
    let state = if states.peek().is_some() {
        parse_tracestate(states.map(HeaderValue::as_bytes))
    } else {
        TraceState::NONE
    };
    Some(traceparent.into_span_context(state))
}

/// Writes the `baggage` header (or removes a stale one when `baggage` is empty).
///
/// ```
/// use hivetrace_correlation::headers::{extract_baggage, inject_baggage};
/// use opentelemetry::baggage::Baggage;
/// let mut bag = Baggage::new();
/// bag.insert("user.id", "u 42");
/// let mut headers = http::HeaderMap::new();
/// inject_baggage(&bag, &mut headers);
/// assert_eq!(headers["baggage"], "user.id=u%2042");
/// assert_eq!(extract_baggage(&headers).get("user.id").map(|v| v.as_str()), Some("u 42"));
/// ```
pub fn inject_baggage(baggage: &Baggage, headers: &mut HeaderMap) {
    if baggage.is_empty() {
        if !headers.is_empty() {
            headers.remove(BAGGAGE);
        }
        return;
    }
    // Room for most members (a key, a UUID-sized value, a separator) without growing.
    let mut out = Vec::with_capacity(baggage.len() * 64);
    write_baggage(baggage, &mut out);
    match value_of(out) {
        Ok(value) if !value.is_empty() => {
            set(headers, BAGGAGE, value);
        }
        _ => {
            headers.remove(BAGGAGE);
        }
    }
}

/// The baggage of every `baggage` header, combined (empty when there is none).
pub fn extract_baggage(headers: &HeaderMap) -> Baggage {
    let mut values = headers.get_all(BAGGAGE).iter().peekable();
    if values.peek().is_none() {
        return Baggage::new();
    }
    parse_baggage(values.map(HeaderValue::as_bytes))
}

/// Injects the span context and the baggage of `cx`: `traceparent`, `tracestate`, `baggage`.
///
/// ```
/// use hivetrace_correlation::headers::{extract_with_context, inject_context};
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
/// use opentelemetry::{Context, KeyValue};
/// let sc = SpanContext::new(TraceId::from(7), SpanId::from(9), TraceFlags::SAMPLED, false, TraceState::NONE);
/// let cx = Context::new().with_remote_span_context(sc).with_baggage([KeyValue::new("tier", "pro")]);
/// let mut headers = http::HeaderMap::new();
/// inject_context(&cx, &mut headers);
/// let back = extract_with_context(&Context::new(), &headers);
/// assert_eq!(back.span().span_context().span_id(), SpanId::from(9));
/// assert_eq!(back.baggage().get("tier").map(|v| v.as_str()), Some("pro"));
/// ```
pub fn inject_context(cx: &Context, headers: &mut HeaderMap) {
    let fresh = headers.is_empty();
    inject_span_context(cx.span().span_context(), headers);
    let baggage = cx.baggage();
    if !(fresh && baggage.is_empty()) {
        inject_baggage(baggage, headers);
    }
}

/// Injects the current context; see [`inject_context`].
pub fn inject(headers: &mut HeaderMap) {
    Context::map_current(|cx| inject_context(cx, headers));
}

/// The current context with the remote parent and the baggage of `headers`.
pub fn extract(headers: &HeaderMap) -> Context {
    Context::map_current(|cx| extract_with_context(cx, headers))
}

/// `parent` with the remote span context and the baggage of `headers`. Without a valid
/// `traceparent` the span of `parent` stays (a new trace starts there); without `baggage` the
/// baggage of `parent` stays.
pub fn extract_with_context(parent: &Context, headers: &HeaderMap) -> Context {
    let mut cx = match extract_span_context(headers) {
        Some(sc) => parent.with_remote_span_context(sc),
        None => parent.clone(),
    };
    let mut values = headers.get_all(BAGGAGE).iter().peekable();
    if values.peek().is_some() {
        cx = cx.with_baggage(parse_baggage(values.map(HeaderValue::as_bytes)));
    }
    cx
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

    fn span_context(state: TraceState) -> SpanContext {
        SpanContext::new(
            TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            SpanId::from(0x00f0_67aa_0ba9_02b7),
            TraceFlags::SAMPLED,
            false,
            state,
        )
    }

    #[test]
    fn round_trips_trace_state_across_several_headers() {
        let state = TraceState::from_key_value([("a", "1"), ("b@v", "2")]).expect("valid");
        let mut headers = HeaderMap::new();
        inject_span_context(&span_context(state.clone()), &mut headers);
        assert_eq!(headers[TRACESTATE], "a=1,b@v=2");
        let back = extract_span_context(&headers).expect("valid");
        assert!(back.is_remote());
        assert_eq!(back.trace_state(), &state);

        headers.insert(TRACESTATE, HeaderValue::from_static("a=1"));
        headers.append(TRACESTATE, HeaderValue::from_static("c=3"));
        let back = extract_span_context(&headers).expect("valid");
        assert_eq!(back.trace_state().header(), "a=1,c=3");
    }

    #[test]
    fn stale_headers_are_replaced_or_removed() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACESTATE, HeaderValue::from_static("stale=1"));
        headers.insert(BAGGAGE, HeaderValue::from_static("stale=1"));
        inject_context(
            &Context::new().with_remote_span_context(span_context(TraceState::NONE)),
            &mut headers,
        );
        assert!(headers.contains_key(TRACEPARENT));
        assert!(!headers.contains_key(TRACESTATE));
        assert!(!headers.contains_key(BAGGAGE));
    }

    #[test]
    fn invalid_traceparent_starts_a_new_trace_and_ignores_tracestate() {
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        );
        headers.insert(TRACESTATE, HeaderValue::from_static("a=1"));
        assert!(extract_span_context(&headers).is_none());
        let cx = extract_with_context(&Context::new(), &headers);
        assert!(!cx.span().span_context().is_valid());
        assert!(!cx.has_active_span());
    }

    #[test]
    fn two_traceparents_start_a_new_trace() {
        let mut headers = HeaderMap::new();
        let value = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        headers.append(TRACEPARENT, HeaderValue::from_static(value));
        assert!(extract_span_context(&headers).is_some());
        headers.append(TRACEPARENT, HeaderValue::from_static(value));
        assert!(extract_span_context(&headers).is_none());
    }

    #[test]
    fn invalid_span_context_injects_nothing() {
        let mut headers = HeaderMap::new();
        inject_span_context(&SpanContext::NONE, &mut headers);
        assert!(headers.is_empty());
    }
}
