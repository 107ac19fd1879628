//! The response future: the inner service's, polled inside the routed context.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use pin_project_lite::pin_project;

pin_project! {
    /// The inner service's future, with the context carrying the tier's baggage current
    /// while it is polled.
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, cx: Context) -> Self {
        ResponseFuture { inner, cx }
    }
}

impl<F: Future> Future for ResponseFuture<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let _attached = this.cx.clone().attach();
        this.inner.poll(task)
    }
}
