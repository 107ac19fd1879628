//! The circuit breaker as tower middleware.

use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::BoxError;
use super::breaker_future::ResponseFuture;
use crate::breaker::CircuitBreaker;
use crate::outcome::{AnyError, Classify};

/// Puts a [`CircuitBreaker`] in front of a service: refused calls fail at once with
/// [`Rejected`](crate::Rejected) (boxed), permitted ones record their outcome as decided by
/// the classifier.
///
/// ```
/// use hivetrace_resilience::tower::CircuitBreakerLayer;
/// use hivetrace_resilience::CircuitBreaker;
/// use tower_layer::Layer;
/// use tower_service::Service;
///
/// let breaker = CircuitBreaker::builder("backend").build()?;
/// let mut svc = CircuitBreakerLayer::new(breaker.clone())
///     .layer(tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x + 1) }));
/// let out = futures_executor::block_on(svc.call(1)).ok();
/// assert_eq!(out, Some(2));
/// breaker.force_open();
/// assert!(futures_executor::block_on(svc.call(1)).is_err());
/// # Ok::<(), hivetrace_resilience::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C = AnyError> {
    breaker: CircuitBreaker,
    classify: C,
}

impl CircuitBreakerLayer<AnyError> {
    /// Every `Err` of the inner service is a failure.
    pub fn new(breaker: CircuitBreaker) -> Self {
        CircuitBreakerLayer {
            breaker,
            classify: AnyError,
        }
    }
}

impl<C> CircuitBreakerLayer<C> {
    /// Outcomes decided by `classify` (a 4xx response is not the backend's failure, say).
    pub fn classify<C2>(self, classify: C2) -> CircuitBreakerLayer<C2> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify,
        }
    }
}

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = CircuitBreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        CircuitBreakerService {
            inner,
            breaker: self.breaker.clone(),
            classify: self.classify.clone(),
        }
    }
}

/// The service [`CircuitBreakerLayer`] makes.
#[derive(Clone, Debug)]
pub struct CircuitBreakerService<S, C = AnyError> {
    inner: S,
    breaker: CircuitBreaker,
    classify: C,
}

impl<S, C> CircuitBreakerService<S, C> {
    /// The breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S, Req, C> Service<Req> for CircuitBreakerService<S, C>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    C: Classify<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The inner service is ready (poll_ready) and called here, not in the future: no
        // clone-and-swap is needed.
        match self.breaker.try_acquire_owned() {
            Ok(permit) => {
                ResponseFuture::called(self.inner.call(req), permit, self.classify.clone())
            }
            Err(rejected) => ResponseFuture::rejected(rejected, self.classify.clone()),
        }
    }
}
