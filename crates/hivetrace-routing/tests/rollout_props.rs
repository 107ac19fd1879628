//! The rollout state machine under random operator actions, traffic and time: its invariants.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;
use hivetrace_routing::rollout::{
    Gates, HealthRecorder, Phase, RolloutEvent, Tick, TransitionKind,
};
use hivetrace_routing::{Canary, Percentage, RolloutPlan, Tier};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    /// Requests on both tiers; the canary fails `canary_errors` of every 10.
    Traffic {
        n: u64,
        canary_errors: u64,
    },
    Advance(u64),
    Tick,
    Start,
    Pause,
    Resume,
    Promote,
    PromoteFully,
    RollBack,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..40, 0u64..3).prop_map(|(n, canary_errors)| Op::Traffic { n, canary_errors }),
        3 => (0u64..120).prop_map(Op::Advance),
        5 => Just(Op::Tick),
        1 => Just(Op::Start),
        1 => Just(Op::Pause),
        1 => Just(Op::Resume),
        1 => Just(Op::Promote),
        1 => Just(Op::PromoteFully),
        1 => Just(Op::RollBack),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn the_percentage_always_matches_the_phase_and_events_chain(ops in prop::collection::vec(op(), 1..80)) {
        let canary = Canary::new(Percentage::ZERO);
        let health = HealthRecorder::new();
        let clock = ManualClock::new();
        let events = Arc::new(Mutex::new(Vec::<RolloutEvent>::new()));
        let sink = events.clone();
        let plan = RolloutPlan::builder(canary.clone(), health.clone())
            .min_dwell(Duration::from_secs(60))
            .gates(Gates::new().min_observations(20))
            .clock(clock.clone())
            .on_transition(move |e: &RolloutEvent| sink.lock().unwrap().push(e.clone()))
            .build()
            .unwrap();
        let steps: Vec<Percentage> = plan.steps().iter().map(|s| s.percentage()).collect();

        for op in ops {
            let before = canary.percentage();
            let phase_before = plan.phase();
            match op {
                Op::Traffic { n, canary_errors } => {
                    for i in 0..n {
                        health.record(&Tier::CANARY, Duration::from_millis(100), i % 10 >= canary_errors);
                        health.record(&Tier::STABLE, Duration::from_millis(100), true);
                    }
                }
                Op::Advance(secs) => clock.advance(Duration::from_secs(secs)),
                Op::Tick => {
                    let tick = plan.tick();
                    if phase_before != Phase::Running {
                        prop_assert_eq!(tick, Tick::Inactive(phase_before));
                        prop_assert_eq!(canary.percentage(), before);
                    }
                }
                Op::Start => { let _ = plan.start(); }
                Op::Pause => { let _ = plan.pause("op"); }
                Op::Resume => { let _ = plan.resume("op"); }
                Op::Promote => { let _ = plan.promote("op"); }
                Op::PromoteFully => { let _ = plan.promote_fully("op"); }
                Op::RollBack => { let _ = plan.roll_back("op"); }
            }
            let p = canary.percentage();
            match plan.phase() {
                Phase::NotStarted | Phase::RolledBack => prop_assert_eq!(p, Percentage::ZERO),
                Phase::Completed => prop_assert_eq!(p, Percentage::HUNDRED),
                Phase::Running | Phase::Paused => {
                    prop_assert_eq!(p, steps[plan.step().unwrap()]);
                }
            }
            // Only a rollback, or a new rollout started after one completed, lowers it.
            if p < before {
                let last = events.lock().unwrap().last().map(|e| e.kind);
                prop_assert!(
                    matches!(last, Some(TransitionKind::RolledBack | TransitionKind::Started)),
                    "{before} -> {p} after {last:?}"
                );
            }
        }

        // Each event starts where the previous one ended, and says what happened.
        let events = events.lock().unwrap();
        let mut at = Percentage::ZERO;
        for e in events.iter() {
            prop_assert_eq!(e.from, at, "{}", e);
            match e.kind {
                TransitionKind::RolledBack => prop_assert_eq!(e.to, Percentage::ZERO),
                TransitionKind::Completed => prop_assert_eq!(e.to, Percentage::HUNDRED),
                TransitionKind::Paused | TransitionKind::Resumed => prop_assert_eq!(e.to, e.from),
                TransitionKind::Started => prop_assert_eq!(e.to, steps[0]),
                _ => prop_assert!(e.to > e.from, "{}", e),
            }
            at = e.to;
        }
        prop_assert_eq!(at, canary.percentage());
    }
}
