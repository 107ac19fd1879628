//! Spans across `.await` on a multi-threaded tokio runtime: children nest under the future's
//! span wherever the future is polled, and no context outlives the poll that attached it.
#![cfg(feature = "testing")]

mod support;

use std::time::Duration;

use hivetrace_core::{EventType, Instrument};
use opentelemetry::Context;
use opentelemetry::trace::{Status, TraceContextExt};
use support::{finished, in_memory_tracer, named, parent_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_and_joined_children_share_the_instrumented_parent() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let parent = tracer.span("parent").event_type(EventType::Chain).start();
    let parent_id = parent.span_context().span_id();

    let t = tracer.clone();
    async move {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;

        let inner = t.clone();
        let spawned = tokio::spawn(
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                inner.span("grandchild").start().end();
            }
            .instrument(t.span("spawned").start()),
        );
        spawned.await.expect("the spawned task completes");

        let a = async { tokio::time::sleep(Duration::from_millis(3)).await }
            .instrument(t.span("joined_a").start());
        let b = async { tokio::task::yield_now().await }.instrument(t.span("joined_b").start());
        tokio::join!(a, b);

        // After awaiting the children, the parent is current again, not a child.
        t.span("after_children").start().end();
    }
    .instrument(parent)
    .await;

    assert!(
        !Context::current().has_active_span(),
        "the instrumented future left its span current"
    );
    tracer.span("outside").start().end();

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 7, "{:?}", support::names(&spans));
    let trace = named(&spans, "parent").span_context.trace_id();
    for name in ["spawned", "joined_a", "joined_b", "after_children"] {
        let span = named(&spans, name);
        assert_eq!(parent_of(span), Some(parent_id), "{name}'s parent");
        assert_eq!(span.span_context.trace_id(), trace, "{name}'s trace");
    }
    assert_eq!(
        parent_of(named(&spans, "grandchild")),
        Some(named(&spans, "spawned").span_context.span_id())
    );
    let outside = named(&spans, "outside");
    assert_eq!(
        parent_of(outside),
        None,
        "a span after the future is a root"
    );
    assert_ne!(outside.span_context.trace_id(), trace);

    // The parent ends when its future completes, after its children.
    let parent = named(&spans, "parent");
    for name in ["spawned", "joined_a", "joined_b", "after_children"] {
        assert!(
            named(&spans, name).end_time <= parent.end_time,
            "{name} ends first"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_keep_their_own_parents() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let mut tasks = Vec::new();
    for i in 0..16 {
        let t = tracer.clone();
        let parent = tracer.span(format!("task-{i}")).start();
        tasks.push(tokio::spawn(
            async move {
                for step in 0..3 {
                    tokio::task::yield_now().await;
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    t.span(format!("task-{i}-step-{step}")).start().end();
                }
            }
            .instrument(parent),
        ));
    }
    for task in tasks {
        task.await.expect("the task completes");
    }
    assert!(!Context::current().has_active_span());

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 16 * 4);
    for i in 0..16 {
        let parent = named(&spans, &format!("task-{i}"));
        assert_eq!(parent_of(parent), None);
        for step in 0..3 {
            let child = named(&spans, &format!("task-{i}-step-{step}"));
            assert_eq!(
                parent_of(child),
                Some(parent.span_context.span_id()),
                "task-{i}-step-{step} nests under its own task"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_current_context_carries_the_parent_into_a_spawned_task() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let parent = tracer.span("parent").start();
    let handle = {
        let _current = parent.enter();
        let t = tracer.clone();
        tokio::spawn(async move { t.span("child").start().end() }.in_current_context())
    };
    handle.await.expect("the task completes");
    drop(parent);

    let spans = finished(&tracer, &exporter);
    assert_eq!(
        parent_of(named(&spans, "child")),
        Some(named(&spans, "parent").span_context.span_id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_instrumented_task_ends_its_span_with_an_error() {
    let (tracer, exporter) = in_memory_tracer(|b| b);
    let task = tokio::spawn(
        async {
            tokio::task::yield_now().await;
            panic!("the model client panicked");
        }
        .instrument(tracer.span("panicking_task").start()),
    );
    let joined = task.await;
    assert!(joined.is_err_and(|e| e.is_panic()));

    let spans = finished(&tracer, &exporter);
    let span = named(&spans, "panicking_task");
    assert!(
        matches!(span.status, Status::Error { .. }),
        "a task that panicked inside its span left status {:?}",
        span.status
    );
}
