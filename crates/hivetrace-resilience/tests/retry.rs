//! Retry: attempts, backoff, hints, budget, elapsed cap, and what lands on the span.

use std::cell::Cell;
use std::time::{Duration, SystemTime};

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::retry::{
    Backoff, Jitter, ManualSleeper, RetryBudget, RetryPolicy, retry,
};
use hivetrace_resilience::{Outcome, hint};
use opentelemetry::trace::{Tracer as _, TracerProvider as _};
use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};

#[derive(Debug, PartialEq)]
enum Failure {
    Busy(Option<u64>),
    Invalid,
}

fn classify(r: &Result<&'static str, Failure>) -> Outcome {
    match r {
        Ok(_) => Outcome::Success,
        Err(Failure::Busy(Some(s))) => {
            Outcome::retryable_failure().with_retry_after(Duration::from_secs(*s))
        }
        Err(Failure::Busy(None)) => Outcome::retryable_failure(),
        Err(Failure::Invalid) => Outcome::failure(),
    }
}

type ClassifyFn = fn(&Result<&'static str, Failure>) -> Outcome;

fn policy(attempts: u32, clock: &ManualClock) -> (RetryPolicy<ClassifyFn>, ManualSleeper) {
    let sleeper = ManualSleeper::new(clock.clone());
    let p = RetryPolicy::new(attempts)
        .expect("valid")
        .backoff(Backoff::exponential(Duration::from_millis(100)).jitter(Jitter::None))
        .sleeper(sleeper.clone())
        .clock(clock.clone())
        .classify(classify as ClassifyFn);
    (p, sleeper)
}

/// Runs `f` inside a recording span; returns its result and the finished span.
fn traced<T>(f: impl FnOnce() -> T) -> (T, SpanData) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let out = provider.tracer("t").in_span("call", |_| f());
    let span = exporter.get_finished_spans().expect("spans").remove(0);
    (out, span)
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn event_attr(attrs: &[KeyValue], key: &str) -> Option<Value> {
    attrs
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

#[test]
fn retries_until_success_and_records_each_attempt_on_the_span() {
    let clock = ManualClock::new();
    let (policy, sleeper) = policy(4, &clock);
    let calls = Cell::new(0);
    let (result, span) = traced(|| {
        futures_executor::block_on(retry(&policy, || {
            calls.set(calls.get() + 1);
            let n = calls.get();
            async move {
                if n < 3 {
                    Err(Failure::Busy(None))
                } else {
                    Ok("done")
                }
            }
        }))
    });
    assert_eq!(result, Ok("done"));
    assert_eq!(
        sleeper.slept(),
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
    assert_eq!(attr(&span, "retry.max_attempts"), Some(Value::I64(4)));
    assert_eq!(attr(&span, "retry.succeeded_attempt"), Some(Value::I64(3)));
    assert_eq!(attr(&span, "retry.attempts"), Some(Value::I64(3)));
    let events: Vec<_> = span.events.iter().collect();
    assert_eq!(events.len(), 2, "one event per failed attempt");
    assert_eq!(
        event_attr(&events[0].attributes, "retry.attempt"),
        Some(Value::I64(1))
    );
    assert_eq!(
        event_attr(&events[1].attributes, "retry.backoff_ms"),
        Some(Value::I64(200))
    );
    let error_type = event_attr(&events[0].attributes, "error.type").map(|v| v.to_string());
    assert!(error_type.is_some_and(|t| t.ends_with("Failure")));
}

#[test]
fn all_attempts_failing_is_recorded_as_exhausted() {
    let clock = ManualClock::new();
    let (policy, sleeper) = policy(3, &clock);
    let (result, span) = traced(|| {
        futures_executor::block_on(retry(&policy, || async { Err(Failure::Busy(None)) }))
    });
    assert_eq!(result, Err(Failure::Busy(None)));
    assert_eq!(sleeper.slept().len(), 2);
    assert_eq!(
        attr(&span, "retry.exhausted").map(|v| v.to_string()),
        Some("max_attempts".into())
    );
    let last = span.events.iter().last().expect("events");
    assert_eq!(
        event_attr(&last.attributes, "retry.give_up").map(|v| v.to_string()),
        Some("max_attempts".into())
    );
}

#[test]
fn failures_not_worth_retrying_stop_at_once() {
    let clock = ManualClock::new();
    let (policy, sleeper) = policy(5, &clock);
    let calls = Cell::new(0);
    let result = futures_executor::block_on(retry(&policy, || {
        calls.set(calls.get() + 1);
        async { Err(Failure::Invalid) }
    }));
    assert_eq!(result, Err(Failure::Invalid));
    assert_eq!((calls.get(), sleeper.slept().len()), (1, 0));
}

#[test]
fn a_server_hint_is_a_minimum_wait_up_to_the_cap() {
    let clock = ManualClock::new();
    let (policy, sleeper) = policy(3, &clock);
    let policy = policy.max_hint(Duration::from_secs(10));
    let calls = Cell::new(0);
    let result = futures_executor::block_on(retry(&policy, || {
        calls.set(calls.get() + 1);
        let n = calls.get();
        async move {
            match n {
                1 => Err(Failure::Busy(Some(2))),
                _ => Err(Failure::Busy(Some(60))),
            }
        }
    }));
    assert_eq!(result, Err(Failure::Busy(Some(60))));
    assert_eq!(
        sleeper.slept(),
        [Duration::from_secs(2)],
        "a 60 s hint ends the retries"
    );
}

#[test]
fn the_elapsed_cap_ends_retries_before_a_delay_would_pass_it() {
    let clock = ManualClock::new();
    let (policy, sleeper) = policy(10, &clock);
    let policy = policy.backoff(
        Backoff::exponential(Duration::from_millis(100))
            .jitter(Jitter::None)
            .max_elapsed(Duration::from_millis(350)),
    );
    let _ = futures_executor::block_on(retry(&policy, || async { Err(Failure::Busy(None)) }));
    // 100 + 200 = 300 ms; the next 400 ms would pass 350 ms.
    assert_eq!(
        sleeper.slept(),
        [Duration::from_millis(100), Duration::from_millis(200)]
    );
}

#[test]
fn a_hint_longer_than_any_cap_gives_up_instead_of_overflowing() {
    let clock = ManualClock::new();
    let hint = hint::parse_retry_after("18446744073709551615", SystemTime::UNIX_EPOCH)
        .expect("a number of seconds");
    let sleeper = ManualSleeper::new(clock.clone());
    let policy = RetryPolicy::new(3)
        .expect("valid")
        .backoff(
            Backoff::exponential(Duration::from_millis(100))
                .jitter(Jitter::None)
                .max_elapsed(Duration::from_secs(60)),
        )
        .max_hint(Duration::MAX)
        .sleeper(sleeper.clone())
        .clock(clock.clone())
        .classify(move |r: &Result<(), ()>| match r {
            Ok(()) => Outcome::Success,
            Err(()) => Outcome::retryable_failure().with_retry_after(hint),
        });
    let (result, span) = traced(|| {
        futures_executor::block_on(retry(&policy, || {
            clock.advance(Duration::from_secs(2));
            async { Err::<(), ()>(()) }
        }))
    });
    assert_eq!(result, Err(()));
    assert!(sleeper.slept().is_empty());
    assert_eq!(
        attr(&span, "retry.exhausted").map(|v| v.to_string()),
        Some("max_elapsed".into())
    );
}

#[test]
fn a_spent_budget_stops_retries_across_calls() {
    let clock = ManualClock::new();
    let budget = RetryBudget::new(4, 0.1).expect("valid");
    let (policy, sleeper) = policy(3, &clock);
    let policy = policy.budget(budget.clone());
    // Each failing call spends tokens; once half are gone, no more retries.
    let _ = futures_executor::block_on(retry(&policy, || async { Err(Failure::Busy(None)) }));
    let first = sleeper.slept().len();
    assert_eq!(
        first, 1,
        "4 tokens: the first failure leaves 3 (retry), the second 2 (stop)"
    );
    let _ = futures_executor::block_on(retry(&policy, || async { Err(Failure::Busy(None)) }));
    assert_eq!(
        sleeper.slept().len(),
        first,
        "no retry at all with the budget spent"
    );
    assert!(!budget.can_retry());
}
