//! Property: whatever outcomes arrive, in whatever order, with whatever time between them,
//! the breaker only makes the transitions Resilience4j's state machine allows.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::{BreakerEvent, CircuitBreaker, Outcome, Reason, SlidingWindow, State};
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Step {
    Call(Outcome, u64),
    Hold,
    ReleaseHeld,
    RecordHeld(bool),
    Advance(u64),
    Look,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (prop_oneof![
            Just(Outcome::Success),
            Just(Outcome::retryable_failure()),
            Just(Outcome::Ignored),
            (1u64..30).prop_map(|s| Outcome::retryable_failure().with_retry_after(Duration::from_secs(s))),
        ], 0u64..3000).prop_map(|(o, ms)| Step::Call(o, ms)),
        1 => Just(Step::Hold),
        1 => Just(Step::ReleaseHeld),
        1 => any::<bool>().prop_map(Step::RecordHeld),
        2 => (0u64..20_000).prop_map(Step::Advance),
        1 => Just(Step::Look),
    ]
}

fn legal(from: State, to: State, reason: Reason) -> bool {
    matches!(
        (from, to, reason),
        (
            State::Closed,
            State::Open,
            Reason::FailureRate | Reason::SlowCallRate | Reason::ServerHint
        ) | (State::Open, State::HalfOpen, Reason::WaitElapsed)
            | (
                State::HalfOpen,
                State::Open,
                Reason::TrialsFailed | Reason::ServerHint
            )
            | (State::HalfOpen, State::Closed, Reason::TrialsSucceeded)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn random_outcomes_never_make_an_illegal_transition(
        steps in prop::collection::vec(step(), 1..200),
        window in prop_oneof![
            (1u32..8).prop_map(SlidingWindow::Count),
            (1u32..5).prop_map(|b| SlidingWindow::Time { length: Duration::from_secs(5), buckets: b }),
        ],
        min_calls in 1u32..6,
        threshold in 1u32..=100,
        permits in 1u32..4,
        automatic in any::<bool>(),
        open_on_hint in any::<bool>(),
    ) {
        let clock = ManualClock::new();
        let transitions = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&transitions);
        let b = CircuitBreaker::builder("prop")
            .sliding_window(window)
            .minimum_calls(min_calls)
            .failure_rate_threshold(f64::from(threshold))
            .slow_call(Duration::from_secs(2), 60.0)
            .half_open_permits(permits)
            .wait_in_open(Duration::from_secs(5))
            .wait_growth(1.5, Duration::from_secs(30))
            .automatic_half_open(automatic)
            .open_on_hint(open_on_hint)
            .max_hint(Duration::from_secs(20))
            .clock(clock.clone())
            .observer(move |e: &BreakerEvent| {
                if let BreakerEvent::Transition(t) = e {
                    sink.lock().expect("log").push((t.from, t.to, t.reason));
                }
            })
            .build()
            .expect("valid");
        let mut held = Vec::new();
        let mut last = State::Closed;
        for s in steps {
            match s {
                Step::Call(outcome, ms) => {
                    if let Ok(p) = b.try_acquire() {
                        p.record_elapsed(outcome, Duration::from_millis(ms));
                    }
                }
                Step::Hold => {
                    if let Ok(p) = b.try_acquire_owned() {
                        held.push(p);
                    }
                }
                Step::ReleaseHeld => drop(held.pop()),
                Step::RecordHeld(ok) => {
                    if let Some(p) = held.pop() {
                        p.record(if ok { Outcome::Success } else { Outcome::retryable_failure() });
                    }
                }
                Step::Advance(ms) => clock.advance(Duration::from_millis(ms)),
                Step::Look => {
                    let snap = b.snapshot();
                    let cap = match window {
                        SlidingWindow::Count(n) => n,
                        SlidingWindow::Time { .. } => u32::MAX,
                    };
                    prop_assert!(snap.calls <= cap);
                    prop_assert!(snap.half_open_calls <= permits);
                }
            }
            let now = b.state();
            prop_assert!(matches!(now, State::Closed | State::Open | State::HalfOpen));
            last = now;
        }
        let log = transitions.lock().expect("log").clone();
        let mut expected_from = State::Closed;
        for (from, to, reason) in &log {
            prop_assert!(legal(*from, *to, *reason), "illegal: {from} -> {to} ({reason:?})");
            prop_assert_eq!(*from, expected_from, "transitions chain");
            expected_from = *to;
        }
        prop_assert_eq!(expected_from, last);
    }
}
