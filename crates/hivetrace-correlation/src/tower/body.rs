//! A response body that ends its span when it ends.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll, ready};

use hivetrace_core::Span;
use http_body::{Body, Frame, SizeHint};

use hivetrace_core::error_type_name;

pin_project_lite::pin_project! {
    /// A response body carrying the request's span: the span is current while the body is
    /// polled and ends with the last frame, an error, or the body being dropped, so a streamed
    /// response is timed to its end.
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
        span: Option<Span>,
    }
}

impl<B> TracedBody<B> {
    /// `inner`, ending `span` (if any) when it ends.
    pub fn new(inner: B, span: Option<Span>) -> Self {
        TracedBody { inner, span }
    }

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
        let frame = {
            let _current = this.span.as_ref().map(Span::enter);
            ready!(this.inner.as_mut().poll_frame(cx))
        };
        match &frame {
            None => {
                this.span.take();
            }
            Some(Err(error)) => {
                if let Some(span) = this.span.take() {
                    span.record_error_message(error_type_name::<B::Error>(), error.to_string());
                }
            }
            Some(Ok(_)) => {
                if this.inner.as_ref().get_ref().is_end_stream() {
                    this.span.take();
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
