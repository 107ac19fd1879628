//! The span API users and the macros share.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use opentelemetry::trace::{SpanKind, Status, TraceContextExt};
use opentelemetry::{Context, ContextGuard, KeyValue, Value};

use crate::conventions::{honeyhive, otel};
use crate::enrich::{Enrichment, apply};
use crate::event_type::EventType;
use crate::tracer::Tracer;

/// Room reserved up front for the attributes a span usually collects, so enrichment does not
/// regrow the SDK's attribute vector.
const ATTRIBUTE_CAPACITY: usize = 12;

/// Configures a span before it starts. From [`Tracer::span`].
///
/// Attributes given here are visible to the sampler, which sees nothing set later.
///
/// ```
/// # fn main() -> Result<(), hivetrace_core::Error> {
/// use hivetrace_core::{EventType, Tracer};
/// use opentelemetry::KeyValue;
/// let tracer = Tracer::builder().console_writer(std::io::sink()).build()?;
/// let span = tracer
///     .span("chat")
///     .event_type(EventType::Model)
///     .attribute(KeyValue::new("user.id", "u-42"))
///     .start();
/// assert!(span.is_recording());
/// # Ok(()) }
/// ```
#[must_use = "a span builder does nothing until `start` is called"]
pub struct SpanBuilder<'a> {
    tracer: &'a Tracer,
    name: Cow<'static, str>,
    event_type: Option<EventType>,
    kind: SpanKind,
    attributes: Vec<KeyValue>,
    parent: Option<Context>,
}

impl fmt::Debug for SpanBuilder<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("event_type", &self.event_type)
            .field("kind", &self.kind)
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}

impl<'a> SpanBuilder<'a> {
    pub(crate) fn new(tracer: &'a Tracer, name: Cow<'static, str>) -> Self {
        SpanBuilder {
            tracer,
            name,
            event_type: None,
            kind: SpanKind::Internal,
            attributes: Vec::with_capacity(ATTRIBUTE_CAPACITY),
            parent: None,
        }
    }

    /// The event type. When not given, it is inferred as HoneyHive does, from a start
    /// attribute `gen_ai.operation.name` or `openinference.span.kind`, else [`EventType::Tool`].
    pub fn event_type(mut self, event_type: EventType) -> Self {
        self.event_type = Some(event_type);
        self
    }

    /// The OpenTelemetry span kind; default `Internal`.
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// An attribute known at start, which the sampler sees.
    pub fn attribute(mut self, attribute: KeyValue) -> Self {
        self.attributes.push(attribute);
        self
    }

    /// Several attributes known at start.
    pub fn attributes(mut self, attributes: impl IntoIterator<Item = KeyValue>) -> Self {
        self.attributes.extend(attributes);
        self
    }

    /// The parent context; default the current one.
    pub fn parent(mut self, parent: &Context) -> Self {
        self.parent = Some(parent.clone());
        self
    }

    /// Starts the span. It is not current until [`Span::enter`], [`Span::in_scope`] or
    /// [`Instrument::instrument`](crate::Instrument::instrument).
    pub fn start(self) -> Span {
        let SpanBuilder {
            tracer,
            name,
            event_type,
            kind,
            mut attributes,
            parent,
        } = self;
        let event_type = event_type.unwrap_or_else(|| infer_event_type(&attributes));
        attributes.push(KeyValue::new(honeyhive::EVENT_TYPE, event_type.as_str()));
        let builder = opentelemetry::trace::SpanBuilder {
            name,
            span_kind: Some(kind),
            attributes: Some(attributes),
            ..opentelemetry::trace::SpanBuilder::from_name("")
        };
        let parent = parent.unwrap_or_else(Context::current);
        let span = tracer.start_span(builder, &parent);
        let recording = opentelemetry::trace::Span::is_recording(&span);
        let mut cx = if recording {
            parent.with_span(span)
        } else {
            // A span that records nothing only has to carry its ids and sampling decision to
            // its children: a bare span context does that without a boxed span and its lock.
            parent.with_remote_span_context(opentelemetry::trace::Span::span_context(&span).clone())
        };
        if event_type == EventType::Session && recording {
            // The session span is found by enrich_session from any descendant's context.
            let session = SessionSpan(cx.clone());
            cx = cx.with_value(session);
        }
        Span {
            cx,
            real: true,
            recording,
            max_attribute_len: tracer.max_attribute_len(),
            panicked: AtomicBool::new(false),
            started_unwinding: recording && std::thread::panicking(),
        }
    }
}

/// The context of the nearest enclosing session span, stored in its descendants' contexts.
#[derive(Debug)]
pub(crate) struct SessionSpan(pub(crate) Context);

/// A running span. It ends when dropped (or at [`Span::end`]); while it is
/// [entered](Span::enter) it is the current span, the parent of new spans and the target of
/// [`enrich_span`](crate::enrich_span).
///
/// A span dropped while its thread panics ends with an error status, so a panic inside a
/// traced function is recorded and goes on unwinding.
pub struct Span {
    cx: Context,
    /// False for a span that stands for "no tracer": it neither becomes current nor ends.
    real: bool,
    recording: bool,
    max_attribute_len: usize,
    panicked: AtomicBool,
    /// The thread was already unwinding when the span started (a traced call inside a `Drop`
    /// during a panic): its end is then no sign that the traced code panicked.
    started_unwinding: bool,
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("span_context", self.cx.span().span_context())
            .field("recording", &self.recording)
            .finish()
    }
}

/// Keeps a span current until dropped. Not `Send`: across `.await`, use
/// [`Instrument`](crate::Instrument) instead.
#[must_use = "the span stops being current when the guard is dropped"]
pub struct SpanGuard<'a> {
    _guard: Option<ContextGuard>,
    span: &'a Span,
}

impl Drop for SpanGuard<'_> {
    fn drop(&mut self) {
        // Record a panic where it passes, even if the span itself outlives a `catch_unwind`.
        if std::thread::panicking() {
            self.span.record_panic();
        }
    }
}

impl fmt::Debug for SpanGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SpanGuard")
    }
}

impl Span {
    /// A span that records nothing and changes nothing: entering it leaves the current span
    /// current, dropping it ends nothing, and its [`context`](Span::context) is the one current
    /// when it was made. What traced code gets when there is no tracer.
    pub fn none() -> Span {
        Span {
            cx: Context::current(),
            real: false,
            recording: false,
            max_attribute_len: 0,
            panicked: AtomicBool::new(false),
            started_unwinding: false,
        }
    }

    /// Makes the span current on this thread until the guard drops.
    pub fn enter(&self) -> SpanGuard<'_> {
        SpanGuard {
            _guard: self.real.then(|| self.cx.clone().attach()),
            span: self,
        }
    }

    /// Runs `f` with the span current.
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        let _guard = self.enter();
        f()
    }

    /// Whether the span records data. When it does not, nothing should be computed for it.
    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// The context holding this span, to parent spans explicitly or to propagate.
    pub fn context(&self) -> &Context {
        &self.cx
    }

    /// The span's trace and span ids.
    pub fn span_context(&self) -> opentelemetry::trace::SpanContext {
        self.cx.span().span_context().clone()
    }

    /// The longest captured value, in bytes (the tracer's limit).
    pub fn capture_limit(&self) -> usize {
        self.max_attribute_len
    }

    /// Sets one attribute.
    pub fn set_attribute(&self, attribute: KeyValue) {
        if self.recording {
            self.cx.span().set_attribute(attribute);
        }
    }

    /// Adds data in HoneyHive's sections; see [`enrich_span`](crate::enrich_span).
    /// Does nothing, and does not call `f`, when the span is not recording.
    pub fn enrich(&self, f: impl FnOnce(&mut Enrichment)) {
        if self.recording {
            apply(&self.cx.span(), f);
        }
    }

    /// Records a captured return value as `honeyhive_outputs.result`.
    pub fn record_output(&self, value: Option<Value>) {
        if let Some(value) = value {
            self.set_attribute(KeyValue::new(honeyhive::OUTPUT_RESULT, value));
        }
    }

    /// Records an error: error status, an `exception` event, `honeyhive_error`,
    /// `honeyhive_error_type` and `error.type`. The message includes the error's sources.
    pub fn record_error<E: StdError + ?Sized>(&self, error: &E) {
        if !self.recording {
            return;
        }
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        self.record_error_message(error_type_name::<E>(), message);
    }

    /// Records an error given by its type name and message.
    pub fn record_error_message(&self, error_type: &str, message: impl Into<String>) {
        if !self.recording {
            return;
        }
        let message = message.into();
        let span = self.cx.span();
        span.add_event(
            otel::EXCEPTION_EVENT,
            vec![
                KeyValue::new(otel::EXCEPTION_TYPE, error_type.to_owned()),
                KeyValue::new(otel::EXCEPTION_MESSAGE, message.clone()),
            ],
        );
        span.set_attributes([
            KeyValue::new(honeyhive::ERROR, message.clone()),
            KeyValue::new(honeyhive::ERROR_TYPE, error_type.to_owned()),
            KeyValue::new(otel::ERROR_TYPE, error_type.to_owned()),
        ]);
        span.set_status(Status::error(message));
    }

    /// Marks the span as succeeded.
    pub fn set_ok(&self) {
        if self.recording {
            self.cx.span().set_status(Status::Ok);
        }
    }

    /// Ends the span now.
    pub fn end(self) {
        drop(self)
    }

    /// Records, once, that the traced code panicked.
    fn record_panic(&self) {
        if self.recording && !self.started_unwinding && !self.panicked.swap(true, Ordering::Relaxed)
        {
            self.record_error_message("panic", "the traced code panicked");
        }
    }

    pub(crate) fn end_in_place(&mut self) {
        if !self.real {
            return;
        }
        if std::thread::panicking() {
            self.record_panic();
        }
        self.cx.span().end();
        self.recording = false;
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        self.end_in_place();
    }
}

fn infer_event_type(attributes: &[KeyValue]) -> EventType {
    let find = |key: &str| {
        attributes
            .iter()
            .find(|kv| kv.key.as_str() == key)
            .map(|kv| kv.value.as_str())
    };
    EventType::infer(
        find(crate::conventions::genai::OPERATION_NAME).as_deref(),
        find(crate::conventions::openinference::SPAN_KIND).as_deref(),
    )
    .unwrap_or_default()
}

/// The short name of an error type, as spans record it in `error.type` and
/// `honeyhive_error_type`: `my_crate::errors::MyError` → `MyError`; generics are kept.
///
/// For code that records an error through [`Span::record_error_message`] and knows its type
/// only generically (a tower service's `S::Error`), so the name matches what
/// [`Span::record_error`] writes.
///
/// ```
/// assert_eq!(hivetrace_core::error_type_name::<std::io::Error>(), "Error");
/// assert_eq!(hivetrace_core::error_type_name::<std::num::ParseIntError>(), "ParseIntError");
/// ```
pub fn error_type_name<E: ?Sized>() -> &'static str {
    let full = std::any::type_name::<E>();
    // A trait object (`dyn a::Error + b::Send + c::Sync`) is named by its trait, the first
    // bound, not by whatever path ends the string.
    let full = match full.strip_prefix("dyn ") {
        Some(bounds) => bounds.split(" + ").next().unwrap_or(bounds),
        None => full,
    };
    let head = full.split('<').next().unwrap_or(full);
    match head.rfind("::") {
        Some(i) => &full[i + 2..],
        None => full,
    }
}

#[cfg(test)]
mod tests {
    use super::error_type_name;

    #[test]
    fn type_names_are_shortened() {
        assert_eq!(error_type_name::<std::io::Error>(), "Error");
        assert_eq!(
            error_type_name::<Vec<std::io::Error>>(),
            "Vec<std::io::error::Error>"
        );
        assert_eq!(error_type_name::<u8>(), "u8");
    }

    /// A trait object is named by its trait, not by its last auto trait: `record_error` on
    /// `&*boxed` for a `Box<dyn Error + Send + Sync>` used to record the type `Sync`.
    #[test]
    fn trait_objects_are_named_by_their_trait() {
        assert_eq!(error_type_name::<dyn std::error::Error>(), "Error");
        assert_eq!(
            error_type_name::<dyn std::error::Error + Send + Sync>(),
            "Error"
        );
    }
}
