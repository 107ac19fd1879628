//! Span trees: sync calls nest under their caller; async fns nest under the span current when
//! they are first polled, also when run concurrently (`join!`) or on other threads; an
//! `fn -> impl Future` starts its span at call time, so it nests under its caller even when
//! the future is spawned.
#![allow(
    clippy::unused_async,
    reason = "async fns without awaits are traced too"
)]

mod support;

use std::time::Duration;

use hivetrace_core::Instrument;
use hivetrace_macros::trace;
use support::{Harness, Lazy, named, parent_of, tree};

// --- sync -------------------------------------------------------------------------------

static SYNC: Lazy = Lazy::new(Harness::new);

#[trace(tracer = SYNC.tracer)]
fn outer(n: u32) -> u32 {
    middle(n) + middle(n + 1)
}

#[trace(tracer = SYNC.tracer)]
fn middle(n: u32) -> u32 {
    leaf(n) * 2
}

#[trace(tracer = SYNC.tracer)]
fn leaf(n: u32) -> u32 {
    n
}

#[test]
fn sync_calls_nest_under_their_caller() {
    assert_eq!(outer(1), 2 + 4);
    assert_eq!(leaf(9), 9);
    let spans = SYNC.spans();
    assert_eq!(
        tree(&spans),
        vec![
            "leaf", "outer", "  middle", "    leaf", "  middle", "    leaf",
        ]
    );
    let root = named(&spans, "outer");
    assert_eq!(parent_of(root), None);
    let trace_id = root.span_context.trace_id();
    let lone_leaf = spans
        .iter()
        .find(|s| s.name == "leaf" && parent_of(s).is_none())
        .expect("the leaf called on its own is a root");
    assert_ne!(
        lone_leaf.span_context.trace_id(),
        trace_id,
        "a second root call starts a new trace"
    );
    // Every child ended before its parent did.
    for span in &spans {
        if let Some(parent) = parent_of(span) {
            let p = spans
                .iter()
                .find(|s| s.span_context.span_id() == parent)
                .expect("parent exported");
            assert!(span.start_time >= p.start_time && span.end_time <= p.end_time);
        }
    }
}

// --- async ------------------------------------------------------------------------------

static ASYNC: Lazy = Lazy::new(Harness::new);

#[trace(tracer = ASYNC.tracer)]
async fn a_parent() -> u32 {
    let x = a_child(1).await;
    tokio::task::yield_now().await;
    let y = a_child(2).await;
    x + y
}

#[trace(tracer = ASYNC.tracer)]
async fn a_child(n: u32) -> u32 {
    tokio::task::yield_now().await;
    a_grandchild(n).await
}

#[trace(tracer = ASYNC.tracer)]
async fn a_grandchild(n: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(1)).await;
    n
}

#[tokio::test]
async fn async_calls_nest_across_awaits() {
    assert_eq!(a_parent().await, 3);
    let spans = ASYNC.spans();
    assert_eq!(
        tree(&spans),
        vec![
            "a_parent",
            "  a_child",
            "    a_grandchild",
            "  a_child",
            "    a_grandchild",
        ]
    );
}

static JOIN: Lazy = Lazy::new(Harness::new);

#[trace(tracer = JOIN.tracer)]
async fn j_parent() -> (u32, u32) {
    tokio::join!(j_left(), j_right())
}

#[trace(tracer = JOIN.tracer)]
async fn j_left() -> u32 {
    // Pending while `j_right` starts: its span must not become `j_right`'s parent.
    tokio::task::yield_now().await;
    let n = j_left_inner().await;
    tokio::task::yield_now().await;
    n
}

#[trace(tracer = JOIN.tracer)]
async fn j_left_inner() -> u32 {
    tokio::task::yield_now().await;
    1
}

#[trace(tracer = JOIN.tracer)]
async fn j_right() -> u32 {
    tokio::task::yield_now().await;
    let n = j_right_inner().await;
    tokio::task::yield_now().await;
    n
}

#[trace(tracer = JOIN.tracer)]
async fn j_right_inner() -> u32 {
    tokio::task::yield_now().await;
    2
}

#[tokio::test]
async fn concurrent_futures_nest_under_their_own_parent() {
    assert_eq!(j_parent().await, (1, 2));
    // Something started after the join, outside any traced fn, is a root of its own.
    assert_eq!(j_right_inner().await, 2);
    let spans = JOIN.spans();
    assert_eq!(
        tree(&spans),
        vec![
            "j_parent",
            "  j_left",
            "    j_left_inner",
            "  j_right",
            "    j_right_inner",
            "j_right_inner",
        ]
    );
}

static SPAWN: Lazy = Lazy::new(Harness::new);

#[trace(tracer = SPAWN.tracer)]
async fn s_parent(n: u32) -> u32 {
    let mut handles = Vec::new();
    for i in 0..n {
        // `in_current_context`: the task's first poll happens on another thread, where the
        // parent's span is not current.
        handles.push(tokio::spawn(s_worker(i).in_current_context()));
    }
    let mut sum = 0;
    for h in handles {
        sum += h.await.expect("worker ran");
    }
    sum
}

#[trace(tracer = SPAWN.tracer)]
async fn s_worker(i: u32) -> u32 {
    tokio::time::sleep(Duration::from_millis(u64::from(3 - i % 3))).await;
    tokio::task::yield_now().await;
    s_step(i).await
}

#[trace(tracer = SPAWN.tracer)]
async fn s_step(i: u32) -> u32 {
    tokio::task::yield_now().await;
    i
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn spawned_tasks_on_other_threads_nest_under_the_right_parent() {
    let (a, b) = tokio::join!(tokio::spawn(s_parent(3)), tokio::spawn(s_parent(2)));
    assert_eq!(a.expect("first parent") + b.expect("second parent"), 3 + 1);
    let spans = SPAWN.spans();
    assert_eq!(spans.len(), 2 + 5 * 2);
    // Each worker is under a parent, each step under its own worker, in the parent's trace.
    for worker in spans.iter().filter(|s| s.name == "s_worker") {
        let parent = parent_of(worker).expect("a worker has a parent");
        let p = spans
            .iter()
            .find(|s| s.span_context.span_id() == parent)
            .expect("the parent is exported");
        assert_eq!(p.name, "s_parent");
        let i = support::attr(worker, "honeyhive_inputs.i").expect("worker input");
        let step = spans
            .iter()
            .find(|s| {
                s.name == "s_step"
                    && support::attr(s, "honeyhive_inputs.i") == Some(i.clone())
                    && s.span_context.trace_id() == worker.span_context.trace_id()
            })
            .expect("the worker's step");
        assert_eq!(parent_of(step), Some(worker.span_context.span_id()));
    }
    // The parent given `n = 3` has three workers, the other two.
    for p in spans.iter().filter(|s| s.name == "s_parent") {
        let n = support::attr(p, "honeyhive_inputs.n").expect("input n");
        let workers = spans
            .iter()
            .filter(|s| parent_of(s) == Some(p.span_context.span_id()))
            .count();
        assert_eq!(opentelemetry::Value::I64(workers as i64), n);
    }
    let t = tree(&spans);
    assert_eq!(
        t.iter().filter(|l| !l.starts_with(' ')).count(),
        2,
        "{t:#?}"
    );
}

static SPAWN_PLAIN: Lazy = Lazy::new(Harness::new);

#[trace(tracer = SPAWN_PLAIN.tracer)]
async fn p_parent() {
    tokio::spawn(p_async_fn()).await.expect("ran");
    tokio::spawn(p_impl_future()).await.expect("ran");
}

#[trace(tracer = SPAWN_PLAIN.tracer)]
async fn p_async_fn() {
    tokio::task::yield_now().await;
}

#[trace(tracer = SPAWN_PLAIN.tracer)]
fn p_impl_future() -> impl std::future::Future<Output = ()> + Send {
    async move {
        tokio::task::yield_now().await;
    }
}

/// Without `in_current_context`, a spawned `async fn` starts its span at its first poll, on a
/// worker where nothing is current: a root, as with `tracing`'s `#[instrument]`. An
/// `fn -> impl Future` starts its span when called, so it keeps its parent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plainly_spawned_async_fn_is_a_root_but_impl_future_keeps_its_parent() {
    p_parent().await;
    let spans = SPAWN_PLAIN.spans();
    assert_eq!(
        tree(&spans),
        vec!["p_async_fn", "p_parent", "  p_impl_future"]
    );
}

static FUTURE: Lazy = Lazy::new(Harness::new);

#[trace(tracer = FUTURE.tracer)]
fn f_later(x: u32) -> impl std::future::Future<Output = u32> {
    let y = f_before(x);
    async move {
        tokio::task::yield_now().await;
        f_inside(y).await
    }
}

#[trace(tracer = FUTURE.tracer)]
fn f_before(x: u32) -> u32 {
    x + 1
}

#[trace(tracer = FUTURE.tracer)]
async fn f_inside(y: u32) -> u32 {
    y * 2
}

#[tokio::test]
async fn impl_future_span_covers_the_prelude_and_the_future() {
    let fut = f_later(1);
    // The statements before the async block run at call time inside the span: `f_before` is a
    // child of `f_later`, like `f_inside`, which runs when the future is polled.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(fut.await, 4);
    let never_polled = f_later(5);
    drop(never_polled);
    let spans = FUTURE.spans();
    assert_eq!(
        tree(&spans),
        vec![
            "f_later",
            "  f_before",
            "  f_inside",
            "f_later",
            "  f_before"
        ]
    );
    let polled = spans
        .iter()
        .find(|s| s.name == "f_later" && support::output(s).is_some())
        .expect("the awaited future's span");
    assert_eq!(support::output(polled), Some(support::i(4)));
    let elapsed = polled
        .end_time
        .duration_since(polled.start_time)
        .expect("ends after it starts");
    assert!(
        elapsed >= Duration::from_millis(20),
        "the span started at call time and ended with the future: {elapsed:?}"
    );
}

static CANCEL: Lazy = Lazy::new(Harness::new);

#[trace(tracer = CANCEL.tracer)]
async fn c_slow() -> u32 {
    tokio::time::sleep(Duration::from_secs(60)).await;
    1
}

#[tokio::test]
async fn a_cancelled_async_fn_still_ends_its_span_without_output() {
    let r = tokio::time::timeout(Duration::from_millis(5), c_slow()).await;
    assert!(r.is_err());
    let spans = CANCEL.spans();
    let span = named(&spans, "c_slow");
    assert_eq!(support::output(span), None);
    assert!(!support::is_error(span));
}
