//! `resources`: CPU time and resident memory written on the span, on every way out of the
//! function, for sync and async functions and methods.
#![cfg(target_os = "linux")]

mod support;

use hivetrace_macros::{trace, trace_impl};
use hivetrace_metrics::resources::keys;
use opentelemetry::Value;
use opentelemetry_sdk::trace::SpanData;
use support::{Harness, Lazy, attr, named};

static H: Lazy = Lazy::new(Harness::new);

/// Work the thread's CPU clock sees.
fn burn() -> u64 {
    (0..200_000u64).fold(0, |acc, x| acc.wrapping_mul(31).wrapping_add(x))
}

fn assert_measured(span: &SpanData) {
    for key in [
        keys::THREAD_CPU_MS,
        keys::PROCESS_CPU_MS,
        keys::RSS_BEFORE_BYTES,
        keys::RSS_AFTER_BYTES,
        keys::RSS_DELTA_BYTES,
    ] {
        assert!(
            attr(span, key).is_some(),
            "{key} missing on {}: {:?}",
            span.name,
            span.attributes
        );
    }
    match attr(span, keys::RSS_AFTER_BYTES) {
        Some(Value::I64(bytes)) => assert!(bytes > 0, "RSS after is {bytes}"),
        other => panic!("RSS after is not an integer: {other:?}"),
    }
}

#[trace(tracer = H.tracer, resources)]
fn parse(text: &str) -> Result<u64, std::num::ParseIntError> {
    let n: u64 = text.parse()?; // an early way out must record too
    Ok(n + burn() % 2)
}

#[trace(tracer = H.tracer, resources)]
async fn fetch(n: u64) -> u64 {
    tokio::task::yield_now().await;
    n + burn() % 2
}

#[trace(tracer = H.tracer, resources)]
fn later(n: u64) -> impl std::future::Future<Output = u64> {
    async move { n + burn() % 2 }
}

#[trace(tracer = H.tracer)]
fn unmeasured() -> u64 {
    burn()
}

struct Index;

#[trace_impl(tracer = H.tracer, resources)]
impl Index {
    pub fn search(&self, q: &str) -> usize {
        q.len() + (burn() % 2) as usize
    }
}

#[test]
fn sync_functions_record_on_success_and_on_an_early_return() {
    assert!(parse("41").is_ok());
    assert!(parse("not a number").is_err());
    let spans = H.spans();
    let parsed: Vec<&SpanData> = spans.iter().filter(|s| s.name == "parse").collect();
    assert_eq!(parsed.len(), 2);
    for span in parsed {
        assert_measured(span);
    }
}

#[test]
fn async_functions_and_returned_futures_record_when_the_future_completes() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    assert!(rt.block_on(fetch(1)) >= 1);
    let future = later(2);
    assert!(rt.block_on(future) >= 2);
    let spans = H.spans();
    assert_measured(named(&spans, "fetch"));
    assert_measured(named(&spans, "later"));
}

#[test]
fn methods_take_resources_from_trace_impl_and_others_record_nothing() {
    assert!(Index.search("abc") >= 3);
    let _ = unmeasured();
    let spans = H.spans();
    assert_measured(named(&spans, "Index::search"));
    let plain = named(&spans, "unmeasured");
    assert!(
        plain
            .attributes
            .iter()
            .all(|kv| !kv.key.as_str().starts_with("honeyhive_metrics.resource.")),
        "{:?}",
        plain.attributes
    );
}
