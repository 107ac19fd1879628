//! A response body that ends its span when it ends.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use hivetrace_core::Span;
use http_body::{Body, Frame, SizeHint};

use super::in_flight::InFlight;
use hivetrace_core::error_type_name;

pin_project_lite::pin_project! {
    /// A response body carrying the request's span: the span is current while the body is
    /// polled and ends with the last frame (the end of the stream or trailers), an error, or
    /// the body being dropped, so a streamed response is timed to its end. A body dropped
    /// before its end (the client went away) leaves the span with status Error and
    /// `error.type` `cancelled`.
    ///
    /// ```
    /// use hivetrace_correlation::tower::TracedBody;
    /// use http_body::Body;
    /// let body = TracedBody::new(String::from("hello"), None);
    /// assert_eq!(body.size_hint().exact(), Some(5));
    /// ```
    #[derive(Debug)]
    pub struct TracedBody<B> {
        #[pin]
        inner: B,
        span: InFlight,
    }
}

/// What the span of a body dropped before its end records.
const BODY_DROPPED: &str = "the response body was dropped before its end";

impl<B: Body> TracedBody<B> {
    /// `inner`, ending `span` (if any) when it ends.
    pub fn new(inner: B, span: Option<Span>) -> Self {
        TracedBody::in_flight(inner, span, true)
    }

    /// `inner`, ending `span` when it ends; a drop before its end is a cancellation only if
    /// `cancellable` (the response has content to send, and no error recorded already).
    pub(crate) fn in_flight(inner: B, span: Option<Span>, cancellable: bool) -> Self {
        // A body already at its end is not polled at all (HTTP servers drop it).
        let cancelled = (cancellable && !inner.is_end_stream()).then_some(BODY_DROPPED);
        TracedBody {
            inner,
            span: InFlight::new(span, cancelled),
        }
    }
}

impl<B> TracedBody<B> {
    /// The wrapped body.
    pub fn get_ref(&self) -> &B {
        &self.inner
    }
}

impl<B> Body for TracedBody<B>
where
    B: Body,
    B::Error: std::fmt::Display,
{
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let mut this = self.project();
        // A streamed body does the request's work as it is polled (an LLM's tokens produced
        // on demand): the span is current then too, so that work nests under it and carries
        // the request's baggage.
        let frame = ready!(this.span.poll(|| this.inner.as_mut().poll_frame(cx)));
        match &frame {
            None => {
                this.span.finish();
            }
            Some(Err(error)) => {
                if let Some(span) = this.span.finish() {
                    span.record_error_message(error_type_name::<B::Error>(), error.to_string());
                }
            }
            Some(Ok(frame)) => {
                // Trailers are the last frame: a server stops polling after them.
                if frame.is_trailers() || this.inner.as_ref().get_ref().is_end_stream() {
                    this.span.finish();
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
