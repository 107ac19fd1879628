"""The Python OpenTelemetry SDK's own W3C propagators, both ways, for the Rust interop test.

Reads one JSON object on stdin:
  {"ours": {header: value}, "produce": {"trace_id", "span_id", "sampled", "tracestate": [[k, v]], "baggage": {k: v}}}
Writes one JSON object on stdout:
  {"parsed": {"trace_id", "span_id", "flags", "tracestate": [[k, v]], "baggage": {k: v}}, "produced": {header: value}}
"""

import json
import sys

from opentelemetry import baggage, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

request = json.load(sys.stdin)

ours = request["ours"]
ctx = TraceContextTextMapPropagator().extract(ours)
ctx = W3CBaggagePropagator().extract(ours, context=ctx)
sc = trace.get_current_span(ctx).get_span_context()
parsed = {
    "valid": sc.is_valid,
    "trace_id": format(sc.trace_id, "032x"),
    "span_id": format(sc.span_id, "016x"),
    "flags": int(sc.trace_flags),
    "tracestate": [[k, v] for k, v in sc.trace_state.items()],
    "baggage": {k: str(v) for k, v in baggage.get_all(ctx).items()},
}

produce = request["produce"]
sc = SpanContext(
    trace_id=int(produce["trace_id"], 16),
    span_id=int(produce["span_id"], 16),
    is_remote=False,
    trace_flags=TraceFlags(TraceFlags.SAMPLED if produce["sampled"] else 0),
    trace_state=TraceState([tuple(kv) for kv in produce["tracestate"]]),
)
ctx = trace.set_span_in_context(NonRecordingSpan(sc))
for key, value in produce["baggage"].items():
    ctx = baggage.set_baggage(key, value, context=ctx)
produced = {}
TraceContextTextMapPropagator().inject(produced, context=ctx)
W3CBaggagePropagator().inject(produced, context=ctx)

json.dump({"parsed": parsed, "produced": produced}, sys.stdout)
