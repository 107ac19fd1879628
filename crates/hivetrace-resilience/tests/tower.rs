//! The tower layers: poll_ready honoured, requests cloned only when a retry may need them.
#![cfg(feature = "tower")]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hivetrace_core::clock::ManualClock;
use hivetrace_resilience::retry::{ManualSleeper, RetryBudget, RetryPolicy};
use hivetrace_resilience::tower::{CircuitBreakerLayer, RetryLayer};
use hivetrace_resilience::{CircuitBreaker, Outcome, Rejected, SlidingWindow, State};
use tower_layer::Layer;
use tower_service::Service;

/// A request that counts its clones.
#[derive(Debug)]
struct Req(Arc<AtomicUsize>);

impl Clone for Req {
    fn clone(&self) -> Self {
        self.0.fetch_add(1, Ordering::SeqCst);
        Req(Arc::clone(&self.0))
    }
}

fn failing() -> impl Service<
    Req,
    Response = (),
    Error = &'static str,
    Future = std::future::Ready<Result<(), &'static str>>,
> + Clone {
    tower::service_fn(|_r: Req| std::future::ready(Err("down")))
}

fn policy(attempts: u32) -> RetryPolicy {
    let clock = ManualClock::new();
    RetryPolicy::new(attempts)
        .expect("valid")
        .sleeper(ManualSleeper::new(clock.clone()))
        .clock(clock)
}

#[test]
fn requests_are_cloned_only_when_a_retry_may_follow() {
    let clones = Arc::new(AtomicUsize::new(0));
    let mut once = RetryLayer::new(policy(1)).layer(failing());
    let _ = futures_executor::block_on(once.call(Req(Arc::clone(&clones))));
    assert_eq!(
        clones.load(Ordering::SeqCst),
        0,
        "one attempt: never cloned"
    );

    let mut thrice = RetryLayer::new(policy(3)).layer(failing());
    let _ = futures_executor::block_on(thrice.call(Req(Arc::clone(&clones))));
    assert_eq!(
        clones.load(Ordering::SeqCst),
        2,
        "a copy before attempts 2 and 3, none after"
    );

    clones.store(0, Ordering::SeqCst);
    let budget = RetryBudget::new(2, 0.1).expect("valid");
    budget.on_failure();
    let mut spent = RetryLayer::new(policy(3).budget(budget)).layer(failing());
    let _ = futures_executor::block_on(spent.call(Req(Arc::clone(&clones))));
    assert_eq!(
        clones.load(Ordering::SeqCst),
        0,
        "a spent budget: no retry, no copy"
    );
}

#[derive(Clone)]
struct NotReady;

impl Service<u32> for NotReady {
    type Response = u32;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<u32, std::io::Error>>;
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Pending
    }
    fn call(&mut self, req: u32) -> Self::Future {
        std::future::ready(Ok(req))
    }
}

#[test]
fn poll_ready_waits_on_the_inner_service() {
    let breaker = CircuitBreaker::builder("b").build().expect("valid");
    let mut cx = Context::from_waker(Waker::noop());
    let mut svc = CircuitBreakerLayer::new(breaker).layer(NotReady);
    assert!(svc.poll_ready(&mut cx).is_pending());
    let mut svc = RetryLayer::new(policy(2)).layer(NotReady);
    assert!(Service::<u32>::poll_ready(&mut svc, &mut cx).is_pending());
}

#[test]
fn the_breaker_layer_classifies_and_rejects() {
    let breaker = CircuitBreaker::builder("b")
        .sliding_window(SlidingWindow::Count(2))
        .minimum_calls(2)
        .wait_in_open(Duration::from_secs(60))
        .build()
        .expect("valid");
    // Even numbers are the caller's mistake: ignored.
    let layer = CircuitBreakerLayer::new(breaker.clone()).classify(
        |r: &Result<u32, &'static str>| match r {
            Ok(n) if n % 2 == 0 => Outcome::Ignored,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::retryable_failure(),
        },
    );
    let mut svc = layer.layer(tower::service_fn(|x: u32| async move {
        if x > 100 { Err("boom") } else { Ok(x) }
    }));
    for x in [2, 4, 6] {
        let _ = futures_executor::block_on(svc.call(x));
    }
    assert_eq!(breaker.snapshot().ignored_total, 3);
    let _ = futures_executor::block_on(svc.call(101));
    let _ = futures_executor::block_on(svc.call(102));
    assert_eq!(breaker.state(), State::Open);
    let err = futures_executor::block_on(svc.call(1)).expect_err("open");
    let rejected = err.downcast_ref::<Rejected>().expect("a rejection");
    assert_eq!(rejected.state(), State::Open);
}

#[test]
fn the_retry_layer_records_its_attempts_on_the_current_span() {
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let clones = Arc::new(AtomicUsize::new(0));
    let mut svc = RetryLayer::new(policy(3)).layer(failing());
    provider.tracer("t").in_span("call", |_| {
        let _ = futures_executor::block_on(svc.call(Req(Arc::clone(&clones))));
    });
    let spans = exporter.get_finished_spans().expect("spans");
    assert_eq!(spans[0].events.len(), 3, "one event per failed attempt");
    let exhausted = spans[0]
        .attributes
        .iter()
        .find(|kv| kv.key.as_str() == "retry.exhausted")
        .map(|kv| kv.value.to_string());
    assert_eq!(exhausted.as_deref(), Some("max_attempts"));
}
