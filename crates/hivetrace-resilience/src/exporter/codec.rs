//! Batches as bytes for the disk spool: OTLP protobuf (`ExportTraceServiceRequest`) out, and
//! back to `SpanData` for replay through any exporter.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue as ProtoKeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{Span as ProtoSpan, span, status};
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use prost::Message;

/// The OTLP span flag saying the parent is remote.
const IS_REMOTE: u32 = 0x200;

/// Encodes a batch as an OTLP protobuf export request.
pub(crate) fn encode(batch: Vec<SpanData>) -> Vec<u8> {
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(
            batch,
            &ResourceAttributesWithSchema::default(),
        ),
    };
    request.encode_to_vec()
}

/// Decodes what [`encode`] wrote; `None` when the bytes are not an export request.
pub(crate) fn decode(bytes: &[u8]) -> Option<Vec<SpanData>> {
    let request = ExportTraceServiceRequest::decode(bytes).ok()?;
    let mut out = Vec::new();
    for resource_spans in request.resource_spans {
        for scope_spans in resource_spans.scope_spans {
            let scope = match scope_spans.scope {
                Some(s) => {
                    let mut b = InstrumentationScope::builder(s.name)
                        .with_attributes(s.attributes.into_iter().filter_map(key_value));
                    if !s.version.is_empty() {
                        b = b.with_version(s.version);
                    }
                    if !scope_spans.schema_url.is_empty() {
                        b = b.with_schema_url(scope_spans.schema_url);
                    }
                    b.build()
                }
                None => InstrumentationScope::default(),
            };
            for s in scope_spans.spans {
                out.push(span_data(s, scope.clone())?);
            }
        }
    }
    Some(out)
}

fn span_data(s: ProtoSpan, scope: InstrumentationScope) -> Option<SpanData> {
    let context = span_context(&s.trace_id, &s.span_id, &s.trace_state, s.flags)?;
    let parent_span_id = match <[u8; 8]>::try_from(s.parent_span_id.as_slice()) {
        Ok(id) => SpanId::from_bytes(id),
        Err(_) => SpanId::INVALID,
    };
    let events = s
        .events
        .into_iter()
        .map(|e: span::Event| {
            opentelemetry::trace::Event::new(
                e.name,
                time(e.time_unix_nano),
                e.attributes.into_iter().filter_map(key_value).collect(),
                e.dropped_attributes_count,
            )
        })
        .collect();
    let links = s
        .links
        .into_iter()
        .filter_map(|l: span::Link| {
            let context = span_context(&l.trace_id, &l.span_id, &l.trace_state, l.flags)?;
            Some(opentelemetry::trace::Link::new(
                context,
                l.attributes.into_iter().filter_map(key_value).collect(),
                l.dropped_attributes_count,
            ))
        })
        .collect();
    let status = match s.status {
        Some(st) if st.code == status::StatusCode::Error as i32 => Status::Error {
            description: Cow::Owned(st.message),
        },
        Some(st) if st.code == status::StatusCode::Ok as i32 => Status::Ok,
        _ => Status::Unset,
    };
    let span_kind = match span::SpanKind::try_from(s.kind) {
        Ok(span::SpanKind::Server) => SpanKind::Server,
        Ok(span::SpanKind::Client) => SpanKind::Client,
        Ok(span::SpanKind::Producer) => SpanKind::Producer,
        Ok(span::SpanKind::Consumer) => SpanKind::Consumer,
        _ => SpanKind::Internal,
    };
    let mut events_out = SpanEvents::default();
    events_out.events = events;
    events_out.dropped_count = s.dropped_events_count;
    let mut links_out = SpanLinks::default();
    links_out.links = links;
    links_out.dropped_count = s.dropped_links_count;
    Some(SpanData {
        span_context: context,
        parent_span_id,
        parent_span_is_remote: s.flags & IS_REMOTE != 0,
        span_kind,
        name: Cow::Owned(s.name),
        start_time: time(s.start_time_unix_nano),
        end_time: time(s.end_time_unix_nano),
        attributes: s.attributes.into_iter().filter_map(key_value).collect(),
        dropped_attributes_count: s.dropped_attributes_count,
        events: events_out,
        links: links_out,
        status,
        instrumentation_scope: scope,
    })
}

fn span_context(trace_id: &[u8], span_id: &[u8], state: &str, flags: u32) -> Option<SpanContext> {
    let trace_id = TraceId::from_bytes(<[u8; 16]>::try_from(trace_id).ok()?);
    let span_id = SpanId::from_bytes(<[u8; 8]>::try_from(span_id).ok()?);
    let state = state.parse::<TraceState>().unwrap_or_default();
    Some(SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new((flags & 0xff) as u8),
        false,
        state,
    ))
}

fn time(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn key_value(kv: ProtoKeyValue) -> Option<KeyValue> {
    Some(KeyValue::new(kv.key, value(kv.value?)?))
}

fn value(v: AnyValue) -> Option<Value> {
    Some(match v.value? {
        any_value::Value::StringValue(s) => Value::String(s.into()),
        any_value::Value::BoolValue(b) => Value::Bool(b),
        any_value::Value::IntValue(i) => Value::I64(i),
        any_value::Value::DoubleValue(d) => Value::F64(d),
        any_value::Value::ArrayValue(a) => Value::Array(array(a.values)),
        // The SDK's attributes never hold these; keep them readable rather than lose them.
        other => Value::String(format!("{other:?}").into()),
    })
}

/// An OTLP array as the API's homogeneous array, typed by its first element.
fn array(values: Vec<AnyValue>) -> Array {
    let items: Vec<any_value::Value> = values.into_iter().filter_map(|v| v.value).collect();
    match items.first() {
        Some(any_value::Value::BoolValue(_)) => Array::Bool(
            items
                .into_iter()
                .filter_map(|v| match v {
                    any_value::Value::BoolValue(b) => Some(b),
                    _ => None,
                })
                .collect(),
        ),
        Some(any_value::Value::IntValue(_)) => Array::I64(
            items
                .into_iter()
                .filter_map(|v| match v {
                    any_value::Value::IntValue(i) => Some(i),
                    _ => None,
                })
                .collect(),
        ),
        Some(any_value::Value::DoubleValue(_)) => Array::F64(
            items
                .into_iter()
                .filter_map(|v| match v {
                    any_value::Value::DoubleValue(d) => Some(d),
                    _ => None,
                })
                .collect(),
        ),
        _ => Array::String(
            items
                .into_iter()
                .filter_map(|v| match v {
                    any_value::Value::StringValue(s) => Some(StringValue::from(s)),
                    _ => None,
                })
                .collect(),
        ),
    }
}

/// An estimate of the memory a span holds, for the in-memory buffer's byte bound.
pub(crate) fn approx_size(s: &SpanData) -> usize {
    fn kv_size(kv: &KeyValue) -> usize {
        kv.key.as_str().len()
            + match &kv.value {
                Value::String(s) => s.as_str().len(),
                Value::Array(Array::String(v)) => v.iter().map(|s| s.as_str().len() + 24).sum(),
                Value::Array(Array::Bool(v)) => v.len(),
                Value::Array(Array::I64(v)) => v.len() * 8,
                Value::Array(Array::F64(v)) => v.len() * 8,
                _ => 8,
            }
            + 48
    }
    std::mem::size_of::<SpanData>()
        + s.name.len()
        + s.attributes.iter().map(kv_size).sum::<usize>()
        + s.events
            .iter()
            .map(|e| e.name.len() + 64 + e.attributes.iter().map(kv_size).sum::<usize>())
            .sum::<usize>()
        + s.links
            .iter()
            .map(|l| 64 + l.attributes.iter().map(kv_size).sum::<usize>())
            .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Span as _, Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    fn spans() -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_simple_exporter(exporter.clone())
            .build();
        let tracer = provider.tracer_with_scope(
            InstrumentationScope::builder("codec-test")
                .with_version("1.2")
                .build(),
        );
        let mut parent = tracer.start("parent");
        parent.set_attribute(KeyValue::new("text", "hello"));
        parent.set_attribute(KeyValue::new("n", 42));
        parent.set_attribute(KeyValue::new("ratio", 0.5));
        parent.set_attribute(KeyValue::new("flag", true));
        parent.set_attribute(KeyValue::new(
            "tags",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from("b"),
            ])),
        ));
        parent.add_event("step", vec![KeyValue::new("i", 1)]);
        parent.set_status(Status::error("bad"));
        parent.end();
        drop(provider);
        exporter.get_finished_spans().expect("spans")
    }

    #[test]
    fn a_batch_survives_the_round_trip() {
        let original = spans();
        let back = decode(&encode(original.clone())).expect("decodes");
        assert_eq!(back.len(), 1);
        let (a, b) = (&original[0], &back[0]);
        assert_eq!(a.span_context, b.span_context);
        assert_eq!(a.parent_span_id, b.parent_span_id);
        assert_eq!(a.name, b.name);
        assert_eq!(a.start_time, b.start_time);
        assert_eq!(a.end_time, b.end_time);
        assert_eq!(a.attributes, b.attributes);
        assert_eq!(a.events.events, b.events.events);
        assert_eq!(a.status, b.status);
        assert_eq!(a.instrumentation_scope, b.instrumentation_scope);
        assert!(approx_size(a) > a.name.len());
    }

    #[test]
    fn garbage_is_not_a_batch() {
        assert!(decode(&[0xff, 0xff, 0xff]).is_none());
    }
}
