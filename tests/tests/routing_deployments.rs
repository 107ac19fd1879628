//! Routing end to end: each tier's requests are traced by that tier's environment tracer and
//! arrive at that environment's OTLP endpoint, carrying `deployment.tier` and its source.

use std::time::Duration;

use hivetrace::Tracer;
use hivetrace_routing::{
    Canary, DeploymentManager, Environment, Percentage, RouteRequest, Router, TierRouter,
    TierSpanProcessor,
};
use hivetrace_tests::{Receiver, attributes};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn each_tier_reaches_its_own_environment_endpoint() {
    let stable_rx = Receiver::start();
    let canary_rx = Receiver::start();
    let (stable_url, canary_url) = (stable_rx.traces_url(), canary_rx.traces_url());
    let deployments = DeploymentManager::builder()
        .tracer_builder(move |env| {
            let url = if env.name() == "canary" {
                &canary_url
            } else {
                &stable_url
            };
            Tracer::builder()
                .endpoint(url.clone())
                .observer(TierSpanProcessor)
        })
        .environment(
            Environment::new("stable")
                .expect("valid name")
                .source("prod"),
        )
        .environment(
            Environment::new("canary")
                .expect("valid name")
                .source("prod-canary"),
        )
        .initial("stable")
        .build()
        .expect("valid environments");
    let router = TierRouter::new(Canary::new(Percentage::new(50.0).expect("in range")));

    let (mut stable, mut canary) = (0, 0);
    for user in 0..40 {
        let key = format!("user-{user}");
        let decision = router.decide(&RouteRequest::new().key(&key));
        let tracer = deployments
            .tracer_for_tier(decision.tier())
            .expect("tracer builds");
        let root = tracer.span("handle").start();
        decision.record(&root);
        let cx = decision.with_baggage(root.context());
        drop(tracer.span("model").parent(&cx).start());
        drop(root);
        if decision.tier().is_canary() {
            canary += 1;
        } else {
            stable += 1;
        }
    }
    assert!(
        stable > 0 && canary > 0,
        "40 users split at 50 %: {stable}/{canary}"
    );
    deployments.force_flush().expect("flush");

    for (rx, n, tier, source) in [
        (&stable_rx, stable, "stable", "prod"),
        (&canary_rx, canary, "canary", "prod-canary"),
    ] {
        let spans = rx.wait_for_spans(2 * n, WAIT).expect("every span arrives");
        assert_eq!(spans.len(), 2 * n, "{tier}");
        for span in &spans {
            assert_eq!(
                attributes::str_value(&span.attributes, "deployment.tier"),
                Some(tier),
                "{tier}: {}",
                span.name
            );
            assert_eq!(
                attributes::str_value(&span.attributes, "honeyhive.source"),
                Some(source)
            );
        }
        let roots = spans.iter().filter(|s| s.name == "handle");
        for root in roots {
            assert_eq!(
                attributes::str_value(&root.attributes, "deployment.tier.source"),
                Some("percentage")
            );
        }
    }
    deployments.shutdown().expect("shutdown");
}
