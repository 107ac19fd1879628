//! The server's response future: the span is current while the handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use hivetrace_core::Span;
use opentelemetry::KeyValue;

use super::attributes::HTTP_RESPONSE_STATUS_CODE;
use super::body::TracedBody;
use crate::request_id::{REQUEST_ID_HEADER, RequestId};
use hivetrace_core::error_type_name;

pin_project_lite::pin_project! {
    /// The response future of [`Server`](super::Server): polls the handler with the SERVER
    /// span current, then hands the span to the response body, which ends it.
    #[must_use = "futures do nothing unless polled"]
    pub struct ServerResponseFuture<F, E> {
        #[pin]
        inner: F,
        span: Option<Span>,
        request_id: Option<RequestId>,
        _error: PhantomData<fn() -> E>,
    }
}

impl<F, E> std::fmt::Debug for ServerResponseFuture<F, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerResponseFuture")
            .field("span", &self.span)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

impl<F, E> ServerResponseFuture<F, E> {
    pub(crate) fn new(inner: F, span: Span, request_id: Option<RequestId>) -> Self {
        ServerResponseFuture {
            inner,
            span: Some(span),
            request_id,
            _error: PhantomData,
        }
    }
}

impl<F, B, E> Future for ServerResponseFuture<F, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    E: std::fmt::Display,
{
    type Output = Result<http::Response<TracedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _current = this.span.as_ref().map(Span::enter);
            ready!(this.inner.poll(cx))
        };
        let span = this.span.take();
        match result {
            Ok(mut response) => {
                let status = response.status();
                if let Some(span) = &span {
                    span.set_attribute(KeyValue::new(
                        HTTP_RESPONSE_STATUS_CODE,
                        i64::from(status.as_u16()),
                    ));
                    // 5xx, and any code past 599 (semantic conventions: "any other code the
                    // client failed to interpret"); 4xx is the client's error, not the server's.
                    if status.as_u16() >= 500 {
                        span.record_error_message(status.as_str(), format!("HTTP {status}"));
                    }
                }
                if let Some(id) = this.request_id.take() {
                    // `try_entry`: `entry` panics on a map that is already as large as a
                    // header map can be; the echo is then left out.
                    if let Ok(entry) = response.headers_mut().try_entry(REQUEST_ID_HEADER) {
                        entry.or_insert_with(|| id.header_value());
                    }
                }
                Poll::Ready(Ok(response.map(|body| TracedBody::new(body, span))))
            }
            Err(error) => {
                if let Some(span) = span {
                    span.record_error_message(error_type_name::<E>(), error.to_string());
                }
                Poll::Ready(Err(error))
            }
        }
    }
}
