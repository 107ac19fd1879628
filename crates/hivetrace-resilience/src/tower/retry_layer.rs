//! Retry as tower middleware.

use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::BoxError;
use crate::outcome::{AnyError, Classify};
use crate::retry::{Attempts, Next, RetryPolicy};

/// Retries a service's calls by a [`RetryPolicy`] (its backoff, hints, budget and sleeper),
/// recording the attempts on the current span as [`retry`](crate::retry::retry) does.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::sync::Arc;
/// use hivetrace_core::clock::ManualClock;
/// use hivetrace_resilience::retry::{ManualSleeper, RetryPolicy};
/// use hivetrace_resilience::tower::RetryLayer;
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// let clock = ManualClock::new();
/// let policy = RetryPolicy::new(3)?.sleeper(ManualSleeper::new(clock.clone())).clock(clock);
/// let calls = Arc::new(AtomicU32::new(0));
/// let seen = Arc::clone(&calls);
/// let mut svc = RetryLayer::new(policy).layer(tower::service_fn(move |x: u32| {
///     let n = seen.fetch_add(1, Ordering::SeqCst);
///     async move { if n == 0 { Err("flaky") } else { Ok(x * 2) } }
/// }));
/// assert_eq!(futures_executor::block_on(svc.call(21)).ok(), Some(42));
/// assert_eq!(calls.load(Ordering::SeqCst), 2);
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Debug)]
pub struct RetryLayer<C = AnyError> {
    policy: Arc<RetryPolicy<C>>,
}

impl<C> Clone for RetryLayer<C> {
    fn clone(&self) -> Self {
        RetryLayer {
            policy: Arc::clone(&self.policy),
        }
    }
}

impl<C> RetryLayer<C> {
    /// Retries by `policy` (its classifier decides what is retried).
    pub fn new(policy: RetryPolicy<C>) -> Self {
        RetryLayer {
            policy: Arc::new(policy),
        }
    }
}

impl<S, C> Layer<S> for RetryLayer<C> {
    type Service = Retry<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry {
            inner,
            policy: Arc::clone(&self.policy),
        }
    }
}

/// The service [`RetryLayer`] makes.
#[derive(Debug)]
pub struct Retry<S, C = AnyError> {
    inner: S,
    policy: Arc<RetryPolicy<C>>,
}

impl<S: Clone, C> Clone for Retry<S, C> {
    fn clone(&self) -> Self {
        Retry {
            inner: self.inner.clone(),
            policy: Arc::clone(&self.policy),
        }
    }
}

impl<S, C> Retry<S, C> {
    fn may_retry(&self, attempts_made: u32) -> bool {
        attempts_made < self.policy.max_attempts
            && self.policy.budget.as_ref().is_none_or(|b| b.can_retry())
    }
}

impl<S, Req, C> Service<Req> for Retry<S, C>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send,
    S::Response: Send,
    S::Error: Into<BoxError> + Send,
    Req: Clone + Send + 'static,
    C: Classify<S::Response, S::Error> + Send + Sync + 'static,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // Clone-and-swap: the future gets the service that was polled ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let policy = Arc::clone(&self.policy);
        // Only a call that may be retried keeps a copy of its request.
        let mut spare = self.may_retry(1).then(|| req.clone());
        Box::pin(async move {
            let mut attempts = Attempts::new(&policy);
            attempts.announce();
            let mut response = inner.call(req);
            loop {
                let result = response.await;
                let outcome = policy.classify.classify(&result);
                let next = attempts.after(outcome);
                attempts.note::<S::Error>(outcome, next);
                match (next, spare.take()) {
                    (Next::Retry(delay), Some(req)) => {
                        policy.sleeper.sleep(delay).await;
                        let another = attempts.attempt + 1 < policy.max_attempts;
                        spare = another.then(|| req.clone());
                        poll_fn(|cx| inner.poll_ready(cx))
                            .await
                            .map_err(Into::into)?;
                        response = inner.call(req);
                    }
                    _ => return result.map_err(Into::into),
                }
            }
        })
    }
}
