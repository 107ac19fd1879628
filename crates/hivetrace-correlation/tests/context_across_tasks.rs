//! Spans started on other tasks and threads parent under the span current where the work was
//! handed off, and request and session ids reach every span.

#![cfg(feature = "tokio")]

mod support;

use hivetrace_core::Instrument;
use hivetrace_correlation::{
    RequestId, SESSION_OPERATION, SESSION_OPERATION_NUMBER, Session, in_current_context, spawn,
    spawn_blocking, spawn_thread,
};
use opentelemetry::Context;
use support::{attr, count, finished, is_child, named, tracer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_blocking_work_and_threads_parent_correctly() {
    let (tracer, exporter) = tracer();
    let root = tracer.span("root").start();
    let t = tracer.clone();
    async {
        let t1 = t.clone();
        let t2 = t.clone();
        let t3 = t.clone();
        let t4 = t.clone();
        let task = spawn(async move { drop(t1.span("in_task").start()) });
        let blocking = spawn_blocking(move || drop(t2.span("in_blocking").start()));
        let thread = spawn_thread(move || drop(t3.span("in_thread").start()));
        let deferred = in_current_context(move || drop(t4.span("in_deferred").start()));
        task.await.expect("task");
        blocking.await.expect("blocking");
        thread.join().expect("thread");
        std::thread::spawn(deferred).join().expect("deferred");
    }
    .with_context(root.context().clone())
    .await;
    drop(root);

    let spans = finished(&tracer, &exporter);
    let root = named(&spans, "root");
    for name in ["in_task", "in_blocking", "in_thread", "in_deferred"] {
        assert!(
            is_child(named(&spans, name), root),
            "{name} is not under root"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn join_fan_out_keeps_siblings_under_one_parent() {
    let (tracer, exporter) = tracer();
    let request_id = RequestId::parse("req-fanout").expect("valid");
    let cx = request_id.in_context(&Context::new());
    let parent = tracer.span("parent").parent(&cx).start();
    let work = |name: &'static str| {
        let tracer = tracer.clone();
        async move {
            let span = tracer.span(name).start();
            // Yield so the siblings interleave on the runtime.
            tokio::task::yield_now().await;
            async {
                tokio::task::yield_now().await;
                drop(tracer.span(format!("{name}.inner")).start());
            }
            .instrument(span)
            .await;
        }
    };
    async {
        tokio::join!(
            spawn(work("a")),
            spawn(work("b")),
            work("c").in_current_context()
        )
    }
    .with_context(parent.context().clone())
    .await
    .0
    .expect("a");
    drop(parent);

    let spans = finished(&tracer, &exporter);
    let parent = named(&spans, "parent");
    for name in ["a", "b", "c"] {
        let sibling = named(&spans, name);
        assert!(is_child(sibling, parent), "{name} is not under parent");
        let inner = named(&spans, &format!("{name}.inner"));
        assert!(is_child(inner, sibling), "{name}.inner is not under {name}");
    }
    for span in &spans {
        assert_eq!(
            attr(span, "request.id").as_deref(),
            Some("req-fanout"),
            "{}",
            span.name
        );
        assert_eq!(count(span, "request.id"), 1);
    }
}

#[test]
fn session_spans_carry_ids_and_numbered_operations() {
    let (tracer, exporter) = tracer();
    let session = Session::builder()
        .id("s-77")
        .expect("valid")
        .name("support chat")
        .user_property("tier", "pro")
        .build();
    let root = session.start_root(&tracer);
    root.in_scope(|| {
        let (first, span) = session.start_operation(&tracer, "retrieve");
        assert_eq!(first.number, 1);
        span.in_scope(|| drop(tracer.span("nested").start()));
        drop(span);
        let (second, span) = session.start_operation(&tracer, "answer");
        assert_eq!(second.number, 2);
        drop(span);
    });
    drop(root);

    let spans = finished(&tracer, &exporter);
    for span in &spans {
        assert_eq!(
            attr(span, "session.id").as_deref(),
            Some("s-77"),
            "{}",
            span.name
        );
        assert_eq!(
            attr(span, "honeyhive.session_id").as_deref(),
            Some("s-77"),
            "{}",
            span.name
        );
        assert_eq!(count(span, "session.id"), 1, "{}", span.name);
        assert_eq!(count(span, "honeyhive.session_id"), 1, "{}", span.name);
        assert_eq!(
            attr(span, "honeyhive.session_name").as_deref(),
            Some("support chat")
        );
    }
    let root = named(&spans, "support chat");
    assert_eq!(
        attr(root, "honeyhive_event_type").as_deref(),
        Some("session")
    );
    assert_eq!(
        attr(root, "honeyhive_user_properties.tier").as_deref(),
        Some("pro")
    );
    let retrieve = named(&spans, "retrieve");
    assert_eq!(
        attr(retrieve, SESSION_OPERATION).as_deref(),
        Some("retrieve")
    );
    assert_eq!(
        attr(retrieve, SESSION_OPERATION_NUMBER).as_deref(),
        Some("1")
    );
    assert_eq!(
        attr(named(&spans, "answer"), SESSION_OPERATION_NUMBER).as_deref(),
        Some("2")
    );
    assert!(is_child(named(&spans, "nested"), retrieve));
    assert_eq!(attr(named(&spans, "nested"), SESSION_OPERATION), None);
}

#[test]
fn only_allowed_baggage_keys_become_attributes() {
    let (tracer, exporter) = tracer();
    let cx = hivetrace_correlation::baggage::with_entries(
        &Context::new(),
        [("request.id", "r-1"), ("secret.token", "do-not-copy")],
    );
    drop(tracer.span("work").parent(&cx).start());
    let spans = finished(&tracer, &exporter);
    let work = named(&spans, "work");
    assert_eq!(attr(work, "request.id").as_deref(), Some("r-1"));
    assert_eq!(attr(work, "secret.token"), None);
}
