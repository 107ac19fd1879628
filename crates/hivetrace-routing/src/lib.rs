//! # hivetrace-routing
//!
//! Deployment routing for hivetrace, the way progressive-delivery systems do it: sticky
//! canary assignment, staged rollouts with health gates and automatic rollback,
//! header-selected tiers, blue-green environments with one tracer each, and the tier carried
//! to downstream services.
//!
//! - [`Canary`]: a percentage (0 to 100, resolution 0.01, [`Percentage`]) with sticky
//!   assignment by key: the [`bucket`] module documents the hash, with test vectors, so any
//!   service or language computes the same assignment. Raising the percentage only moves keys
//!   from stable to canary; keyless requests get a random draw. [`CANARY_PERCENTAGE`] sets the
//!   initial value.
//! - [`TierRouter`]: the [`TIER_HEADER`] header ([`HeaderRouter`]; unknown names mean stable
//!   and are counted), then the upstream tier from baggage ([`UpstreamRouter`]), then
//!   per-user rules ([`UserRules`]), then your own routers, then the percentage. No lock, no
//!   allocation.
//! - [`Router`]: the trait for your own rules; routers compose ([`Router::or`], `Vec<R>`,
//!   [`router_fn`]).
//! - [`Decision`]: the tier and its [`TierSource`]; [`Decision::record`] writes
//!   [`TIER_ATTRIBUTE`] and [`TIER_SOURCE_ATTRIBUTE`] on a span, [`Decision::with_baggage`]
//!   puts [`TIER_BAGGAGE`] in the context for downstream services, and [`TierSpanProcessor`]
//!   stamps the tier on every span started under it.
//! - [`DeploymentManager`]: named [`Environment`]s (blue, green, staging, yours), tracers
//!   built lazily and cached, an atomic [`switch`](DeploymentManager::switch) that loses no
//!   span, the initial environment from [`DEPLOYMENT_ENV`].
//! - [`RolloutPlan`]: steps, dwell times, [`Gates`](rollout::Gates) on a
//!   [`HealthSignal`](rollout::HealthSignal) comparing canary with stable; advances, holds or
//!   rolls back by itself, and by hand; every transition is a callback, a `tracing` log and a
//!   span event. [`HealthRecorder`](rollout::HealthRecorder) is a signal fed per request, by
//!   hand or by [`HealthSpanProcessor`](rollout::HealthSpanProcessor) from request spans.
//!   Time goes through [`hivetrace_core::clock::Clock`].
//! - `tower` (feature `tower`): `tower::RoutingLayer`, the tier per request in extensions and
//!   baggage.
//!
//! ## Example
//!
//! ```
//! use std::time::Duration;
//! use hivetrace_core::clock::ManualClock;
//! use hivetrace_routing::rollout::{Gates, HealthRecorder};
//! use hivetrace_routing::{Canary, Percentage, RolloutPlan, RouteRequest, Router, Tier, TierRouter};
//!
//! # fn main() -> Result<(), hivetrace_routing::Error> {
//! let canary = Canary::new(Percentage::ZERO);
//! let router = TierRouter::new(canary.clone());
//! let health = HealthRecorder::new();
//! let clock = ManualClock::new(); // SystemClock (the default) in production
//! let plan = RolloutPlan::builder(canary.clone(), health.clone())
//!     .gates(Gates::new().min_observations(50))
//!     .clock(clock.clone())
//!     .build()?;
//! plan.start()?; // 5 %
//!
//! // Per request: decide, serve, record.
//! let decision = router.decide(&RouteRequest::new().key("user-42"));
//! health.record(decision.tier(), Duration::from_millis(120), true);
//!
//! // Periodically: let the plan judge.
//! let _ = plan.tick();
//! assert_eq!(canary.percentage(), Percentage::new(5.0)?);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod bucket;
mod canary;
mod decision;
mod deployment;
mod error;
mod header;
mod percentage;
mod propagation;
pub mod rollout;
mod router;
mod tier;
mod tier_router;
#[cfg(feature = "tower")]
pub mod tower;
mod user_rules;

pub use canary::{CANARY_PERCENTAGE, Canary};
pub use decision::{Decision, TierSource};
pub use deployment::{DEPLOYMENT_ENV, DeploymentManager, DeploymentManagerBuilder, Environment};
pub use error::{Error, Result};
pub use header::{HeaderRouter, TIER_HEADER, TierNames};
pub use percentage::{BASIS_POINTS, Percentage};
pub use propagation::{
    TIER_ATTRIBUTE, TIER_BAGGAGE, TIER_SOURCE_ATTRIBUTE, TierSpanProcessor, UpstreamRouter,
    tier_in_baggage_header, upstream_tier,
};
pub use rollout::RolloutPlan;
pub use router::{Or, RouteRequest, Router, RouterFn, router_fn};
pub use tier::{MAX_TIER_NAME_LEN, Tier};
pub use tier_router::TierRouter;
pub use user_rules::UserRules;

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
