//! The exemplar labels of a latency observation: the trace and span it came from.

use std::fmt::Write as _;

use opentelemetry::trace::{SpanId, TraceId};
use prometheus_client::encoding::{EncodeLabelSet, LabelSetEncoder};

/// `trace_id` and `span_id` of a sampled span, written as exemplar labels
/// (`# {trace_id="4bf9...",span_id="00f0..."} 0.42`) without formatting anything until a scrape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SpanExemplar {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
}

impl EncodeLabelSet for SpanExemplar {
    fn encode(&self, encoder: &mut LabelSetEncoder<'_>) -> Result<(), std::fmt::Error> {
        {
            let mut label = encoder.encode_label();
            let mut key = label.encode_label_key()?;
            key.write_str("trace_id")?;
            let mut value = key.encode_label_value()?;
            write!(value, "{}", self.trace_id)?;
            value.finish()?;
        }
        let mut label = encoder.encode_label();
        let mut key = label.encode_label_key()?;
        key.write_str("span_id")?;
        let mut value = key.encode_label_value()?;
        write!(value, "{}", self.span_id)?;
        value.finish()
    }
}
