//! The span of an exchange under way, which records a cancellation if it is dropped before
//! the exchange ends.

use hivetrace_core::Span;

/// The `error.type` of a request that did not complete: its response future, or its response
/// body before the end, was dropped (the peer went away, a timeout layer gave up).
pub(crate) const CANCELLED: &str = "cancelled";

/// Holds the span of an exchange under way. Dropped while it still holds it, it records the
/// cancellation (status Error, `error.type` [`CANCELLED`]) before the span ends: semantic
/// conventions set `error.type` for a request that did not complete, which must not look like
/// a success.
#[derive(Debug)]
pub(crate) struct InFlight {
    span: Option<Span>,
    /// The message a drop before the end records; `None` when a drop is a normal end.
    cancelled: Option<&'static str>,
    /// Set while the inner future or body is polled: a drop then follows a panic there, which
    /// the span records itself as a panic.
    polling: bool,
}

impl InFlight {
    pub(crate) fn new(span: Option<Span>, cancelled: Option<&'static str>) -> Self {
        InFlight {
            span,
            cancelled,
            polling: false,
        }
    }

    /// Runs `poll` with the span current.
    pub(crate) fn poll<T>(&mut self, poll: impl FnOnce() -> T) -> T {
        let _current = self.span.as_ref().map(Span::enter);
        self.polling = true;
        let output = poll();
        self.polling = false;
        output
    }

    /// The span, the exchange having ended; its owner records how and ends it.
    pub(crate) fn finish(&mut self) -> Option<Span> {
        self.span.take()
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let (Some(span), Some(message)) = (self.span.take(), self.cancelled)
            && !self.polling
        {
            span.record_error_message(CANCELLED, message);
        }
    }
}
