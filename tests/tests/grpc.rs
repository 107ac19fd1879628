//! Spans exported over OTLP/gRPC (the `grpc` feature), checked at a real (in-process) tonic
//! collector: names, parentage and metadata arrive; the exporter works from inside a tokio
//! runtime of either flavour, since it owns its own; an unreachable collector fails a flush
//! in bounded time.
#![cfg(feature = "grpc")]

use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hivetrace::exporter::Protocol;
use hivetrace::{EventType, Tracer, TracerBuilder};
use hivetrace_tests::proto::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use hivetrace_tests::proto::{ResourceSpans, Span as ProtoSpan};
use hivetrace_tests::{attributes, closed_port};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use tokio::sync::oneshot;
use tonic::metadata::MetadataMap;
use tonic::transport::Server;
use tonic::transport::server::TcpIncoming;

/// How long a test waits for something that should happen at once. A bound, not a
/// performance expectation: only a hang or a lost span takes this long.
const WAIT: Duration = Duration::from_secs(10);

/// One `Export` call the collector answered.
#[derive(Clone, Debug)]
struct Recorded {
    metadata: MetadataMap,
    request: ExportTraceServiceRequest,
}

impl Recorded {
    /// An ASCII metadata value, by (lowercase) key.
    fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(|v| v.to_str().ok())
    }

    fn spans(&self) -> impl Iterator<Item = &ProtoSpan> {
        self.request
            .resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .flat_map(|ss| &ss.spans)
    }
}

/// What the server thread and the test share.
#[derive(Debug, Default)]
struct Shared {
    calls: Mutex<Vec<Recorded>>,
    /// Signalled whenever a call is recorded.
    arrived: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Vec<Recorded>> {
        self.calls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The `TraceService` implementation: records every call and accepts it.
#[derive(Debug)]
struct Service {
    shared: Arc<Shared>,
}

#[tonic::async_trait]
impl TraceService for Service {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let (metadata, _, request) = request.into_parts();
        self.shared.lock().push(Recorded { metadata, request });
        self.shared.arrived.notify_all();
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A fake OTLP/gRPC collector on `127.0.0.1` at a port the OS picks, on its own thread and
/// tokio runtime (so it serves synchronous tests and tests inside other runtimes alike);
/// stopped when dropped.
#[derive(Debug)]
struct Collector {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Collector {
    fn start() -> Collector {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("a bound listener's address");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("the collector's runtime");
        let shared = Arc::new(Shared::default());
        let service = TraceServiceServer::new(Service {
            shared: Arc::clone(&shared),
        });
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("otlp-grpc-collector-{}", addr.port()))
            .spawn(move || {
                // Dropping the runtime at the end of the thread cancels open connections.
                runtime.block_on(async move {
                    // Without a listener every export fails to connect, which the test reports.
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    let serve =
                        Server::builder().serve_with_incoming(service, TcpIncoming::from(listener));
                    tokio::select! {
                        _ = stopped => {}
                        _ = serve => {}
                    }
                });
            })
            .expect("the collector's thread");
        Collector {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the gRPC endpoint, used verbatim.
    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every call answered so far, in arrival order.
    fn calls(&self) -> Vec<Recorded> {
        self.shared.lock().clone()
    }

    /// Waits until at least `n` spans have arrived, or `timeout` passes; returns them all.
    fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ProtoSpan> {
        let deadline = Instant::now() + timeout;
        let mut calls = self.shared.lock();
        loop {
            let spans: Vec<ProtoSpan> = calls.iter().flat_map(Recorded::spans).cloned().collect();
            let now = Instant::now();
            if spans.len() >= n || now >= deadline {
                return spans;
            }
            calls = self
                .shared
                .arrived
                .wait_timeout(calls, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn grpc_tracer(collector: &Collector) -> Tracer {
    TracerBuilder::new()
        .project("support-bot")
        .service_name("support-api")
        .endpoint(collector.url())
        .protocol(Protocol::Grpc)
        .header("x-api-key", "k1")
        .export_timeout(WAIT)
        .build()
        .expect("a valid gRPC configuration")
}

/// A parent `chain` span with a `model` child; returns their span ids (hex).
fn parent_and_child(tracer: &Tracer) -> (String, String) {
    let parent = tracer
        .span("answer_question")
        .event_type(EventType::Chain)
        .start();
    let parent_id = parent.span_context().span_id().to_string();
    let child_id = parent.in_scope(|| {
        let child = tracer.span("chat").event_type(EventType::Model).start();
        let id = child.span_context().span_id().to_string();
        child.end();
        id
    });
    parent.end();
    (parent_id, child_id)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn by_name<'a>(spans: &'a [ProtoSpan], name: &str) -> &'a ProtoSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no span named {name:?} among {spans:#?}"))
}

fn assert_parent_and_child(spans: &[ProtoSpan], parent_id: &str, child_id: &str) {
    assert_eq!(spans.len(), 2, "{spans:#?}");
    let parent = by_name(spans, "answer_question");
    let child = by_name(spans, "chat");
    assert_eq!(hex(&parent.span_id), parent_id);
    assert_eq!(hex(&child.span_id), child_id);
    assert!(parent.parent_span_id.is_empty(), "the root has no parent");
    assert_eq!(
        child.parent_span_id, parent.span_id,
        "child points at its parent"
    );
    assert_eq!(child.trace_id, parent.trace_id, "one trace");
    assert_eq!(parent.trace_id.len(), 16);
    assert_eq!(
        attributes::str_value(&parent.attributes, "honeyhive_event_type"),
        Some("chain")
    );
    assert_eq!(
        attributes::str_value(&child.attributes, "honeyhive_event_type"),
        Some("model")
    );
    for span in [parent, child] {
        assert_eq!(
            attributes::str_value(&span.attributes, "honeyhive.project"),
            Some("support-bot")
        );
    }
}

fn resource_spans(call: &Recorded) -> &ResourceSpans {
    call.request
        .resource_spans
        .first()
        .expect("a ResourceSpans in the request")
}

#[test]
fn grpc_export_keeps_names_parentage_resource_and_metadata() {
    let collector = Collector::start();
    let tracer = grpc_tracer(&collector);

    let (parent_id, child_id) = parent_and_child(&tracer);
    tracer.force_flush().expect("the collector accepts");
    let spans = collector.wait_for_spans(2, WAIT);
    assert_parent_and_child(&spans, &parent_id, &child_id);

    let calls = collector.calls();
    assert!(!calls.is_empty());
    for call in &calls {
        assert_eq!(
            call.metadata("x-api-key"),
            Some("k1"),
            "the header is sent as gRPC metadata: {:?}",
            call.metadata
        );
        assert_eq!(
            call.metadata("x-from-env"),
            None,
            "only headers hivetrace resolved are sent (see the process-environment test)"
        );
        assert!(
            call.metadata("content-type")
                .is_some_and(|ct| ct.starts_with("application/grpc")),
            "{:?}",
            call.metadata
        );
    }
    let resource = resource_spans(&calls[0])
        .resource
        .as_ref()
        .expect("a resource");
    assert_eq!(
        attributes::str_value(&resource.attributes, "service.name"),
        Some("support-api")
    );
    for span in &spans {
        assert_eq!(
            attributes::str_value(&span.attributes, "honeyhive.session_id"),
            Some(tracer.session_id())
        );
    }

    let stats = tracer.stats();
    assert_eq!(stats.exported, 2, "{stats:?}");
    assert_eq!(stats.export_errors, 0, "{stats:?}");
    assert_eq!(stats.export_failed, 0, "{stats:?}");
    tracer.shutdown().expect("a clean shutdown");
}

/// The HTTP exporter makes hivetrace's header resolution final: `OTEL_EXPORTER_OTLP_HEADERS`
/// in the process environment neither beats an explicit `.header(...)` nor adds headers to a
/// builder that did not read the environment (`TracerBuilder::new`). The gRPC exporter should
/// behave the same. Run as a child process, as the variable must be in the real environment.
#[test]
fn grpc_metadata_ignores_otlp_headers_in_the_process_environment() {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = std::process::Command::new(exe)
        .args([
            "--exact",
            "grpc_export_keeps_names_parentage_resource_and_metadata",
            "--test-threads=1",
        ])
        .env(
            "OTEL_EXPORTER_OTLP_HEADERS",
            "x-api-key=from-env,x-from-env=1",
        )
        .env(
            "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
            "x-api-key=from-env,x-from-env=1",
        )
        .output()
        .expect("the test binary runs");
    assert!(
        output.status.success(),
        "with OTEL_EXPORTER_OTLP_HEADERS set:\n{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

#[test]
fn grpc_header_names_are_sent_as_lowercase_metadata_keys() {
    let collector = Collector::start();
    let tracer = TracerBuilder::new()
        .endpoint(collector.url())
        .protocol(Protocol::Grpc)
        .header("X-Tenant", "acme")
        .export_timeout(WAIT)
        .build()
        .expect("a mixed-case header name is valid: HTTP/2 lowercases it");
    tracer.span("work").start().end();
    tracer.force_flush().expect("the collector accepts");
    assert_eq!(collector.wait_for_spans(1, WAIT).len(), 1);
    assert_eq!(collector.calls()[0].metadata("x-tenant"), Some("acme"));
}

#[test]
fn grpc_invalid_metadata_is_a_build_error() {
    let build = |name: &str, value: &str| {
        TracerBuilder::new()
            .endpoint("http://127.0.0.1:4317")
            .protocol(Protocol::Grpc)
            .header(name, value)
            .build()
    };
    let err = build("bad key", "v").expect_err("a space is not allowed in a metadata key");
    // The name up to its first character that is not allowed: past it could be a credential
    // (`Authorization: Basic ...` written with a colon).
    assert!(err.to_string().contains("\"bad<redacted>\""), "{err}");
    let err = build("x-api-key", "line\nbreak").expect_err("a newline is not a metadata value");
    let message = err.to_string();
    assert!(message.contains("x-api-key"), "{message}");
    assert!(
        !message.contains("line"),
        "the value is not printed: {message}"
    );
}

/// The SDK's pitfall: building a tonic exporter outside a runtime panics, and flushing one
/// from a current-thread runtime hangs, as its channel's task never runs. hivetrace's owns
/// a runtime, so neither the caller's runtime nor its flavour matters.
#[tokio::test]
async fn grpc_builds_flushes_and_shuts_down_inside_a_current_thread_runtime() {
    let collector = Collector::start();
    let tracer = grpc_tracer(&collector);

    let (parent_id, child_id) = parent_and_child(&tracer);
    let started = Instant::now();
    tracer.force_flush().expect("the collector accepts");
    assert!(
        started.elapsed() < WAIT,
        "flush took {:?}",
        started.elapsed()
    );
    assert_parent_and_child(&collector.wait_for_spans(2, WAIT), &parent_id, &child_id);
    assert_eq!(collector.calls()[0].metadata("x-api-key"), Some("k1"));
    assert_eq!(tracer.stats().exported, 2);

    // The caller's runtime is still usable, and a second round works too.
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(1)).await;
    tracer.span("again").start().end();
    tracer.force_flush().expect("a second flush");
    assert_eq!(collector.wait_for_spans(3, WAIT).len(), 3);
    assert_eq!(tracer.stats().exported, 3);

    // Shutting down and dropping inside the runtime must not drop the exporter's runtime
    // here (tokio panics when a runtime is dropped from async context).
    tracer.shutdown().expect("a clean shutdown");
    drop(tracer);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_builds_and_flushes_inside_a_multi_thread_runtime() {
    let collector = Collector::start();
    let tracer = grpc_tracer(&collector);
    let (parent_id, child_id) = parent_and_child(&tracer);
    tracer.force_flush().expect("the collector accepts");
    assert_parent_and_child(&collector.wait_for_spans(2, WAIT), &parent_id, &child_id);
    assert_eq!(tracer.stats().exported, 2);
    drop(tracer);
}

#[test]
fn grpc_unreachable_collector_fails_flush_in_bounded_time() {
    let tracer = TracerBuilder::new()
        .endpoint(format!("http://127.0.0.1:{}", closed_port()))
        .protocol(Protocol::Grpc)
        .header("x-api-key", "k1")
        .export_timeout(Duration::from_millis(300))
        .flush_timeout(Duration::from_secs(2))
        .build()
        .expect("building is lazy: no connection is made yet");
    tracer.span("offline").start().end();

    let started = Instant::now();
    let result = tracer.force_flush();
    let flushing = started.elapsed();
    assert!(result.is_err(), "nothing can be delivered: {result:?}");
    assert!(flushing < WAIT, "force_flush took {flushing:?}");

    let stats = tracer.stats();
    assert_eq!(stats.exported, 0, "{stats:?}");
    assert_eq!(stats.export_failed, 1, "{stats:?}");
    assert!(stats.export_errors >= 1, "{stats:?}");

    let started = Instant::now();
    let _ = tracer.shutdown();
    drop(tracer);
    assert!(
        started.elapsed() < WAIT,
        "shutdown took {:?}",
        started.elapsed()
    );
}
