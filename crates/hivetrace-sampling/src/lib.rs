//! # hivetrace-sampling
//!
//! Samplers for hivetrace and for any OpenTelemetry setup. Each implements
//! `opentelemetry_sdk::trace::ShouldSample` (so it plugs into any provider, and users' own
//! samplers compose with ours), is cheap to clone, and decides without a lock.
//!
//! - [`ConsistentProbabilitySampler`]: OpenTelemetry's consistent probability sampling
//!   (OTEP 235): a 56-bit threshold, randomness from the trace id or `rv`, `ot=th:` written on
//!   sampled spans so downstream samplers and adjusted counts agree across services and SDKs.
//! - [`ParentBased`]: all four parent cases configurable.
//! - [`AllowListSampler`]: always keep spans whose start attribute (default `user.id`) is in a
//!   set that changes at run time.
//! - [`KeyedSampler`]: one decision per user or session, still consistent and encoded.
//! - [`RateLimitedSampler`] (token bucket) and [`ReservoirSampler`] (X-Ray's shape).
//! - [`AdaptiveSampler`]: aims at a target of sampled traces per second as load changes,
//!   with bounded steps, a floor and a ceiling, expressed as a consistent threshold.
//! - [`RuleSampler`]: ordered first-match rules on span name, attributes and event type.
//! - [`ObservedSampler`]: counts decisions, per rule, with the effective rate.
//!
//! Time goes through [`clock::Clock`], so tests drive windows and buckets by hand.
//!
//! ```
//! use hivetrace_sampling::{
//!     AllowList, AllowListSampler, ConsistentProbabilitySampler, ObservedSampler, ParentBased,
//!     Predicate, RuleSampler,
//! };
//!
//! # fn main() -> Result<(), hivetrace_sampling::Error> {
//! let beta_users = AllowList::new(["u-7", "u-9"]);
//! let default = ParentBased::new(ConsistentProbabilitySampler::new(0.1)?);
//! let rules = RuleSampler::builder(default)
//!     .rule(
//!         "beta users",
//!         Predicate::attribute_exists("user.id"),
//!         AllowListSampler::new(beta_users.clone(), ConsistentProbabilitySampler::new(0.1)?),
//!     )
//!     .build()?;
//! let sampler = ObservedSampler::per_branch(rules);
//! // Give a clone to the tracer (`TracerBuilder::sampler`), keep one to read the counts.
//! let counts = sampler.clone();
//! assert_eq!(counts.snapshot().decisions.total, 0);
//! beta_users.insert("u-11"); // seen by the next decision, no lock taken
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod adaptive;
pub mod allow_list;
pub mod clock;
pub mod consistent;
mod error;
pub mod keyed;
pub mod observed;
pub mod ot_state;
pub mod parent;
pub mod predicate;
pub mod rate_limited;
pub mod rules;
mod text_set;
pub mod threshold;

pub use adaptive::{AdaptiveSampler, AdaptiveSamplerBuilder};
pub use allow_list::{AllowList, AllowListSampler};
pub use consistent::ConsistentProbabilitySampler;
pub use error::{Error, Result};
pub use keyed::KeyedSampler;
pub use observed::{Branching, DecisionCounts, ObservedSampler, RuleCounts, SamplerSnapshot};
pub use ot_state::OtTraceState;
pub use parent::ParentBased;
pub use predicate::{Comparison, EventType, Expected, Predicate};
pub use rate_limited::{
    RateLimitedSampler, RateLimitedSamplerBuilder, ReservoirSampler, ReservoirSamplerBuilder,
};
pub use rules::{RuleSampler, RuleSamplerBuilder};
pub use threshold::{Randomness, Threshold};

/// The README's example, compiled as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
