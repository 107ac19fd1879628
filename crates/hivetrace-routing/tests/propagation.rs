//! The tier travels: decided once at the edge, carried in W3C baggage, honoured downstream,
//! and written on the downstream service's spans.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use hivetrace_core::Tracer;
use hivetrace_routing::{
    Canary, Percentage, RouteRequest, Router, TIER_ATTRIBUTE, TIER_SOURCE_ATTRIBUTE, TierRouter,
    TierSource, TierSpanProcessor, upstream_tier,
};
use opentelemetry::Context;
use opentelemetry::propagation::TextMapPropagator;
use opentelemetry_sdk::propagation::BaggagePropagator;
use opentelemetry_sdk::trace::InMemorySpanExporter;

fn attribute(span: &opentelemetry_sdk::trace::SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

#[test]
fn downstream_services_honour_the_edge_decision_instead_of_choosing_again() {
    // The edge sends everyone to canary; the downstream service, left alone, would send
    // everyone to stable.
    let edge = TierRouter::new(Canary::new(Percentage::HUNDRED));
    let downstream = TierRouter::new(Canary::new(Percentage::ZERO));

    let decision = edge.decide(&RouteRequest::new().key("user-42"));
    assert_eq!(decision.source(), TierSource::Percentage);
    let mut headers = HashMap::new();
    BaggagePropagator::new().inject_context(&decision.with_baggage(&Context::new()), &mut headers);
    assert_eq!(
        headers.get("baggage").map(String::as_str),
        Some("deployment.tier=canary")
    );

    // Downstream: extract, then route with the upstream tier.
    let cx = BaggagePropagator::new().extract(&headers);
    let request = RouteRequest::new()
        .key("user-42")
        .with_upstream(upstream_tier(&cx));
    let d = downstream.decide(&request);
    assert_eq!(
        (d.tier().as_str(), d.source()),
        ("canary", TierSource::Upstream)
    );

    // Its spans carry the tier: every span through the processor, the root also its source.
    let exporter = InMemorySpanExporter::default();
    let tracer = Tracer::builder()
        .exporter(exporter.clone())
        .observer(TierSpanProcessor)
        .build()
        .unwrap();
    let root = tracer.span("handle").parent(&cx).start();
    d.record(&root);
    root.in_scope(|| drop(tracer.span("model call").start()));
    drop(root);
    tracer.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    assert_eq!(spans.len(), 2);
    for span in &spans {
        assert_eq!(
            attribute(span, TIER_ATTRIBUTE).as_deref(),
            Some("canary"),
            "{}",
            span.name
        );
    }
    let root = spans.iter().find(|s| s.name == "handle").unwrap();
    assert_eq!(
        attribute(root, TIER_SOURCE_ATTRIBUTE).as_deref(),
        Some("upstream")
    );
    tracer.shutdown().unwrap();
}
