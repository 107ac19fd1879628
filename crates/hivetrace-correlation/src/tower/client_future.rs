//! The client's response future: the CLIENT span ends when the response head arrives.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use hivetrace_core::Span;
use opentelemetry::KeyValue;

use super::attributes::HTTP_RESPONSE_STATUS_CODE;
use super::in_flight::InFlight;
use hivetrace_core::error_type_name;

pin_project_lite::pin_project! {
    /// The response future of [`Client`](super::Client).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        span: InFlight,
    }
}

impl<F> ClientResponseFuture<F> {
    pub(crate) fn new(inner: F, span: Span) -> Self {
        ClientResponseFuture {
            inner,
            span: InFlight::new(
                Some(span),
                Some("the request was cancelled before its response arrived"),
            ),
        }
    }
}

impl<F, B, E> Future for ClientResponseFuture<F>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.span.poll(|| this.inner.poll(cx)));
        if let Some(span) = this.span.finish() {
            match &result {
                Ok(response) => {
                    let status = response.status();
                    span.set_attribute(KeyValue::new(
                        HTTP_RESPONSE_STATUS_CODE,
                        i64::from(status.as_u16()),
                    ));
                    // 4xx, 5xx, and any code past 599, which no client can interpret.
                    if status.as_u16() >= 400 {
                        span.record_error_message(status.as_str(), format!("HTTP {status}"));
                    }
                }
                Err(error) => span.record_error_message(error_type_name::<E>(), error.to_string()),
            }
        }
        Poll::Ready(result)
    }
}
