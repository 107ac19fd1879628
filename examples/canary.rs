//! A canary rollout with health gates, on a simulated clock: traffic from 2,000 users, a
//! canary build that breaks once it takes a real share of traffic, and the rollout plan that
//! advances, notices, and rolls back.
//!
//! - `TierRouter` decides each request's tier: the `X-Deployment-Tier` header (QA asks for
//!   `experimental`), a per-user rule (a beta tester pinned to canary), else the canary
//!   percentage, sticky per user.
//! - `DeploymentManager` gives each tier its own tracer (environments `stable` and `canary`,
//!   with their own source), and the decision is recorded on each request's span and put in
//!   its baggage for downstream services.
//! - `RolloutPlan` moves the percentage 5 → 25 → 50 → 100 %, judging a `HealthRecorder` fed
//!   one observation per request; a `ManualClock` compresses 15 minutes into a few
//!   milliseconds.
//!
//! ```text
//! cargo run --example canary
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivetrace::clock::ManualClock;
use hivetrace::{EventType, Tracer};
use hivetrace_routing::rollout::{Gates, HealthRecorder, Phase, RolloutEvent, Tick};
use hivetrace_routing::{
    Canary, DeploymentManager, Environment, Percentage, RolloutPlan, RouteRequest, Router, Tier,
    TierRouter,
};

const USERS: u64 = 2_000;
/// Requests per simulated 10-second tick.
const REQUESTS_PER_TICK: u64 = 150;
const TICK: Duration = Duration::from_secs(10);
const TICKS: u64 = 90;

/// Deterministic pseudo-random numbers (SplitMix64), so every run prints the same story.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The simulated service: stable fails 1 % of requests; the canary build fails as rarely while
/// it takes a small share, then 9 % once it serves a quarter of traffic or more (its new
/// connection pool is sized for a trickle).
fn serve(tier: &Tier, canary_share: Percentage, rng: &mut Rng) -> (Duration, bool) {
    let latency = Duration::from_millis(100 + rng.next() % 60);
    let error_rate = if tier.is_canary() && canary_share.as_f64() >= 25.0 {
        0.09
    } else {
        0.01
    };
    (latency, rng.unit() >= error_rate)
}

#[derive(Default)]
struct Counts {
    requests: u64,
    errors: u64,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("canary: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let clock = ManualClock::new();

    // One tracer per tier; spans go nowhere here (a real service sets an endpoint).
    let deployments = DeploymentManager::builder()
        .tracer_builder(|_| Tracer::builder().console_writer(std::io::sink()))
        .environment(
            Environment::new("stable")?
                .project("support-bot")
                .source("prod"),
        )
        .environment(
            Environment::new("canary")?
                .project("support-bot")
                .source("prod-canary"),
        )
        .initial("stable")
        .build()?;

    let canary = Canary::from_env()?; // CANARY_PERCENTAGE, 0 when unset; the plan moves it
    let router = TierRouter::new(canary.clone());
    router.rules().set("user-7", Tier::CANARY); // a beta tester

    let health = HealthRecorder::new();
    let timeline: Arc<Mutex<Vec<RolloutEvent>>> = Arc::default();
    let sink = timeline.clone();
    let plan = RolloutPlan::builder(canary.clone(), health.clone())
        .min_dwell(Duration::from_secs(120))
        .gates(
            Gates::new()
                .max_error_rate(0.05)?
                .max_error_rate_increase(0.025)?
                .max_p95_ratio(1.5)?
                .min_observations(100),
        )
        .clock(clock.clone())
        .on_transition(move |e: &RolloutEvent| {
            println!("  [{}] {e}", mmss(e.at));
            if let Ok(mut t) = sink.lock() {
                t.push(e.clone());
            }
        })
        .build()?;

    println!("rollout timeline (simulated time):");
    plan.start()?;

    let mut rng = Rng(0x5eed);
    let mut per_tier: [(Tier, Counts); 3] = [
        (Tier::STABLE, Counts::default()),
        (Tier::CANARY, Counts::default()),
        (Tier::EXPERIMENTAL, Counts::default()),
    ];
    let mut holding_reported = false;
    for _ in 0..TICKS {
        for _ in 0..REQUESTS_PER_TICK {
            let user = format!("user-{}", rng.next() % USERS);
            // About one request in a hundred comes from QA, asking for the experimental build;
            // now and then a client sends a tier that does not exist (stable, and counted).
            let header = match rng.next() % 500 {
                0..=4 => Some("experimental"),
                5 => Some("beta"),
                _ => None,
            };
            let decision = router.decide(&RouteRequest::new().key(&user).with_header(header));

            let tracer = deployments.tracer_for_tier(decision.tier())?;
            let span = tracer.span("answer").event_type(EventType::Chain).start();
            decision.record(&span); // deployment.tier, deployment.tier.source
            let _downstream = decision.with_baggage(span.context()); // for outgoing calls
            let (latency, ok) = serve(decision.tier(), canary.percentage(), &mut rng);
            if !ok {
                span.record_error_message("UpstreamError", "the model call failed");
            }
            drop(span);

            health.record(decision.tier(), latency, ok);
            if let Some((_, c)) = per_tier.iter_mut().find(|(t, _)| t == decision.tier()) {
                c.requests += 1;
                c.errors += u64::from(!ok);
            }
        }
        clock.advance(TICK);
        match plan.tick() {
            Tick::Holding(verdict) if !holding_reported => {
                println!("  [{}] holding: {verdict}", mmss(clock.elapsed()));
                holding_reported = true;
            }
            Tick::Transition(_) => holding_reported = false,
            _ => {}
        }
    }

    println!(
        "\nper-tier counts over {} of simulated traffic:",
        mmss(clock.elapsed())
    );
    for (tier, c) in &per_tier {
        let rate = if c.requests == 0 {
            0.0
        } else {
            c.errors as f64 / c.requests as f64 * 100.0
        };
        println!(
            "  {:<13} {:>6} requests {:>5} errors ({rate:.2}%)",
            tier.as_str(),
            c.requests,
            c.errors
        );
    }
    println!("\nspans per environment tracer:");
    deployments.force_flush()?;
    for (name, tracer) in deployments.built_tracers() {
        println!("  {name:<8} {} exported", tracer.stats().exported);
    }

    // Sticky and monotonic: the users in the canary at 5 % are still there at 25 %.
    let in_canary = |percent: f64| -> Result<Vec<u64>, hivetrace_routing::Error> {
        let c = Canary::new(Percentage::new(percent)?);
        Ok((0..USERS)
            .filter(|u| c.assign(Some(&format!("user-{u}"))).tier().is_canary())
            .collect())
    };
    let (at5, at25) = (in_canary(5.0)?, in_canary(25.0)?);
    println!(
        "\nusers in the canary at 5 %: {}, at 25 %: {}; all of the first still there: {}",
        at5.len(),
        at25.len(),
        at5.iter().all(|u| at25.contains(u))
    );
    println!(
        "user-42 now: {} (canary at {}); user-7 (beta rule): {}",
        router.decide(&RouteRequest::new().key("user-42")).tier(),
        canary.percentage(),
        router.decide(&RouteRequest::new().key("user-7")).tier(),
    );
    println!(
        "unknown X-Deployment-Tier values seen: {}",
        router.header().unknown_count()
    );
    deployments.shutdown()?;

    let kinds: Vec<&str> = timeline
        .lock()
        .map(|t| t.iter().map(|e| e.kind.as_str()).collect())
        .unwrap_or_default();
    if plan.phase() != Phase::RolledBack || !kinds.contains(&"advanced") {
        return Err(format!("expected an advance then a rollback, got {kinds:?}").into());
    }
    Ok(())
}

fn mmss(d: Duration) -> String {
    format!("{:02}:{:02}", d.as_secs() / 60, d.as_secs() % 60)
}
