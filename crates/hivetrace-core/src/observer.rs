//! Span hooks that run inside hivetrace's own processor, so they cost no copy of the span.
//!
//! The OpenTelemetry SDK hands each registered `SpanProcessor` its own copy of an ended span
//! as soon as there is more than one: every extra processor costs a full `SpanData` clone
//! (about as much as the span itself) on the application thread, even one that only looks at
//! spans when they start. A [`SpanObserver`] added with
//! [`TracerBuilder::observer`](crate::TracerBuilder::observer) is called by hivetrace's
//! processor instead: at start with the span, at end with a reference to the same `SpanData`
//! that then goes to the export queue.

use std::fmt;

use opentelemetry::Context;
use opentelemetry_sdk::trace::{Span as SdkSpan, SpanData};

/// A hook on every span of a tracer: at start (to add attributes) and at end (to look).
///
/// Both run on the thread that starts or ends the span, so they must be quick and must not
/// block. `on_end` sees every ended span that recorded, sampled or not (a span whose sampler
/// said `RecordOnly` is observed, then not exported).
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use hivetrace_core::{SpanObserver, Tracer};
/// use hivetrace_core::otel::opentelemetry_sdk::trace::SpanData;
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicU64);
///
/// impl SpanObserver for Count {
///     fn on_end(&self, _span: &SpanData) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
///
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// let count = Arc::new(Count::default());
/// let tracer = Tracer::builder()
///     .console_writer(std::io::sink())
///     .observer(count.clone())
///     .build()?;
/// tracer.span("a").start().end();
/// tracer.span("b").start().end();
/// assert_eq!(count.0.load(Ordering::Relaxed), 2);
/// # Ok(()) }
/// ```
pub trait SpanObserver: Send + Sync + fmt::Debug + 'static {
    /// Called when a span starts, with its parent context; may set attributes on it.
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        let _ = (span, cx);
    }

    /// Called when a span that recorded ends, before it is queued for export.
    fn on_end(&self, span: &SpanData) {
        let _ = span;
    }
}

impl<T: SpanObserver + ?Sized> SpanObserver for std::sync::Arc<T> {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        (**self).on_start(span, cx);
    }

    fn on_end(&self, span: &SpanData) {
        (**self).on_end(span);
    }
}

impl<T: SpanObserver + ?Sized> SpanObserver for Box<T> {
    fn on_start(&self, span: &mut SdkSpan, cx: &Context) {
        (**self).on_start(span, cx);
    }

    fn on_end(&self, span: &SpanData) {
        (**self).on_end(span);
    }
}
