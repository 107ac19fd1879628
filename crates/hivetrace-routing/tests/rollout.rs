//! The rollout state machine, driven by a manual clock: advance, hold, roll back, pause,
//! promote, and the events each transition emits.
#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;
use hivetrace_routing::rollout::{
    Gates, HealthRecorder, Phase, RolloutEvent, Step, Tick, TransitionKind, Verdict,
};
use hivetrace_routing::{Canary, Error, Percentage, RolloutPlan, Tier};

const DWELL: Duration = Duration::from_secs(60);

struct Fixture {
    canary: Canary,
    health: HealthRecorder,
    clock: ManualClock,
    plan: RolloutPlan,
    events: Arc<Mutex<Vec<RolloutEvent>>>,
}

fn fixture() -> Fixture {
    let canary = Canary::new(Percentage::ZERO);
    let health = HealthRecorder::new();
    let clock = ManualClock::new();
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let plan = RolloutPlan::builder(canary.clone(), health.clone())
        .min_dwell(DWELL)
        .gates(Gates::new().min_observations(20))
        .clock(clock.clone())
        .on_transition(move |e: &RolloutEvent| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    Fixture {
        canary,
        health,
        clock,
        plan,
        events,
    }
}

impl Fixture {
    /// `n` requests per tier, `canary_errors` of the canary's failing, latencies as given.
    fn traffic(&self, n: u64, canary_errors: u64, canary_ms: u64, stable_ms: u64) {
        for i in 0..n {
            self.health.record(
                &Tier::CANARY,
                Duration::from_millis(canary_ms),
                i >= canary_errors,
            );
            self.health
                .record(&Tier::STABLE, Duration::from_millis(stable_ms), true);
        }
    }

    fn percent(&self) -> u16 {
        self.canary.percentage().basis_points() / 100
    }

    fn kinds(&self) -> Vec<TransitionKind> {
        self.events.lock().unwrap().iter().map(|e| e.kind).collect()
    }
}

fn transition(tick: Tick) -> RolloutEvent {
    match tick {
        Tick::Transition(e) => e,
        other => panic!("expected a transition, got {other:?}"),
    }
}

#[test]
fn healthy_canary_advances_step_by_step_after_each_dwell_and_completes() {
    let f = fixture();
    assert_eq!(f.plan.tick(), Tick::Inactive(Phase::NotStarted));
    f.plan.start().unwrap();
    assert_eq!((f.percent(), f.plan.step()), (5, Some(0)));

    for (step, expected_next) in [(0, 25), (1, 50)] {
        f.traffic(20, 0, 100, 100);
        f.clock.advance(DWELL - Duration::from_secs(1));
        assert_eq!(f.plan.tick(), Tick::Dwelling(Duration::from_secs(1)));
        f.clock.advance(Duration::from_secs(1));
        let e = transition(f.plan.tick());
        assert_eq!(e.kind, TransitionKind::Advanced);
        assert_eq!(e.step, Some(step + 1));
        assert_eq!(e.to.basis_points() / 100, expected_next);
        assert!(!e.manual);
        assert_eq!(e.at, f.clock.elapsed());
        // The new step's window starts empty: the next tick holds for data.
        assert!(matches!(f.plan.tick(), Tick::Holding(_)));
    }

    f.traffic(20, 0, 100, 100);
    f.clock.advance(DWELL);
    let e = transition(f.plan.tick());
    assert_eq!(
        (e.kind, e.to),
        (TransitionKind::Completed, Percentage::HUNDRED)
    );
    assert_eq!(f.plan.phase(), Phase::Completed);
    assert_eq!(f.plan.tick(), Tick::Inactive(Phase::Completed));
    assert_eq!(
        f.kinds(),
        [
            TransitionKind::Started,
            TransitionKind::Advanced,
            TransitionKind::Advanced,
            TransitionKind::Completed
        ]
    );
}

#[test]
fn too_little_data_holds_even_after_the_dwell_time() {
    let f = fixture();
    f.plan.start().unwrap();
    f.traffic(19, 0, 100, 100);
    f.clock.advance(DWELL * 10);
    let Tick::Holding(Verdict::Insufficient {
        canary,
        stable,
        needed,
    }) = f.plan.tick()
    else {
        panic!("expected a hold");
    };
    assert_eq!((canary, stable, needed), (19, 19, 20));
    assert_eq!(f.percent(), 5);
    f.traffic(1, 0, 100, 100);
    assert_eq!(transition(f.plan.tick()).kind, TransitionKind::Advanced);
}

#[test]
fn a_failing_gate_rolls_back_at_once_even_during_the_dwell() {
    let f = fixture();
    f.plan.start().unwrap();
    f.traffic(20, 0, 100, 100);
    f.clock.advance(DWELL);
    transition(f.plan.tick());
    assert_eq!(f.percent(), 25);

    f.traffic(40, 4, 100, 100); // 10 % errors on the canary
    let e = transition(f.plan.tick());
    assert_eq!(e.kind, TransitionKind::RolledBack);
    assert_eq!((e.from.basis_points(), e.to), (2500, Percentage::ZERO));
    assert!(e.reason.contains("error rate"), "{}", e.reason);
    assert_eq!((f.plan.phase(), f.percent()), (Phase::RolledBack, 0));
    assert_eq!(f.plan.tick(), Tick::Inactive(Phase::RolledBack));
}

#[test]
fn slow_canary_rolls_back_on_the_latency_gate() {
    let f = fixture();
    f.plan.start().unwrap();
    f.traffic(20, 0, 400, 100);
    let e = transition(f.plan.tick());
    assert_eq!(e.kind, TransitionKind::RolledBack);
    assert!(e.reason.contains("p95"), "{}", e.reason);
}

#[test]
fn pause_freezes_and_resume_restarts_the_dwell() {
    let f = fixture();
    f.plan.start().unwrap();
    f.traffic(20, 0, 100, 100);
    let paused = f.plan.pause("investigating a ticket").unwrap();
    assert_eq!((paused.kind, paused.manual), (TransitionKind::Paused, true));
    assert_eq!(paused.reason, "investigating a ticket");
    f.clock.advance(DWELL * 5);
    assert_eq!(f.plan.tick(), Tick::Inactive(Phase::Paused));
    assert_eq!(f.percent(), 5);
    // Even a failing canary is not judged while paused.
    f.traffic(20, 20, 100, 100);
    assert_eq!(f.plan.tick(), Tick::Inactive(Phase::Paused));
    assert!(matches!(
        f.plan.pause("again"),
        Err(Error::Rollout {
            action: "pause",
            phase: "paused"
        })
    ));

    f.plan.resume("ticket closed").unwrap();
    f.traffic(20, 0, 100, 100);
    assert_eq!(f.plan.tick(), Tick::Dwelling(DWELL));
    f.clock.advance(DWELL);
    assert_eq!(transition(f.plan.tick()).kind, TransitionKind::Advanced);
}

#[test]
fn promote_skips_gates_and_dwell_and_promote_fully_completes() {
    let f = fixture();
    f.plan.start().unwrap();
    let e = f.plan.promote("looks fine").unwrap();
    assert_eq!(
        (e.kind, e.manual, e.to.basis_points()),
        (TransitionKind::Promoted, true, 2500)
    );
    assert_eq!(f.plan.phase(), Phase::Running);
    f.plan.pause("hold on").unwrap();
    let e = f.plan.promote("go on").unwrap();
    assert_eq!(e.to.basis_points(), 5000);
    assert_eq!(
        f.plan.phase(),
        Phase::Paused,
        "promoting a paused plan keeps it paused"
    );
    let e = f.plan.promote("last").unwrap();
    assert_eq!(
        (e.kind, e.to),
        (TransitionKind::Completed, Percentage::HUNDRED)
    );
    assert!(f.plan.promote("more").is_err());

    let g = fixture();
    g.plan.start().unwrap();
    let e = g.plan.promote_fully("ship it").unwrap();
    assert_eq!((e.kind, g.percent()), (TransitionKind::Completed, 100));
}

#[test]
fn manual_rollback_and_restart() {
    let f = fixture();
    assert!(matches!(
        f.plan.roll_back("x"),
        Err(Error::Rollout {
            phase: "not started",
            ..
        })
    ));
    f.plan.start().unwrap();
    assert!(f.plan.start().is_err());
    let e = f.plan.roll_back("customer report").unwrap();
    assert_eq!((e.kind, e.manual), (TransitionKind::RolledBack, true));
    assert_eq!(f.percent(), 0);
    f.plan.start().unwrap();
    assert_eq!(f.percent(), 5);
    assert_eq!(
        f.kinds(),
        [
            TransitionKind::Started,
            TransitionKind::RolledBack,
            TransitionKind::Started
        ]
    );
}

#[test]
fn steps_are_validated_and_custom_steps_complete_at_100() {
    let bad = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new())
        .steps([
            Step::new(Percentage::new(10.0).unwrap(), DWELL),
            Step::new(Percentage::new(10.0).unwrap(), DWELL),
        ])
        .build()
        .unwrap_err()
        .to_string();
    assert!(bad.contains("10.00% -> 10.00%"), "{bad}");
    assert!(
        RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new())
            .steps([])
            .build()
            .is_err()
    );

    let canary = Canary::new(Percentage::ZERO);
    let health = HealthRecorder::new();
    let clock = ManualClock::new();
    let plan = RolloutPlan::builder(canary.clone(), health.clone())
        .steps([Step::new(Percentage::new(1.5).unwrap(), DWELL)])
        .gates(Gates::new().min_observations(1))
        .clock(clock.clone())
        .build()
        .unwrap();
    plan.start().unwrap();
    assert_eq!(canary.percentage().basis_points(), 150);
    health.record(&Tier::CANARY, Duration::from_millis(1), true);
    health.record(&Tier::STABLE, Duration::from_millis(1), true);
    clock.advance(DWELL);
    let e = transition(plan.tick());
    assert_eq!(
        (e.kind, canary.percentage()),
        (TransitionKind::Completed, Percentage::HUNDRED)
    );
}

#[test]
fn transitions_become_events_on_the_current_span() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let f = fixture();
    tracer.in_span("operator", |_cx| {
        f.plan.start().unwrap();
        f.plan.roll_back("bad").unwrap();
    });
    let spans = exporter.get_finished_spans().unwrap();
    let events: Vec<String> = spans[0]
        .events
        .iter()
        .filter(|e| e.name == hivetrace_routing::rollout::ROLLOUT_SPAN_EVENT)
        .map(|e| {
            e.attributes
                .iter()
                .find(|kv| kv.key.as_str() == "rollout.kind")
                .map(|kv| kv.value.as_str().into_owned())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(events, ["started", "rolled_back"]);
}

/// A plan whose first listener runs `react` on each event and whose second records them all.
fn reacting_plan(
    react: impl Fn(&RolloutPlan, &RolloutEvent) + Send + Sync + 'static,
) -> (RolloutPlan, Arc<Mutex<Vec<RolloutEvent>>>) {
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let slot = Arc::new(std::sync::OnceLock::<RolloutPlan>::new());
    let plan_for_listener = slot.clone();
    let plan = RolloutPlan::builder(Canary::new(Percentage::ZERO), HealthRecorder::new())
        .on_transition(move |e: &RolloutEvent| {
            react(plan_for_listener.get().expect("plan set"), e);
        })
        .on_transition(move |e: &RolloutEvent| sink.lock().expect("events").push(e.clone()))
        .build()
        .expect("plan");
    slot.set(plan.clone()).expect("plan set once");
    (plan, events)
}

/// Every listener is told the transitions in the order they happened: each starts where the
/// one before it ended.
fn assert_told_in_order(events: &[RolloutEvent], kinds: &[TransitionKind]) {
    assert_eq!(events.iter().map(|e| e.kind).collect::<Vec<_>>(), kinds);
    for pair in events.windows(2) {
        assert_eq!(pair[1].from, pair[0].to, "{} then {}", pair[0], pair[1]);
    }
}

/// Starts and promotes a plan whose first listener reacts to the promotion with `roll_back`
/// (`by` does it); the second listener must hear started, promoted, rolled back, in order.
fn a_rollback_during_the_promotion_is_told_after_it(
    by: impl Fn(&RolloutPlan) + Send + Sync + 'static,
) {
    let (plan, events) = reacting_plan(move |plan, e| {
        if e.kind == TransitionKind::Promoted {
            by(plan);
        }
    });
    plan.start().expect("start");
    plan.promote("by hand").expect("promote");
    assert_eq!(plan.phase(), Phase::RolledBack);
    assert_told_in_order(
        &events.lock().expect("events"),
        &[
            TransitionKind::Started,
            TransitionKind::Promoted,
            TransitionKind::RolledBack,
        ],
    );
}

#[test]
fn a_listener_that_changes_the_plan_does_not_reorder_what_the_others_are_told() {
    a_rollback_during_the_promotion_is_told_after_it(|plan| {
        plan.roll_back("guard saw the promotion")
            .expect("roll back");
    });
}

#[test]
fn a_transition_on_another_thread_is_told_after_the_one_being_told() {
    // While the listeners are told of the promotion, another thread rolls the plan back.
    a_rollback_during_the_promotion_is_told_after_it(|plan| {
        let other = plan.clone();
        std::thread::spawn(move || other.roll_back("operator").expect("roll back"))
            .join()
            .expect("roll back thread");
    });
}

#[test]
fn listeners_are_still_told_after_one_panicked() {
    let (plan, events) = reacting_plan(|_, e| {
        if e.kind == TransitionKind::Promoted {
            panic!("a listener failed");
        }
    });
    plan.start().expect("start");
    let promoted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| plan.promote("x")));
    assert!(promoted.is_err(), "the listener's panic reaches the caller");
    plan.roll_back("after the panic").expect("roll back");
    let kinds: Vec<TransitionKind> = events
        .lock()
        .expect("events")
        .iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(kinds, [TransitionKind::Started, TransitionKind::RolledBack]);
}
