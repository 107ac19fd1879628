//! The breaker's state machine, driven by a manual clock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::{
    BreakerEvent, CircuitBreaker, CircuitBreakerBuilder, Outcome, Reason, SlidingWindow, State,
};

fn failure() -> Outcome {
    Outcome::retryable_failure()
}

fn breaker(clock: &ManualClock) -> CircuitBreakerBuilder {
    CircuitBreaker::builder("test")
        .sliding_window(SlidingWindow::Count(4))
        .minimum_calls(4)
        .failure_rate_threshold(50.0)
        .wait_in_open(Duration::from_secs(10))
        .half_open_permits(2)
        .clock(clock.clone())
}

fn run(b: &CircuitBreaker, outcomes: &[Outcome]) {
    for o in outcomes {
        b.try_acquire().expect("permitted").record(*o);
    }
}

type Log = Arc<Mutex<Vec<(State, State, Reason, Option<Duration>)>>>;

fn observed(builder: CircuitBreakerBuilder) -> (CircuitBreaker, Log) {
    let log: Log = Arc::default();
    let sink = Arc::clone(&log);
    let b = builder
        .observer(move |e: &BreakerEvent| {
            if let BreakerEvent::Transition(t) = e {
                sink.lock()
                    .expect("log")
                    .push((t.from, t.to, t.reason, t.open_for));
            }
        })
        .build()
        .expect("valid config");
    (b, log)
}

#[test]
fn opens_exactly_at_the_failure_rate_threshold() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    let s = Outcome::Success;
    run(&b, &[s, failure(), s, s]); // 25 %
    assert_eq!(b.state(), State::Closed);
    run(&b, &[failure()]); // window: failure, s, s, failure = 50 %
    assert_eq!(b.state(), State::Open);
    let snap = b.snapshot();
    assert_eq!(
        (snap.calls, snap.failures, snap.failure_rate),
        (4, 2, Some(50.0))
    );
}

#[test]
fn below_the_minimum_number_of_calls_nothing_is_judged() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    run(&b, &[failure(), failure(), failure()]);
    assert_eq!(b.state(), State::Closed, "3 of the 4 minimum calls");
    assert_eq!(b.snapshot().failure_rate, None);
    run(&b, &[failure()]);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn a_rate_just_below_the_threshold_stays_closed() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .sliding_window(SlidingWindow::Count(10))
        .minimum_calls(10)
        .failure_rate_threshold(30.0)
        .build()
        .expect("valid");
    let mut outcomes = vec![Outcome::Success; 8];
    outcomes.extend([failure(), failure()]); // 20 %
    run(&b, &outcomes);
    assert_eq!(b.state(), State::Closed);
    run(&b, &[failure()]); // oldest success leaves: 3 of 10 = 30 %
    assert_eq!(b.state(), State::Open);
}

#[test]
fn open_rejects_until_the_wait_is_over_then_half_opens_on_the_next_call() {
    let clock = ManualClock::new();
    let (b, log) = observed(breaker(&clock));
    run(&b, &[failure(); 4]);
    let rejected = b.try_acquire().expect_err("open");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(10)));

    clock.advance(Duration::from_millis(9_999));
    assert!(b.try_acquire().is_err());
    clock.advance(Duration::from_millis(1));
    assert_eq!(b.state(), State::Open, "not automatic: waits for a call");
    let permit = b.try_acquire().expect("a trial call");
    assert_eq!(permit.state(), State::HalfOpen);
    drop(permit);
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(
        *log.lock().expect("log"),
        [
            (
                State::Closed,
                State::Open,
                Reason::FailureRate,
                Some(Duration::from_secs(10))
            ),
            (State::Open, State::HalfOpen, Reason::WaitElapsed, None),
        ]
    );
    assert_eq!(b.snapshot().rejected_total, 2);
}

#[test]
fn automatic_half_open_happens_without_a_call() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .automatic_half_open(true)
        .build()
        .expect("valid");
    run(&b, &[failure(); 4]);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(10)));
    clock.advance(Duration::from_secs(10));
    assert_eq!(b.state(), State::HalfOpen);
    assert_eq!(b.transitions(State::Open, State::HalfOpen), 1);
}

fn open_then_half_open(b: &CircuitBreaker, clock: &ManualClock) {
    run(b, &[failure(); 4]);
    clock.advance(b.snapshot().open_remaining.expect("open"));
}

#[test]
fn half_open_permits_are_bounded_and_given_back_when_dropped() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    open_then_half_open(&b, &clock);
    let first = b.try_acquire().expect("trial 1");
    let second = b.try_acquire().expect("trial 2");
    let third = b.try_acquire().expect_err("only 2 trials");
    assert_eq!(third.state(), State::HalfOpen);
    drop(second); // unrecorded: its slot comes back
    let again = b.try_acquire().expect("slot returned");
    first.success();
    assert_eq!(b.state(), State::HalfOpen, "one of two trials recorded");
    again.success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.snapshot().calls, 0, "closing starts a fresh window");
}

#[test]
fn failed_trials_reopen_with_a_growing_wait_and_success_resets_it() {
    let clock = ManualClock::new();
    let (b, log) = observed(breaker(&clock).wait_growth(2.0, Duration::from_secs(25)));
    open_then_half_open(&b, &clock);
    run(&b, &[Outcome::Success, failure()]); // 50 % of trials failed
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(20)));
    clock.advance(Duration::from_secs(20));
    run(&b, &[failure(), failure()]);
    assert_eq!(
        b.snapshot().open_remaining,
        Some(Duration::from_secs(25)),
        "40 s capped at 25 s"
    );
    assert_eq!(b.snapshot().consecutive_opens, 3);
    clock.advance(Duration::from_secs(25));
    run(&b, &[Outcome::Success, Outcome::Success]);
    assert_eq!(b.state(), State::Closed);
    run(&b, &[failure(); 4]);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(10)));
    let reasons: Vec<Reason> = log.lock().expect("log").iter().map(|t| t.2).collect();
    assert_eq!(
        reasons,
        [
            Reason::FailureRate,
            Reason::WaitElapsed,
            Reason::TrialsFailed,
            Reason::WaitElapsed,
            Reason::TrialsFailed,
            Reason::WaitElapsed,
            Reason::TrialsSucceeded,
            Reason::FailureRate,
        ]
    );
}

#[test]
fn concurrent_callers_get_exactly_the_half_open_permits() {
    let clock = ManualClock::new();
    let b = breaker(&clock).half_open_permits(3).build().expect("valid");
    open_then_half_open(&b, &clock);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let b = b.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                barrier.wait();
                match b.try_acquire() {
                    // Hold the permit past the others' attempts: recorded outcomes would
                    // end half-open.
                    Ok(p) => {
                        std::mem::forget(p);
                        true
                    }
                    Err(_) => false,
                }
            })
        })
        .collect();
    let permitted: Vec<bool> = handles
        .into_iter()
        .map(|h| h.join().expect("thread"))
        .collect();
    assert_eq!(permitted.iter().filter(|p| **p).count(), 3);
    assert_eq!(b.snapshot().rejected_total, 5);
}

#[test]
fn slow_calls_open_the_breaker_at_their_rate() {
    let clock = ManualClock::new();
    let (b, log) = observed(
        breaker(&clock)
            .failure_rate_threshold(100.0)
            .slow_call(Duration::from_secs(2), 75.0),
    );
    let slow = Duration::from_secs(2);
    let fast = Duration::from_millis(1_999);
    for elapsed in [slow, fast, slow] {
        b.try_acquire()
            .expect("closed")
            .record_elapsed(Outcome::Success, elapsed);
    }
    // A call measured from its permit with the manual clock: 3 s is slow.
    let permit = b.try_acquire().expect("closed");
    clock.advance(Duration::from_secs(3));
    permit.success(); // 3 of 4 slow: 75 %
    assert_eq!(b.state(), State::Open);
    assert_eq!(log.lock().expect("log")[0].2, Reason::SlowCallRate);
    let snap = b.snapshot();
    assert_eq!((snap.slow_calls, snap.slow_call_rate), (3, Some(75.0)));
    assert_eq!(snap.successful_total, 4);
}

#[test]
fn a_time_window_forgets_old_failures() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .sliding_window(SlidingWindow::Time {
            length: Duration::from_secs(10),
            buckets: 10,
        })
        .minimum_calls(3)
        .build()
        .expect("valid");
    run(&b, &[failure(), failure()]);
    clock.advance(Duration::from_secs(10)); // the failures age out
    run(&b, &[Outcome::Success, Outcome::Success, failure()]);
    assert_eq!(b.state(), State::Closed, "1 of 3 in the window");
    run(&b, &[failure()]);
    assert_eq!(b.state(), State::Open, "2 of 4 = 50 %");
}

#[test]
fn a_success_that_brings_the_window_to_minimum_calls_is_judged() {
    let clock = ManualClock::new();
    let windows = [
        SlidingWindow::Count(10),
        SlidingWindow::time(Duration::from_secs(10)),
    ];
    for window in windows {
        // Three failures cannot be judged below 4 calls; the success that makes 4 can.
        let b = breaker(&clock)
            .sliding_window(window)
            .build()
            .expect("valid");
        run(&b, &[failure(), failure(), failure(), Outcome::Success]);
        assert_eq!(b.state(), State::Open, "{window:?}: 3 of 4 failed");
        let b = breaker(&clock)
            .sliding_window(window)
            .build()
            .expect("valid");
        run(&b, &[failure(), Outcome::Success, Outcome::Success]);
        run(&b, &[Outcome::Success]);
        assert_eq!(b.state(), State::Closed, "{window:?}: 1 of 4 failed");
        run(&b, &[failure(), failure()]);
        assert_eq!(b.state(), State::Open, "{window:?}: 3 of 6 failed");
    }
}

#[test]
fn forced_open_disabled_and_metrics_only_hold_until_changed() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    b.force_open();
    clock.advance(Duration::from_secs(3600));
    assert_eq!(
        b.try_acquire().expect_err("forced").state(),
        State::ForcedOpen
    );

    b.disable();
    run(&b, &[failure(); 10]);
    assert_eq!(b.state(), State::Disabled);
    assert_eq!(b.snapshot().calls, 0, "disabled records nothing");

    b.metrics_only();
    run(&b, &[failure(); 10]);
    assert_eq!(b.state(), State::MetricsOnly, "never trips");
    let snap = b.snapshot();
    assert_eq!((snap.calls, snap.failure_rate), (4, Some(100.0)));

    b.reset();
    assert_eq!((b.state(), b.snapshot().calls), (State::Closed, 0));
    assert_eq!(b.transitions(State::Closed, State::ForcedOpen), 1);
    assert_eq!(b.transitions(State::MetricsOnly, State::Closed), 1);
}

#[test]
fn a_server_hint_sets_the_open_duration_capped() {
    let clock = ManualClock::new();
    let b = breaker(&clock)
        .max_hint(Duration::from_secs(60))
        .build()
        .expect("valid");
    run(&b, &[failure(), failure(), Outcome::Success]);
    let hinted = failure().with_retry_after(Duration::from_secs(30));
    run(&b, &[hinted]);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(30)));

    // Opening on hints: one hinted failure opens at once, capped at max_hint.
    let b = breaker(&clock)
        .max_hint(Duration::from_secs(60))
        .open_on_hint(true)
        .build()
        .expect("valid");
    run(&b, &[failure().with_retry_after(Duration::from_secs(600))]);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(60)));
}

#[test]
fn a_late_hint_extends_an_open_breaker() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    let slow_call = b.try_acquire_owned().expect("closed");
    run(&b, &[failure(); 4]);
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(10)));
    slow_call.record(failure().with_retry_after(Duration::from_secs(40)));
    assert_eq!(b.snapshot().open_remaining, Some(Duration::from_secs(40)));
}

#[test]
fn concurrent_trials_never_leave_the_breaker_stuck_half_open() {
    // One trial, reopening at once: half-open periods end and start while other threads
    // still take, record or give back permits of earlier ones.
    let b = CircuitBreaker::builder("race")
        .sliding_window(SlidingWindow::Count(1))
        .minimum_calls(1)
        .half_open_permits(1)
        .wait_in_open(Duration::ZERO)
        .span_events(false)
        .build()
        .expect("valid");
    for round in 0..4 {
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..4u64)
            .map(|t| {
                let b = b.clone();
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let mut i = t;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        if let Ok(p) = b.try_acquire() {
                            match i % 3 {
                                0 => p.failure(),
                                1 => p.success(),
                                _ => drop(p),
                            }
                        }
                    }
                })
            })
            .collect();
        // The race needs the threads to overlap for a while; no assertion is about time.
        std::thread::sleep(Duration::from_millis(150));
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            h.join().expect("thread");
        }
        // No permit is outstanding: whatever the state, the next call is let through.
        match b.try_acquire() {
            Ok(p) => p.failure(),
            Err(e) => panic!("round {round}: stuck ({e}): {:?}", b.snapshot()),
        }
    }
}

#[test]
fn outcomes_of_calls_permitted_before_a_transition_are_not_judged_after_it() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    let old = b.try_acquire_owned().expect("closed");
    open_then_half_open(&b, &clock);
    let trial = b.try_acquire().expect("trial");
    old.record(failure()); // from the closed generation: ignored by half-open
    trial.success();
    assert_eq!(b.snapshot().half_open_calls, 1);
    assert_eq!(b.state(), State::HalfOpen);
}

#[test]
fn an_ignored_trial_gives_its_half_open_slot_back() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    open_then_half_open(&b, &clock);
    run(&b, &[Outcome::Ignored, Outcome::Ignored, Outcome::Ignored]);
    assert_eq!(b.state(), State::HalfOpen);
    run(&b, &[Outcome::Success, Outcome::Success]);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn the_most_half_open_permits_still_close() {
    let clock = ManualClock::new();
    let permits = 2_097_151;
    let b = breaker(&clock)
        .half_open_permits(permits)
        .span_events(false)
        .build()
        .expect("the largest accepted value");
    open_then_half_open(&b, &clock);
    for _ in 0..permits {
        b.try_acquire().expect("trial").success();
    }
    assert_eq!(b.state(), State::Closed, "every trial succeeded");
}

#[test]
fn ignored_outcomes_are_counted_apart() {
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    run(&b, &[Outcome::Ignored; 5]);
    let snap = b.snapshot();
    assert_eq!(
        (snap.calls, snap.ignored_total, snap.state),
        (0, 5, State::Closed)
    );
}

#[test]
fn invalid_settings_name_themselves() {
    let err = CircuitBreaker::builder("x")
        .failure_rate_threshold(0.0)
        .build()
        .expect_err("0 %");
    assert!(err.to_string().contains("failure_rate_threshold"));
    let err = CircuitBreaker::builder("x")
        .sliding_window(SlidingWindow::Count(0))
        .build()
        .expect_err("empty window");
    assert!(err.to_string().contains("sliding_window"));
    let err = CircuitBreaker::builder("x")
        .half_open_permits(0)
        .build()
        .expect_err("no trials");
    assert!(err.to_string().contains("half_open_permits"));
    let err = CircuitBreaker::builder("x")
        .half_open_permits(1 << 21)
        .build()
        .expect_err("more trials than the counts hold");
    assert!(err.to_string().contains("half_open_permits"));
    assert!(
        err.to_string().contains("2,097,151"),
        "names the limit: {err}"
    );
    let err = CircuitBreaker::builder("x")
        .wait_growth(0.5, Duration::from_secs(1))
        .build()
        .expect_err("shrinking wait");
    assert!(err.to_string().contains("wait_growth"));
}

#[test]
fn transitions_and_rejections_are_events_on_the_current_span() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let tracer = provider.tracer("test");
    let clock = ManualClock::new();
    let b = breaker(&clock).build().expect("valid");
    tracer.in_span("call", |_| {
        run(&b, &[failure(); 4]);
        assert!(b.try_acquire().is_err());
    });
    let spans = exporter.get_finished_spans().expect("spans");
    let events: Vec<&str> = spans[0].events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(
        events,
        ["circuit_breaker.transition", "circuit_breaker.rejected"]
    );
    let to = spans[0].events.events[0]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "circuit_breaker.to")
        .map(|kv| kv.value.to_string());
    assert_eq!(to.as_deref(), Some("open"));
}
