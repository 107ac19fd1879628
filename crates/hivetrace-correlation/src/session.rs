//! Sessions: an id (given or generated), a name, user properties and an operation counter,
//! carried in the baggage so every span of the session carries its id.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hivetrace_core::conventions::honeyhive;
use hivetrace_core::{EventType, Span, Tracer};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::{Context, KeyValue, Value};

use crate::error::{Error, Result, excerpt};
use crate::request_id::is_valid_id;

/// The baggage key (and OpenInference's span attribute) that carries the session id.
pub const SESSION_ID_KEY: &str = hivetrace_core::conventions::openinference::SESSION_ID;
/// The baggage key that carries the session name.
pub const SESSION_NAME_KEY: &str = "session.name";
/// The attribute naming a traced operation of the session.
pub const SESSION_OPERATION: &str = "session.operation";
/// The attribute numbering a traced operation within its session, from 1.
pub const SESSION_OPERATION_NUMBER: &str = "session.operation_number";
/// The largest operation number: the most [`SESSION_OPERATION_NUMBER`], an `i64` attribute,
/// can carry.
const MAX_OPERATION_NUMBER: u64 = i64::MAX as u64;

/// A user session: spans started in its [context](Session::context) carry `session.id` and
/// `honeyhive.session_id` (through [`BaggageSpanProcessor`](crate::BaggageSpanProcessor)), and
/// each [operation](Session::operation) gets the next number. Clones share one session.
///
/// ```
/// use hivetrace_correlation::Session;
/// # fn main() -> Result<(), hivetrace_correlation::Error> {
/// let session = Session::builder().id("s-42")?.name("support chat").user_property("tier", "pro").build();
/// assert_eq!(session.operation("retrieve").number, 1);
/// assert_eq!(session.operation("answer").number, 2);
/// let _in_session = session.context(&opentelemetry::Context::new()).attach();
/// assert_eq!(Session::current_id().as_deref(), Some("s-42"));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Session {
    inner: Arc<Inner>,
}

struct Inner {
    id: Arc<str>,
    name: Option<Arc<str>>,
    user_properties: Vec<(Cow<'static, str>, Value)>,
    operations: AtomicU64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("operations", &self.operation_count())
            .finish_non_exhaustive()
    }
}

/// Builds a [`Session`]. From [`Session::builder`].
///
/// ```
/// use hivetrace_correlation::Session;
/// let session = Session::builder().name("onboarding").user_property("plan", "free").build();
/// assert_eq!(session.name(), Some("onboarding"));
/// assert_eq!(session.user_properties().len(), 1);
/// assert!(Session::builder().id("not a valid id").is_err());
/// ```
#[derive(Debug, Default)]
#[must_use = "a session builder does nothing until `build` is called"]
pub struct SessionBuilder {
    id: Option<Arc<str>>,
    name: Option<Arc<str>>,
    user_properties: Vec<(Cow<'static, str>, Value)>,
}

impl SessionBuilder {
    /// The session id (1 to 128 of `A-Z a-z 0-9 - _ . : / + = @`); default a new UUIDv7.
    pub fn id(mut self, id: &str) -> Result<Self> {
        if !is_valid_id(id.as_bytes()) {
            return Err(Error::InvalidSessionId {
                id: excerpt(id.as_bytes()),
            });
        }
        self.id = Some(Arc::from(id));
        Ok(self)
    }

    /// The session's name.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// A user property, written on the session's root span as `honeyhive_user_properties.<key>`.
    pub fn user_property(
        mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<Value>,
    ) -> Self {
        self.user_properties.push((key.into(), value.into()));
        self
    }

    /// The session.
    pub fn build(self) -> Session {
        let id = self.id.unwrap_or_else(|| {
            let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
            Arc::from(&*uuid::Uuid::now_v7().hyphenated().encode_lower(&mut buf))
        });
        Session {
            inner: Arc::new(Inner {
                id,
                name: self.name,
                user_properties: self.user_properties,
                operations: AtomicU64::new(0),
            }),
        }
    }
}

/// One traced operation of a session: its name and its number (from 1, in the order started).
///
/// ```
/// use hivetrace_correlation::Session;
/// let op = Session::new().operation("search");
/// let [name, number] = op.attributes();
/// assert_eq!((name.key.as_str(), number.key.as_str()), ("session.operation", "session.operation_number"));
/// assert_eq!(number.value, opentelemetry::Value::I64(1));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// The operation's name.
    pub name: Cow<'static, str>,
    /// Its number within the session (at most `i64::MAX`, which the numbering then keeps).
    pub number: u64,
}

impl Operation {
    /// `session.operation` and `session.operation_number`.
    pub fn attributes(&self) -> [KeyValue; 2] {
        [
            KeyValue::new(SESSION_OPERATION, self.name.clone()),
            KeyValue::new(
                SESSION_OPERATION_NUMBER,
                i64::try_from(self.number).unwrap_or(i64::MAX),
            ),
        ]
    }
}

impl Session {
    /// A session with a generated id and no name.
    pub fn new() -> Session {
        SessionBuilder::default().build()
    }

    /// Configures a session.
    pub fn builder() -> SessionBuilder {
        SessionBuilder::default()
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// The session name, if given.
    pub fn name(&self) -> Option<&str> {
        self.inner.name.as_deref()
    }

    /// The user properties, in the order given.
    pub fn user_properties(&self) -> &[(Cow<'static, str>, Value)] {
        &self.inner.user_properties
    }

    /// Numbers the next operation. Each call gets a distinct number, from any thread, up to
    /// `i64::MAX` (the most the attribute carries); the numbering then stays there rather than
    /// wrap to 0 or a negative attribute.
    pub fn operation(&self, name: impl Into<Cow<'static, str>>) -> Operation {
        let next = |n: u64| (n < MAX_OPERATION_NUMBER).then_some(n + 1);
        let counter = &self.inner.operations;
        let number = match counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, next) {
            Ok(previous) => previous + 1,
            Err(_) => MAX_OPERATION_NUMBER,
        };
        Operation {
            name: name.into(),
            number,
        }
    }

    /// How many operations were numbered so far.
    pub fn operation_count(&self) -> u64 {
        self.inner.operations.load(Ordering::Relaxed)
    }

    /// `cx` with the session id (and name) in its baggage.
    pub fn context(&self, cx: &Context) -> Context {
        let name = self
            .inner
            .name
            .iter()
            .map(|n| (SESSION_NAME_KEY, n.clone()));
        crate::baggage::with_entries(
            cx,
            std::iter::once((SESSION_ID_KEY, self.inner.id.clone())).chain(name),
        )
    }

    /// The session id in the current context's baggage.
    pub fn current_id() -> Option<String> {
        Context::map_current(|cx| {
            cx.baggage()
                .get(SESSION_ID_KEY)
                .map(|v| v.as_str().to_owned())
        })
    }

    /// Starts the session's root span (event type `session`, named after the session), under
    /// the current context, with the user properties as `honeyhive_user_properties.*`.
    ///
    /// The session's id and name reach this span and its descendants through the baggage: the
    /// tracer needs a [`BaggageSpanProcessor`](crate::BaggageSpanProcessor).
    pub fn start_root(&self, tracer: &Tracer) -> Span {
        let name = self.inner.name.as_deref().unwrap_or("session").to_owned();
        let mut attributes = Vec::with_capacity(self.inner.user_properties.len());
        for (key, value) in &self.inner.user_properties {
            attributes.push(KeyValue::new(
                format!("{}.{key}", honeyhive::USER_PROPERTIES),
                value.clone(),
            ));
        }
        let cx = Context::map_current(|cx| self.context(cx));
        tracer
            .span(name)
            .event_type(EventType::Session)
            .attributes(attributes)
            .parent(&cx)
            .start()
    }

    /// Starts a span for the next operation of the session, under the current context, with
    /// `session.operation` and `session.operation_number` (`session.id` and
    /// `honeyhive.session_id` come from the baggage, as for [`start_root`](Session::start_root)).
    pub fn start_operation(
        &self,
        tracer: &Tracer,
        name: impl Into<Cow<'static, str>>,
    ) -> (Operation, Span) {
        let operation = self.operation(name);
        let attributes = operation.attributes();
        let cx = Context::map_current(|cx| self.context(cx));
        let span = tracer
            .span(operation.name.clone())
            .attributes(attributes)
            .parent(&cx)
            .start();
        (operation, span)
    }
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_numbers_are_distinct_under_concurrency() {
        let session = Session::new();
        let threads = 8;
        let per_thread = 2_000;
        let mut numbers: Vec<u64> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let session = session.clone();
                    scope.spawn(move || {
                        (0..per_thread)
                            .map(|_| session.operation("op").number)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("no panic"))
                .collect()
        });
        numbers.sort_unstable();
        let expected: Vec<u64> = (1..=threads * per_thread).collect();
        assert_eq!(numbers, expected);
        assert_eq!(session.operation_count(), threads * per_thread);
    }

    #[test]
    fn operation_numbers_stop_at_the_largest_the_attribute_carries() {
        // `session.operation_number` is an i64 attribute: past i64::MAX a number would be
        // written negative, and the u64 counter's overflow would panic in debug builds and
        // restart at 0 in release.
        let session = Session::new();
        session
            .inner
            .operations
            .store(MAX_OPERATION_NUMBER - 1, Ordering::Relaxed);
        for _ in 0..3 {
            let operation = session.operation("op");
            assert_eq!(operation.number, MAX_OPERATION_NUMBER);
            let [_, number] = operation.attributes();
            assert_eq!(number.value, Value::I64(i64::MAX), "{operation:?}");
        }
        assert_eq!(session.operation_count(), MAX_OPERATION_NUMBER);
        let made_by_hand = Operation {
            name: "op".into(),
            number: u64::MAX,
        };
        let [_, number] = made_by_hand.attributes();
        assert_eq!(number.value, Value::I64(i64::MAX));
    }

    #[test]
    fn ids_are_validated_or_generated() {
        assert!(Session::builder().id("bad id").is_err());
        let a = Session::new();
        let b = Session::new();
        assert_ne!(a.id(), b.id());
        assert_eq!(
            uuid::Uuid::parse_str(a.id()).map(|u| u.get_version_num()),
            Ok(7)
        );
    }

    #[test]
    fn context_carries_id_and_name() {
        let session = Session::builder().name("chat").build();
        let cx = session.context(&Context::new());
        assert_eq!(
            cx.baggage().get(SESSION_ID_KEY).map(|v| v.as_str()),
            Some(session.id())
        );
        assert_eq!(
            cx.baggage().get(SESSION_NAME_KEY).map(|v| v.as_str()),
            Some("chat")
        );
    }
}
