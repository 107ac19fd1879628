//! The server and client layers: context extracted and injected, HTTP attributes, request ids
//! set and echoed, the server span ended by the end of the response body, poll_ready honoured.
#![cfg(feature = "tower")]

mod support;

use std::convert::Infallible;
use std::task::{Context as TaskContext, Poll};

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use hivetrace_core::Instrument;
use hivetrace_correlation::RequestId;
use hivetrace_correlation::tower::{ClientLayer, ServerLayer};
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use opentelemetry::trace::{SpanKind, Status};
use support::{attr, count, finished, is_child, named, tracer};
use tower::{Layer, Service, ServiceExt};

const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[tokio::test]
async fn server_continues_the_trace_and_echoes_the_request_id() {
    let (tracer, exporter) = tracer();
    let inner_tracer = tracer.clone();
    let handler = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let tracer = inner_tracer.clone();
        async move {
            let seen = req.extensions().get::<RequestId>().cloned();
            assert_eq!(
                seen,
                RequestId::current(),
                "the request id is in the context"
            );
            drop(tracer.span("handler.work").start());
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("hello"))))
        }
    });
    let service = ServerLayer::new(tracer.clone())
        .route(|_, uri| {
            uri.path()
                .starts_with("/users/")
                .then_some("/users/{id}".into())
        })
        .layer(handler);
    let request = Request::get("/users/42")
        .header("traceparent", PARENT)
        .header("x-request-id", "req-abc")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.headers()["x-request-id"], "req-abc");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "hello");

    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "GET /users/{id}");
    assert_eq!(server.span_kind, SpanKind::Server);
    assert_eq!(
        server.span_context.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert_eq!(server.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(server.parent_span_is_remote);
    assert_eq!(attr(server, "http.request.method").as_deref(), Some("GET"));
    assert_eq!(attr(server, "url.path").as_deref(), Some("/users/42"));
    assert_eq!(attr(server, "http.route").as_deref(), Some("/users/{id}"));
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
    assert_eq!(attr(server, "request.id").as_deref(), Some("req-abc"));
    assert_eq!(count(server, "request.id"), 1);
    let work = named(&spans, "handler.work");
    assert!(is_child(work, server));
    assert_eq!(attr(work, "request.id").as_deref(), Some("req-abc"));
}

#[tokio::test]
async fn invalid_request_ids_are_replaced_and_server_errors_recorded() {
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Ok::<_, Infallible>(response)
    });
    let service = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::post("/chat")
        .header("traceparent", "00-not-a-valid-header")
        .header("x-request-id", "has spaces and <tags>")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    let echoed = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(echoed, "has spaces and <tags>");
    assert_eq!(
        uuid::Uuid::parse_str(&echoed).map(|u| u.get_version_num()),
        Ok(7)
    );
    drop(response);

    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "POST");
    assert_eq!(
        server.parent_span_id.to_string(),
        "0000000000000000",
        "a new trace"
    );
    assert_eq!(attr(server, "request.id"), Some(echoed));
    assert_eq!(attr(server, "error.type").as_deref(), Some("503"));
    assert!(matches!(server.status, Status::Error { .. }));
}

#[tokio::test]
async fn a_request_id_in_baggage_is_kept_when_the_header_is_missing() {
    let (tracer, _exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let service = ServerLayer::new(tracer).layer(handler);
    let request = Request::get("/")
        .header("baggage", "request.id=req-from-baggage")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    assert_eq!(response.headers()["x-request-id"], "req-from-baggage");
}

#[tokio::test]
async fn unknown_methods_are_reported_as_other() {
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let service = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::builder()
        .method("BREW")
        .uri("/pot")
        .body(Full::new(Bytes::new()))
        .expect("request");
    drop(service.oneshot(request).await.expect("infallible"));
    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "HTTP");
    assert_eq!(
        attr(server, "http.request.method").as_deref(),
        Some("_OTHER")
    );
    assert_eq!(
        attr(server, "http.request.method_original").as_deref(),
        Some("BREW")
    );
}

#[tokio::test]
async fn the_server_span_ends_when_a_streamed_body_ends() {
    let (tracer, exporter) = tracer();
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(4);
    let rx = std::sync::Arc::new(std::sync::Mutex::new(Some(rx)));
    let handler = tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let rx = rx.lock().expect("lock").take().expect("one request");
        async move {
            let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                let chunk = rx.recv().await?;
                Some((Ok::<_, Infallible>(http_body::Frame::data(chunk)), rx))
            });
            Ok::<_, Infallible>(Response::new(StreamBody::new(stream.boxed())))
        }
    });
    let service = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::get("/stream")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    let mut body = response.into_body();

    tx.send(Bytes::from("first")).await.expect("send");
    let frame = body.frame().await.expect("a frame").expect("ok");
    assert_eq!(frame.into_data().expect("data"), "first");
    assert!(
        finished(&tracer, &exporter).is_empty(),
        "the span is still open while the body streams"
    );

    tx.send(Bytes::from("last")).await.expect("send");
    drop(tx);
    let rest = body.collect().await.expect("body").to_bytes();
    assert_eq!(rest, "last");
    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "GET");
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200")
    );
}

#[tokio::test]
async fn client_injects_its_span_and_the_request_id() {
    let (tracer, exporter) = tracer();
    let downstream = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        // Hand the request headers back to the test.
        *response.headers_mut() = req.headers().clone();
        Ok::<_, Infallible>(response)
    });
    let client = ClientLayer::new(tracer.clone()).layer(downstream);
    let cx = RequestId::parse("req-out")
        .expect("valid")
        .in_context(&opentelemetry::Context::new());
    let caller = tracer.span("caller").parent(&cx).start();
    let request = Request::get("http://backend.local:8080/v1/answer")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client
        .oneshot(request)
        .with_context(caller.context().clone())
        .await
        .expect("infallible");
    drop(caller);
    let sent = response.headers();
    assert_eq!(sent["x-request-id"], "req-out");
    assert!(
        sent["baggage"]
            .to_str()
            .expect("ascii")
            .contains("request.id=req-out")
    );

    let spans = finished(&tracer, &exporter);
    let client_span = named(&spans, "GET");
    assert_eq!(client_span.span_kind, SpanKind::Client);
    assert!(is_child(client_span, named(&spans, "caller")));
    let traceparent = sent["traceparent"].to_str().expect("ascii");
    let expected = format!(
        "00-{}-{}-01",
        client_span.span_context.trace_id(),
        client_span.span_context.span_id()
    );
    assert_eq!(traceparent, expected);
    assert_eq!(
        attr(client_span, "server.address").as_deref(),
        Some("backend.local")
    );
    assert_eq!(attr(client_span, "server.port").as_deref(), Some("8080"));
    assert_eq!(
        attr(client_span, "http.response.status_code").as_deref(),
        Some("404")
    );
    assert_eq!(attr(client_span, "error.type").as_deref(), Some("404"));
}

/// A service that may be called only after `poll_ready` said so; clones start unready.
struct MustBeReady {
    ready: bool,
}

impl Clone for MustBeReady {
    fn clone(&self) -> Self {
        MustBeReady { ready: false }
    }
}

impl Service<Request<Full<Bytes>>> for MustBeReady {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<Full<Bytes>>) -> Self::Future {
        assert!(self.ready, "called without poll_ready");
        self.ready = false;
        std::future::ready(Ok(Response::new(Full::new(Bytes::new()))))
    }
}

#[tokio::test]
async fn both_layers_call_the_service_that_was_made_ready() {
    let (tracer, _exporter) = tracer();
    let mut server = ServerLayer::new(tracer.clone()).layer(MustBeReady { ready: false });
    let mut client = ClientLayer::new(tracer).layer(MustBeReady { ready: false });
    for _ in 0..2 {
        let req = || Request::new(Full::new(Bytes::new()));
        let response = server.ready().await.expect("ready").call(req()).await;
        assert!(response.is_ok());
        let response = client.ready().await.expect("ready").call(req()).await;
        assert!(response.is_ok());
    }
}

/// A handler or upstream that answers with its status code.
#[derive(Clone, Copy)]
struct Answering(u16);

impl Service<Request<Full<Bytes>>> for Answering {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut TaskContext<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<Full<Bytes>>) -> Self::Future {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.status_mut() = StatusCode::from_u16(self.0).expect("100..=999");
        std::future::ready(Ok(response))
    }
}

/// One request through a server layer whose service answers `server_status`, and one through
/// a client layer whose service answers `client_status`: the finished spans, `GET` (server)
/// and `POST` (client).
async fn exchange(
    server_status: u16,
    client_status: u16,
) -> Vec<opentelemetry_sdk::trace::SpanData> {
    let (tracer, exporter) = tracer();
    let server = ServerLayer::new(tracer.clone()).layer(Answering(server_status));
    let request = Request::get("/")
        .body(Full::new(Bytes::new()))
        .expect("request");
    drop(server.oneshot(request).await.expect("infallible"));
    let client = ClientLayer::new(tracer.clone()).layer(Answering(client_status));
    let request = Request::post("http://backend.local/")
        .body(Full::new(Bytes::new()))
        .expect("request");
    drop(client.oneshot(request).await.expect("infallible"));
    finished(&tracer, &exporter)
}

#[tokio::test]
async fn status_codes_past_599_are_errors_on_both_sides() {
    // Semantic conventions: 5xx "as well as any other code the client failed to interpret"
    // set the span status to Error; `http::StatusCode` (and hyper) accept 600..=999.
    let spans = exchange(600, 799).await;
    let server = named(&spans, "GET");
    assert!(matches!(server.status, Status::Error { .. }), "{server:?}");
    assert_eq!(attr(server, "error.type").as_deref(), Some("600"));
    let client = named(&spans, "POST");
    assert!(matches!(client.status, Status::Error { .. }), "{client:?}");
    assert_eq!(attr(client, "error.type").as_deref(), Some("799"));
}

#[tokio::test]
async fn client_errors_are_errors_only_on_the_client() {
    let spans = exchange(404, 404).await;
    let server = named(&spans, "GET");
    assert_eq!(server.status, Status::Unset);
    assert_eq!(attr(server, "error.type"), None);
    let client = named(&spans, "POST");
    assert!(matches!(client.status, Status::Error { .. }));
    assert_eq!(attr(client, "error.type").as_deref(), Some("404"));
}

#[tokio::test]
async fn client_url_full_carries_no_credentials() {
    // Semantic conventions: `url.full` MUST NOT contain credentials passed in the URL
    // (`REDACTED:REDACTED@` instead), and the values of the listed signature parameters
    // are replaced by `REDACTED`, their keys kept.
    let (tracer, exporter) = tracer();
    let client = ClientLayer::new(tracer.clone()).layer(Answering(200));
    for uri in [
        "https://user:s3cret@storage.local:8443/bucket/o?color=blue&sig=abc%2F&Signature=x",
        "https://token@storage.local/o?AWSAccessKeyId=AKIA&X-Goog-Signature=ff&sig",
        "http://plain.local/chat?q=1",
    ] {
        let request = Request::get(uri)
            .body(Full::new(Bytes::new()))
            .expect("request");
        drop(client.clone().oneshot(request).await.expect("infallible"));
    }
    let spans = finished(&tracer, &exporter);
    let urls: Vec<String> = spans
        .iter()
        .map(|span| attr(span, "url.full").expect("url.full"))
        .collect();
    assert_eq!(
        urls,
        [
            "https://REDACTED:REDACTED@storage.local:8443/bucket/o?color=blue&sig=REDACTED&Signature=REDACTED",
            "https://REDACTED:REDACTED@storage.local/o?AWSAccessKeyId=REDACTED&X-Goog-Signature=REDACTED&sig",
            "http://plain.local/chat?q=1",
        ]
    );
    assert_eq!(
        attr(&spans[0], "server.address").as_deref(),
        Some("storage.local")
    );
}

/// `headers` filled to the most names a header map can hold: one more would panic `insert`
/// and `entry` ("size overflows MAX_SIZE").
fn filled(mut headers: http::HeaderMap) -> http::HeaderMap {
    for i in 0.. {
        let name = http::HeaderName::try_from(format!("x-h{i}")).expect("a valid name");
        if headers
            .try_insert(name, http::HeaderValue::from_static("v"))
            .is_err()
        {
            break;
        }
    }
    headers
}

#[tokio::test]
async fn a_full_header_map_does_not_panic_either_layer() {
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        let mut response = Response::new(Full::new(Bytes::new()));
        *response.headers_mut() = filled(http::HeaderMap::new());
        Ok::<_, Infallible>(response)
    });
    let server = ServerLayer::new(tracer.clone()).layer(handler);
    let response = server
        .oneshot(
            Request::get("/")
                .body(Full::new(Bytes::new()))
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert!(!response.headers().contains_key("x-request-id"));
    drop(response);

    // A full map holding a stale `traceparent`: the client span's replaces it.
    let downstream = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let sent = req
            .headers()
            .get_all("traceparent")
            .iter()
            .collect::<Vec<_>>();
        let mut response = Response::new(Full::new(Bytes::new()));
        if sent.len() != 1 || sent[0] == PARENT {
            *response.status_mut() = StatusCode::BAD_REQUEST;
        }
        Ok::<_, Infallible>(response)
    });
    let client = ClientLayer::new(tracer.clone()).layer(downstream);
    let mut request = Request::get("http://backend.local/")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut headers = http::HeaderMap::new();
    headers.insert("traceparent", http::HeaderValue::from_static(PARENT));
    *request.headers_mut() = filled(headers);
    let cx = RequestId::parse("req-full")
        .expect("valid")
        .in_context(&opentelemetry::Context::new());
    let response = client
        .oneshot(request)
        .with_context(cx)
        .await
        .expect("infallible");
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "one new traceparent sent"
    );

    let spans = finished(&tracer, &exporter);
    let mut kinds: Vec<String> = spans.iter().map(|s| format!("{:?}", s.span_kind)).collect();
    kinds.sort();
    assert_eq!(kinds, ["Client", "Server"], "both spans ended");
}

#[tokio::test]
async fn work_done_while_the_body_streams_is_in_the_request() {
    // A streamed answer (server-sent events of an LLM's tokens) does its work when the body
    // is polled, after the handler's future has returned: its spans belong to the request.
    let (tracer, exporter) = tracer();
    let stream_tracer = tracer.clone();
    let handler = tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let tracer = stream_tracer.clone();
        async move {
            let stream = futures_util::stream::iter(["a", "b"]).map(move |token| {
                drop(tracer.span(format!("token.{token}")).start());
                Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(token)))
            });
            Ok::<_, Infallible>(Response::new(StreamBody::new(stream)))
        }
    });
    let service = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::get("/stream")
        .header("x-request-id", "req-stream")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = service.oneshot(request).await.expect("infallible");
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(body, "ab");
    assert!(
        !opentelemetry::trace::TraceContextExt::has_active_span(&opentelemetry::Context::current()),
        "nothing stays current after the body is polled"
    );

    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "GET");
    for name in ["token.a", "token.b"] {
        let token = named(&spans, name);
        assert!(
            is_child(token, server),
            "{name} is not under the server span"
        );
        assert_eq!(attr(token, "request.id").as_deref(), Some("req-stream"));
    }
}

/// The values of the attributes `a` and `b` on each span, in order.
fn attribute_pairs(
    spans: &[opentelemetry_sdk::trace::SpanData],
    a: &str,
    b: &str,
) -> Vec<(Option<String>, Option<String>)> {
    spans
        .iter()
        .map(|span| (attr(span, a), attr(span, b)))
        .collect()
}

fn some(s: &str) -> Option<String> {
    Some(s.to_owned())
}

#[tokio::test]
async fn client_spans_always_name_the_server_and_its_port() {
    // Semantic conventions: `server.address` and `server.port` are required on CLIENT spans.
    // A URI without a host takes them from `Host`; a port not written is the scheme's.
    let (tracer, exporter) = tracer();
    let client = ClientLayer::new(tracer.clone()).layer(Answering(200));
    let requests = [
        Request::get("https://api.local/v1").body(Full::new(Bytes::new())),
        Request::get("http://[::1]/v1").body(Full::new(Bytes::new())),
        Request::get("/v1")
            .header("host", "backend.local:9000")
            .body(Full::new(Bytes::new())),
        Request::get("/v1")
            .header("host", "backend.local")
            .body(Full::new(Bytes::new())),
        Request::get("/v1").body(Full::new(Bytes::new())),
    ];
    for request in requests {
        let request = request.expect("request");
        drop(client.clone().oneshot(request).await.expect("infallible"));
    }
    let spans = finished(&tracer, &exporter);
    assert_eq!(
        attribute_pairs(&spans, "server.address", "server.port"),
        [
            (some("api.local"), some("443")),
            (some("::1"), some("80")),
            (some("backend.local"), some("9000")),
            // No scheme and no port: the port is not known.
            (some("backend.local"), None),
            (None, None),
        ]
    );
}

#[tokio::test]
async fn server_spans_carry_the_scheme_and_the_redacted_query() {
    let (tracer, exporter) = tracer();
    let plain = ServerLayer::new(tracer.clone()).layer(Answering(200));
    let tls = ServerLayer::new(tracer.clone())
        .scheme("https")
        .layer(Answering(200));
    for (service, uri) in [
        (&plain, "/search?q=rust&sig=abc"),
        (&tls, "/search"),
        (&plain, "https://front.local/absolute?x=1"),
    ] {
        let request = Request::get(uri)
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = service.clone().oneshot(request).await.expect("infallible");
        drop(response.into_body().collect().await);
    }
    let spans = finished(&tracer, &exporter);
    assert_eq!(
        attribute_pairs(&spans, "url.scheme", "url.query"),
        [
            (some("http"), some("q=rust&sig=REDACTED")),
            (some("https"), None),
            // The URI's own scheme wins over the layer's.
            (some("https"), some("x=1")),
        ]
    );
}

/// A request whose server future was polled once, then dropped (the client went away, or a
/// timeout layer outside gave up), before the handler answered.
#[tokio::test]
async fn a_request_cancelled_before_its_response_is_not_a_success() {
    // Semantic conventions: a request that did not complete ends with `error.type` set and
    // an Error status, not as a success without a status code.
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| {
        std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>()
    });
    let mut server = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::get("/slow")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut future = Box::pin(server.ready().await.expect("ready").call(request));
    assert!(
        future.as_mut().now_or_never().is_none(),
        "the handler waits"
    );
    drop(future);

    let downstream = tower::service_fn(|_req: Request<Full<Bytes>>| {
        std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>()
    });
    let mut client = ClientLayer::new(tracer.clone()).layer(downstream);
    let request = Request::post("http://backend.local/slow")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut future = Box::pin(client.ready().await.expect("ready").call(request));
    assert!(future.as_mut().now_or_never().is_none(), "no answer yet");
    drop(future);

    let spans = finished(&tracer, &exporter);
    for name in ["GET", "POST"] {
        let span = named(&spans, name);
        assert!(matches!(span.status, Status::Error { .. }), "{span:?}");
        assert_eq!(attr(span, "error.type").as_deref(), Some("cancelled"));
        assert_eq!(attr(span, "http.response.status_code"), None);
    }
}

#[tokio::test]
async fn a_response_body_dropped_before_its_end_is_not_a_success() {
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        // Two chunks, then a stream that never ends: the client leaves after the first.
        let chunks = futures_util::stream::iter(["a", "b"])
            .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(c))))
            .chain(futures_util::stream::pending());
        Ok::<_, Infallible>(Response::new(StreamBody::new(chunks)))
    });
    let server = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::get("/stream")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut body = server
        .oneshot(request)
        .await
        .expect("infallible")
        .into_body();
    let frame = body.frame().await.expect("a frame").expect("ok");
    assert_eq!(frame.into_data().expect("data"), "a");
    drop(body);

    // A server error's body dropped unread: the status code stays the error.
    let failing = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        let mut response = Response::new(Full::new(Bytes::from("failed")));
        *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        Ok::<_, Infallible>(response)
    });
    let failing = ServerLayer::new(tracer.clone()).layer(failing);
    let request = Request::post("/fail")
        .body(Full::new(Bytes::new()))
        .expect("request");
    drop(failing.oneshot(request).await.expect("infallible"));

    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "GET");
    assert!(matches!(server.status, Status::Error { .. }), "{server:?}");
    assert_eq!(attr(server, "error.type").as_deref(), Some("cancelled"));
    assert_eq!(
        attr(server, "http.response.status_code").as_deref(),
        Some("200"),
        "the head was sent"
    );
    assert_eq!(
        attr(named(&spans, "POST"), "error.type").as_deref(),
        Some("500")
    );
}

#[tokio::test]
async fn bodies_that_are_not_sent_whole_by_design_are_no_error() {
    // An HTTP server drops without polling a body that is already at its end, and the body
    // of a response that has no content (RFC 9110: to HEAD, 1xx, 204, 304, 2xx to CONNECT);
    // it stops polling after trailers, the last frame. None of these is a cancellation.
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|req: Request<Full<Bytes>>| async move {
        let path = req.uri().path().to_owned();
        let body: http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible> = match &*path {
            "/trailers" => {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("x-done", http::HeaderValue::from_static("1"));
                let frames = futures_util::stream::iter([
                    Ok::<_, Infallible>(http_body::Frame::data(Bytes::from("a"))),
                    Ok(http_body::Frame::trailers(trailers)),
                ])
                // Never at its end by `is_end_stream`: the trailers end it.
                .chain(futures_util::stream::pending());
                StreamBody::new(frames).boxed_unsync()
            }
            "/empty" => Full::new(Bytes::new()).boxed_unsync(),
            _ => Full::new(Bytes::from("content")).boxed_unsync(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = match &*path {
            "/no-content" => StatusCode::NO_CONTENT,
            "/not-modified" => StatusCode::NOT_MODIFIED,
            _ => StatusCode::OK,
        };
        Ok::<_, Infallible>(response)
    });
    let server = ServerLayer::new(tracer.clone()).layer(handler);
    let requests = [
        Request::head("/page"),
        Request::get("/empty"),
        Request::get("/no-content"),
        Request::get("/not-modified"),
        Request::connect("backend.local:443"),
    ];
    for request in requests {
        let request = request.body(Full::new(Bytes::new())).expect("request");
        // Dropped unpolled, as a server does with these.
        drop(server.clone().oneshot(request).await.expect("infallible"));
    }
    let request = Request::get("/trailers")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut body = server
        .clone()
        .oneshot(request)
        .await
        .expect("infallible")
        .into_body();
    while let Some(frame) = body.frame().await {
        if frame.expect("ok").is_trailers() {
            break;
        }
    }
    drop(body);

    let spans = finished(&tracer, &exporter);
    assert_eq!(spans.len(), 6);
    for span in &spans {
        assert_eq!(span.status, Status::Unset, "{span:?}");
        assert_eq!(attr(span, "error.type"), None, "{span:?}");
    }
}

#[tokio::test]
async fn a_handler_that_panics_is_recorded_as_a_panic_not_a_cancellation() {
    let (tracer, exporter) = tracer();
    let handler = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        if true {
            panic!("the handler fails");
        }
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let mut server = ServerLayer::new(tracer.clone()).layer(handler);
    let request = Request::get("/")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let mut future = Box::pin(server.ready().await.expect("ready").call(request));
    // As a runtime does: the panic is caught, the future dropped afterwards.
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        future.as_mut().now_or_never()
    }));
    assert!(caught.is_err(), "the handler panicked");
    drop(future);

    let spans = finished(&tracer, &exporter);
    let server = named(&spans, "GET");
    assert!(matches!(server.status, Status::Error { .. }), "{server:?}");
    assert_eq!(attr(server, "error.type").as_deref(), Some("panic"));
}
