//! Spans across `.await`: the span is current only while the future is polled.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;

use crate::span::Span;

pin_project_lite::pin_project! {
    /// A future with a span attached: the span is current during each poll and ends when the
    /// future completes (or is dropped). From [`Instrument::instrument`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        span: Option<Span>,
    }
}

pin_project_lite::pin_project! {
    /// A future that runs in a given context. From [`Instrument::in_current_context`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct WithContext<F> {
        #[pin]
        inner: F,
        cx: Context,
    }
}

/// Attaches spans and contexts to futures, so concurrent tasks nest under the right parent
/// and no thread-local guard is held across an `.await`.
///
/// ```
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// use hivetrace_core::{Instrument, Tracer};
/// let tracer = Tracer::builder().console_writer(std::io::sink()).build()?;
/// let work = async { 40 + 2 }.instrument(tracer.span("answer").start());
/// assert_eq!(futures_executor::block_on(work), 42);
/// # Ok(()) }
/// ```
pub trait Instrument: Future + Sized {
    /// Runs the future inside `span`, which ends when the future completes.
    fn instrument(self, span: Span) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            span: Some(span),
        }
    }

    /// Runs the future in the context current now (for `tokio::spawn` and the like).
    fn in_current_context(self) -> WithContext<Self> {
        self.with_context(Context::current())
    }

    /// Runs the future in `cx`.
    fn with_context(self, cx: Context) -> WithContext<Self> {
        WithContext { inner: self, cx }
    }
}

impl<F: Future> Instrument for F {}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = match this.span.as_ref() {
            Some(span) => {
                let _guard = span.enter();
                this.inner.poll(task)
            }
            None => this.inner.poll(task),
        };
        if poll.is_ready() {
            // End the span when the work completes, not when the future is dropped later.
            this.span.take();
        }
        poll
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = self.project();
        let _guard = this.cx.clone().attach();
        this.inner.poll(task)
    }
}
