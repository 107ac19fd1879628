//! The routing decision per request against the seed's approach (a random draw per call), in
//! the same run.
//!
//! - `baseline/random_draw`: the seed's way: `rand::random::<f64>() * 100.0 < percentage`,
//!   a fresh draw per call through rand's thread-local generator (not sticky).
//! - `baseline/thread_rng_bool`: the same through `rand::rng().random_bool(p)`.
//! - `tier_router/keyed`: `TierRouter` (header, upstream, 100 per-user rules, 10 % canary):
//!   no header, no upstream tier, a user key that no rule names, so every stage runs and the
//!   percentage decides. Keys cycle over 1,024 user ids.
//! - `tier_router/header`: the same router, the `X-Deployment-Tier` header set.
//! - `tier_router/rule`: a key that a per-user rule names.
//! - `tier_router/keyless`: no header, no key: a random draw.
//! - `canary/keyed`: the percentage stage alone.
//!
//! Run with `cargo bench -p hivetrace-routing --bench decision`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_routing::{Canary, Percentage, RouteRequest, Router, Tier, TierRouter};
use rand::Rng;

const PERCENT: f64 = 10.0;

fn keys() -> Vec<String> {
    (0..1024).map(|i| format!("user-{i:05}")).collect()
}

fn router() -> TierRouter {
    let router = TierRouter::new(Canary::new(Percentage::new(PERCENT).unwrap_or_default()));
    for i in 0..100 {
        router.rules().set(format!("beta-{i}"), Tier::CANARY);
    }
    router
}

fn bench(c: &mut Criterion) {
    let keys = keys();
    let mut g = c.benchmark_group("baseline");
    g.bench_function("random_draw", |b| {
        b.iter(|| {
            let tier = if rand::random::<f64>() * 100.0 < black_box(PERCENT) {
                Tier::CANARY
            } else {
                Tier::STABLE
            };
            black_box(tier)
        })
    });
    g.bench_function("thread_rng_bool", |b| {
        b.iter(|| {
            let tier = if rand::rng().random_bool(black_box(PERCENT) / 100.0) {
                Tier::CANARY
            } else {
                Tier::STABLE
            };
            black_box(tier)
        })
    });
    g.finish();

    let router = router();
    let mut g = c.benchmark_group("tier_router");
    let mut i = 0usize;
    g.bench_function("keyed", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let request = RouteRequest::new().key(black_box(keys[i].as_str()));
            black_box(router.decide(&request))
        })
    });
    g.bench_function("header", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            let request = RouteRequest::new()
                .header(black_box("canary"))
                .key(black_box(keys[i].as_str()));
            black_box(router.decide(&request))
        })
    });
    g.bench_function("rule", |b| {
        b.iter(|| black_box(router.decide(&RouteRequest::new().key(black_box("beta-42")))))
    });
    g.bench_function("keyless", |b| {
        b.iter(|| black_box(router.decide(black_box(&RouteRequest::new()))))
    });
    g.finish();

    let canary = router.canary().clone();
    c.bench_function("canary/keyed", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            black_box(canary.assign(Some(black_box(keys[i].as_str()))))
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
