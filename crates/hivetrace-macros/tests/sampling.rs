//! The sampler and the cost of a dropped span: `fields(...)` are attributes the sampler sees
//! at start; when it drops the span, no argument or return value is serialized or formatted,
//! no error is formatted and no `metadata(...)` / `config(...)` expression runs.

mod support;

use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};

use hivetrace_core::Tracer;
use hivetrace_macros::{trace, trace_impl};
use opentelemetry::Value;
use opentelemetry_sdk::trace::Sampler;
use support::{Harness, Lazy, Remembering, attr, i, inputs, named, names, s};

static SAMPLER: std::sync::LazyLock<Remembering> = std::sync::LazyLock::new(Remembering::default);
static SEEN: Lazy = Lazy::new(|| Harness::with(|b| b.sampler(SAMPLER.clone())));

#[trace(tracer = SEEN.tracer, event_type = model, fields(user.id = user_id, "quoted.key" = 3, n = n, ok = n > 1))]
fn chat(user_id: &str, n: u64) -> u64 {
    n
}

#[trace(tracer = SEEN.tracer, fields(user.id = user_id))]
async fn chat_async(user_id: String) -> usize {
    tokio::task::yield_now().await;
    user_id.len()
}

#[tokio::test]
async fn fields_are_seen_by_the_sampler_and_can_decide_the_sampling() {
    assert_eq!(chat("u-1", 2), 2);
    assert_eq!(chat_async("u-2".into()).await, 3);
    assert_eq!(chat("blocked", 5), 5);

    let seen = SAMPLER.seen("chat");
    assert_eq!(seen.attr("user.id"), Some(s("u-1")));
    assert_eq!(seen.attr("quoted.key"), Some(i(3)));
    assert_eq!(seen.attr("n"), Some(i(2)));
    assert_eq!(seen.attr("ok"), Some(Value::Bool(true)));
    assert_eq!(seen.attr("honeyhive_event_type"), Some(s("model")));
    assert!(
        seen.attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("honeyhive_inputs")),
        "inputs are captured after the sampling decision: {:?}",
        seen.attributes
    );
    assert_eq!(SAMPLER.seen("chat_async").attr("user.id"), Some(s("u-2")));

    let spans = SEEN.spans();
    // The sampler dropped the `blocked` call.
    assert_eq!(names(&spans), vec!["chat", "chat_async"]);
    let sp = named(&spans, "chat");
    // Fields stay on the exported span, next to the inputs.
    assert_eq!(attr(sp, "user.id"), Some(s("u-1")));
    assert_eq!(attr(sp, "quoted.key"), Some(i(3)));
    assert_eq!(inputs(sp).get("user_id"), Some(&s("u-1")));
}

static SERIALIZED: AtomicUsize = AtomicUsize::new(0);
static FORMATTED: AtomicUsize = AtomicUsize::new(0);
static ERRORS_FORMATTED: AtomicUsize = AtomicUsize::new(0);
static ENRICHMENTS: AtomicUsize = AtomicUsize::new(0);

/// Counts its serializations.
#[derive(Clone)]
struct Ser(u32);

impl serde::Serialize for Ser {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SERIALIZED.fetch_add(1, Ordering::SeqCst);
        serializer.serialize_u32(self.0)
    }
}

/// Counts its `Debug` formattings.
#[derive(Clone)]
struct Dbg(u32);

impl fmt::Debug for Dbg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        FORMATTED.fetch_add(1, Ordering::SeqCst);
        write!(f, "Dbg({})", self.0)
    }
}

/// An error counting every formatting, through `Display` or `Debug`.
struct Failure;

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ERRORS_FORMATTED.fetch_add(1, Ordering::SeqCst);
        f.write_str("failure")
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ERRORS_FORMATTED.fetch_add(1, Ordering::SeqCst);
        f.write_str("Failure")
    }
}

impl std::error::Error for Failure {}

fn enrichment() -> &'static str {
    ENRICHMENTS.fetch_add(1, Ordering::SeqCst);
    "value"
}

#[trace(tracer = tracer, skip(tracer), metadata(m = enrichment()), config(c = enrichment()))]
fn sync_work(tracer: &Tracer, a: Ser, b: Dbg) -> (Ser, Dbg) {
    let r = sync_child(tracer, b.clone());
    (a, r)
}

#[trace(tracer = tracer, skip(tracer))]
fn sync_child(tracer: &Tracer, b: Dbg) -> Dbg {
    b
}

#[trace(tracer = tracer, skip(tracer), err)]
fn failing(tracer: &Tracer, a: Ser) -> Result<Ser, Failure> {
    let _ = a;
    Err(Failure)
}

#[trace(tracer = tracer, skip(tracer), err)]
fn succeeding(tracer: &Tracer, a: Ser) -> Result<Ser, Failure> {
    Ok(a)
}

#[trace(tracer = tracer, skip(tracer), metadata(m = enrichment()))]
async fn async_work(tracer: &Tracer, a: Ser, b: Dbg) -> Dbg {
    tokio::task::yield_now().await;
    let _ = a;
    b
}

#[trace(tracer = tracer, skip(tracer))]
fn future_work(tracer: &Tracer, a: Ser) -> impl std::future::Future<Output = Ser> {
    async move { a }
}

struct Service {
    tracer: Tracer,
}

#[trace_impl(tracer = self.tracer, metadata(m = enrichment()))]
impl Service {
    pub fn handle(&self, a: Ser, b: Dbg) -> Ser {
        let _ = b;
        a
    }
}

async fn run_everything(tracer: &Tracer) {
    let _ = sync_work(tracer, Ser(1), Dbg(2));
    assert!(failing(tracer, Ser(3)).is_err());
    assert!(succeeding(tracer, Ser(4)).is_ok());
    let _ = async_work(tracer, Ser(5), Dbg(6)).await;
    let _ = future_work(tracer, Ser(7)).await;
    let service = Service {
        tracer: tracer.clone(),
    };
    let _ = service.handle(Ser(8), Dbg(9));
}

fn counts() -> [usize; 4] {
    [
        SERIALIZED.load(Ordering::SeqCst),
        FORMATTED.load(Ordering::SeqCst),
        ERRORS_FORMATTED.load(Ordering::SeqCst),
        ENRICHMENTS.load(Ordering::SeqCst),
    ]
}

/// One test, so nothing else touches the counters between the two halves.
#[tokio::test]
async fn nothing_is_serialized_or_formatted_for_a_dropped_span() {
    let off = Harness::with(|b| b.sampler(Sampler::AlwaysOff));
    run_everything(&off.tracer).await;
    assert_eq!(
        counts(),
        [0, 0, 0, 0],
        "[serialized, formatted, errors formatted, enrichments] with AlwaysOff"
    );
    assert!(off.spans().is_empty());

    let on = Harness::with(|b| b.sampler(Sampler::AlwaysOn));
    run_everything(&on.tracer).await;
    // Serialized: `a` of the six functions, and the outputs of `succeeding`, `future_work` and
    // `handle` (`sync_work`'s `(Ser, Dbg)` is neither Serialize nor Debug: not captured).
    // Formatted: `b` of `sync_work`, `sync_child`, `async_work` and `handle`, and the outputs
    // of `sync_child` and `async_work`. One error message. Four enrichment expressions.
    assert_eq!(
        counts(),
        [9, 6, 1, 4],
        "[serialized, formatted, errors formatted, enrichments] with AlwaysOn"
    );
    let spans = on.spans();
    assert_eq!(
        names(&spans),
        vec![
            "Service::handle",
            "async_work",
            "failing",
            "future_work",
            "succeeding",
            "sync_child",
            "sync_work"
        ]
    );
    let sp = named(&spans, "sync_work");
    assert_eq!(
        inputs(sp),
        [("a".to_owned(), i(1)), ("b".to_owned(), s("Dbg(2)"))].into()
    );
    assert_eq!(attr(sp, "honeyhive_metadata.m"), Some(s("value")));
    assert_eq!(attr(sp, "honeyhive_config.c"), Some(s("value")));
    assert_eq!(
        support::parent_of(named(&spans, "sync_child")),
        Some(sp.span_context.span_id())
    );
    assert_eq!(
        attr(named(&spans, "failing"), "honeyhive_error"),
        Some(s("failure"))
    );
}
