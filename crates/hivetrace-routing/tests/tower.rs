//! `RoutingLayer`: decisions in extensions, baggage in the inner service's context, upstream
//! tiers honoured, `poll_ready` passed through, tracers from the deployment manager.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use hivetrace_core::Tracer;
use hivetrace_routing::tower::{HeaderKey, RoutedTracer, RoutingLayer, key_fn};
use hivetrace_routing::{
    Canary, Decision, DeploymentManager, Environment, Percentage, Tier, TierRouter, TierSource,
    upstream_tier,
};
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use tower::{Layer, Service, ServiceExt, service_fn};

/// What the inner service saw: the decision in the extensions and the baggage tier.
#[derive(Debug, PartialEq)]
struct Seen {
    tier: String,
    source: TierSource,
    baggage: Option<String>,
    tracer_session: Option<String>,
}

fn echo()
-> impl Service<http::Request<()>, Response = Seen, Error = Infallible, Future: Send> + Clone {
    service_fn(|req: http::Request<()>| async move {
        let d = req.extensions().get::<Decision>().cloned().unwrap();
        Ok(Seen {
            tier: d.tier().to_string(),
            source: d.source(),
            baggage: upstream_tier(&Context::current()).map(str::to_owned),
            tracer_session: req
                .extensions()
                .get::<RoutedTracer>()
                .map(|t| t.0.session_id().to_owned()),
        })
    })
}

fn call<S>(service: S, request: http::Request<()>) -> Seen
where
    S: Service<http::Request<()>, Response = Seen, Error = Infallible>,
{
    futures_executor::block_on(service.oneshot(request)).unwrap()
}

fn request(headers: &[(&str, &str)]) -> http::Request<()> {
    let mut b = http::Request::builder();
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap()
}

#[test]
fn header_key_and_percentage_decide_and_the_tier_rides_in_baggage() {
    let router = TierRouter::new(Canary::new(Percentage::HUNDRED));
    let layer = RoutingLayer::new(router.clone()).key(HeaderKey::new("x-user-id").unwrap());

    let seen = call(
        layer.layer(echo()),
        request(&[("x-deployment-tier", "experimental")]),
    );
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("experimental", TierSource::Header)
    );
    assert_eq!(seen.baggage.as_deref(), Some("experimental"));

    router.rules().set("user-1", Tier::STABLE);
    let seen = call(layer.layer(echo()), request(&[("x-user-id", "user-1")]));
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("stable", TierSource::Rule)
    );

    let seen = call(layer.layer(echo()), request(&[("x-user-id", "user-2")]));
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("canary", TierSource::Percentage)
    );

    let seen = call(layer.layer(echo()), request(&[]));
    assert_eq!(seen.source, TierSource::Random);

    let seen = call(
        layer.layer(echo()),
        request(&[("x-deployment-tier", "beta")]),
    );
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("stable", TierSource::UnknownHeader)
    );
    let mut not_text = request(&[]);
    not_text.headers_mut().insert(
        "x-deployment-tier",
        http::HeaderValue::from_bytes(b"\xff").unwrap(),
    );
    assert_eq!(
        call(layer.layer(echo()), not_text).source,
        TierSource::UnknownHeader
    );
    assert_eq!(router.header().unknown_count(), 2);
}

#[test]
fn an_upstream_tier_in_baggage_is_honoured() {
    let layer = RoutingLayer::new(TierRouter::new(Canary::new(Percentage::ZERO)));
    let upstream =
        Context::new().with_baggage([opentelemetry::KeyValue::new("deployment.tier", "canary")]);
    let _attached = upstream.attach();
    let seen = call(layer.layer(echo()), request(&[]));
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("canary", TierSource::Upstream)
    );
    assert_eq!(seen.baggage.as_deref(), Some("canary"));
}

#[test]
fn a_closure_key_extractor_reads_extensions() {
    #[derive(Clone)]
    struct User(&'static str);
    let router = TierRouter::new(Canary::new(Percentage::ZERO));
    router.rules().set("vip", Tier::CANARY);
    let layer = RoutingLayer::new(router).key(key_fn(|r: &http::Request<()>| {
        r.extensions().get::<User>().map(|u| u.0)
    }));
    let mut req = request(&[]);
    req.extensions_mut().insert(User("vip"));
    assert_eq!(call(layer.layer(echo()), req).source, TierSource::Rule);
}

#[test]
fn the_tier_tracer_comes_from_the_deployment_manager() {
    let exporter = InMemorySpanExporter::default();
    let manager = DeploymentManager::builder()
        .tracer_builder(move |_| Tracer::builder().exporter(exporter.clone()))
        .environment(Environment::new("canary").unwrap())
        .build()
        .unwrap();
    let layer = RoutingLayer::new(TierRouter::new(Canary::new(Percentage::ZERO)))
        .deployments(manager.clone());
    let canary = call(
        layer.layer(echo()),
        request(&[("x-deployment-tier", "canary")]),
    );
    let stable = call(layer.layer(echo()), request(&[]));
    assert_eq!(
        canary.tracer_session.as_deref(),
        Some(manager.tracer_for("canary").unwrap().session_id())
    );
    // No `stable` environment: the current one (blue).
    assert_eq!(
        stable.tracer_session.as_deref(),
        Some(manager.tracer().unwrap().session_id())
    );
    manager.shutdown().unwrap();
}

/// Ready only after `ready_after` polls; counts calls.
#[derive(Clone)]
struct SlowStart {
    polls: usize,
    ready_after: usize,
}

impl Service<http::Request<()>> for SlowStart {
    type Response = ();
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<(), Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.polls += 1;
        if self.polls > self.ready_after {
            Poll::Ready(Ok(()))
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    fn call(&mut self, _req: http::Request<()>) -> Self::Future {
        assert!(self.polls > self.ready_after, "called before ready");
        Box::pin(async { Ok(()) })
    }
}

#[test]
fn poll_ready_is_the_inner_services() {
    let layer = RoutingLayer::new(TierRouter::new(Canary::new(Percentage::ZERO)));
    let mut service = layer.layer(SlowStart {
        polls: 0,
        ready_after: 2,
    });
    let waker = std::task::Waker::noop();
    let mut cx = TaskContext::from_waker(waker);
    assert!(service.poll_ready(&mut cx).is_pending());
    assert!(service.poll_ready(&mut cx).is_pending());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Ok(()))));
    // The ready inner service handles the call (its clone-and-swap keeps readiness right).
    futures_executor::block_on(service.call(request(&[]))).unwrap();
}

#[test]
fn the_decision_is_recorded_on_the_current_span() {
    use opentelemetry::trace::{TraceContextExt, Tracer as _, TracerProvider as _};
    let exporter = InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let server_span = provider.tracer("server").start("GET /answer");
    let cx = Context::current_with_span(server_span);
    let layer = RoutingLayer::new(TierRouter::new(Canary::new(Percentage::ZERO)));
    {
        let _attached = cx.clone().attach();
        call(
            layer.layer(echo()),
            request(&[("x-deployment-tier", "canary")]),
        );
    }
    cx.span().end();
    let spans = exporter.get_finished_spans().unwrap();
    let attr = |key: &str| {
        spans[0]
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str().into_owned())
    };
    assert_eq!(attr("deployment.tier").as_deref(), Some("canary"));
    assert_eq!(attr("deployment.tier.source").as_deref(), Some("header"));
}

#[test]
fn the_upstream_tier_is_read_from_the_baggage_header_without_a_propagation_layer() {
    let layer = RoutingLayer::new(TierRouter::new(Canary::new(Percentage::ZERO)));
    let req = request(&[("baggage", "user.id=u-1,deployment.tier=experimental;ttl=5")]);
    let seen = call(layer.layer(echo()), req);
    assert_eq!(
        (seen.tier.as_str(), seen.source),
        ("experimental", TierSource::Upstream)
    );
    // The header loses to the tier header, like any upstream tier.
    let req = request(&[
        ("baggage", "deployment.tier=canary"),
        ("x-deployment-tier", "stable"),
    ]);
    assert_eq!(call(layer.layer(echo()), req).source, TierSource::Header);
}
