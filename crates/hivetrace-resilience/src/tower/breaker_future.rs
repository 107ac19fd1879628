//! The response future of [`CircuitBreakerService`](super::CircuitBreakerService).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use pin_project_lite::pin_project;

use super::BoxError;
use crate::breaker::OwnedPermit;
use crate::error::Rejected;
use crate::outcome::Classify;

pin_project! {
    /// Completes with the inner response, recording its outcome on the breaker; or at once
    /// with the rejection.
    #[derive(Debug)]
    pub struct ResponseFuture<F, C> {
        #[pin]
        inner: Option<F>,
        permit: Option<OwnedPermit>,
        rejected: Option<Rejected>,
        classify: C,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn called(inner: F, permit: OwnedPermit, classify: C) -> Self {
        ResponseFuture {
            inner: Some(inner),
            permit: Some(permit),
            rejected: None,
            classify,
        }
    }

    pub(super) fn rejected(rejected: Rejected, classify: C) -> Self {
        ResponseFuture {
            inner: None,
            permit: None,
            rejected: Some(rejected),
            classify,
        }
    }
}

impl<F, T, E, C> Future for ResponseFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    C: Classify<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            let rejected = this.rejected.take().ok_or("polled after completion")?;
            return Poll::Ready(Err(Box::new(rejected)));
        };
        let result = ready!(inner.poll(cx));
        if let Some(permit) = this.permit.take() {
            permit.record(this.classify.classify(&result));
        }
        Poll::Ready(result.map_err(Into::into))
    }
}
