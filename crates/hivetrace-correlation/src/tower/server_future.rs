//! The server's response future: the span is current while the handler runs.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use hivetrace_core::Span;
use opentelemetry::KeyValue;

use super::attributes::HTTP_RESPONSE_STATUS_CODE;
use super::body::TracedBody;
use super::in_flight::InFlight;
use crate::request_id::{REQUEST_ID_HEADER, RequestId};
use hivetrace_core::error_type_name;

pin_project_lite::pin_project! {
    /// The response future of [`Server`](super::Server): polls the handler with the SERVER
    /// span current, then hands the span to the response body, which ends it.
    #[must_use = "futures do nothing unless polled"]
    pub struct ServerResponseFuture<F, E> {
        #[pin]
        inner: F,
        span: InFlight,
        request_id: Option<RequestId>,
        method: http::Method,
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
    pub(crate) fn new(
        inner: F,
        span: Span,
        request_id: Option<RequestId>,
        method: http::Method,
    ) -> Self {
        ServerResponseFuture {
            inner,
            span: InFlight::new(
                Some(span),
                Some("the request was cancelled before its response was ready"),
            ),
            request_id,
            method,
            _error: PhantomData,
        }
    }
}

impl<F, B, E> Future for ServerResponseFuture<F, E>
where
    F: Future<Output = Result<http::Response<B>, E>>,
    B: http_body::Body,
    E: std::fmt::Display,
{
    type Output = Result<http::Response<TracedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.span.poll(|| this.inner.poll(cx)));
        let span = this.span.finish();
        match result {
            Ok(mut response) => {
                let status = response.status();
                let failed = status.as_u16() >= 500;
                if let Some(span) = &span {
                    span.set_attribute(KeyValue::new(
                        HTTP_RESPONSE_STATUS_CODE,
                        i64::from(status.as_u16()),
                    ));
                    // 5xx, and any code past 599 (semantic conventions: "any other code the
                    // client failed to interpret"); 4xx is the client's error, not the server's.
                    if failed {
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
                // A body dropped before its end is a request that did not complete, unless
                // there is no content to send or the status already records an error.
                let cancellable = !failed && has_content(this.method, status);
                Poll::Ready(Ok(
                    response.map(|body| TracedBody::in_flight(body, span, cancellable))
                ))
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

/// Whether the response to a `method` request with `status` has content: RFC 9110 (6.4.1)
/// gives none to responses to HEAD, 2xx responses to CONNECT, and 1xx, 204 and 304 responses,
/// whose bodies a server drops unsent.
fn has_content(method: &http::Method, status: http::StatusCode) -> bool {
    !(*method == http::Method::HEAD
        || (*method == http::Method::CONNECT && status.is_success())
        || status.is_informational()
        || status == http::StatusCode::NO_CONTENT
        || status == http::StatusCode::NOT_MODIFIED)
}
