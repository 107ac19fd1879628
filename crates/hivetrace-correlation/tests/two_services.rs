//! Two services over real HTTP on 127.0.0.1, each with its own tracer (as two processes would
//! be): one trace, the request id and the session id on every span of both, the request id
//! echoed over the wire, and the server span ended only when a streamed body has been sent.
#![cfg(feature = "tower")]

mod support;

use std::convert::Infallible;
use std::future::poll_fn;
use std::net::SocketAddr;

use bytes::Bytes;
use futures_util::StreamExt;
use hivetrace_core::Instrument;
use hivetrace_correlation::tower::{ClientLayer, ServerLayer};
use hivetrace_correlation::{RequestId, Session, spawn};
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use opentelemetry::Context;
use opentelemetry::trace::SpanKind;
use support::{attr, finished, is_child, named, tracer};
use tokio::net::{TcpListener, TcpStream};
use tower::{Layer, Service, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Serves `service` on an ephemeral local port until the test's runtime ends.
async fn serve<S, B>(service: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a local port");
    let addr = listener.local_addr().expect("bound");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let mut service = service.clone();
                    async move {
                        poll_fn(|cx| service.poll_ready(cx)).await?;
                        service.call(req).await
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

/// An HTTP/1 client service: one connection per request, the body read whole.
async fn send(req: Request<Full<Bytes>>) -> Result<Response<Bytes>, BoxError> {
    let authority = req.uri().authority().ok_or("no host")?.to_string();
    let stream = TcpStream::connect(&authority).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let response = sender.send_request(req).await?;
    let (parts, body) = response.into_parts();
    Ok(Response::from_parts(
        parts,
        body.collect().await?.to_bytes(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_trace_and_both_ids_across_two_services() {
    let (front_tracer, front_spans) = tracer();
    let (back_tracer, back_spans) = tracer();

    // back: two concurrent tasks, then a body streamed in three chunks.
    let tasks_tracer = back_tracer.clone();
    let back = tower::service_fn(move |_req: Request<Incoming>| {
        let tracer = tasks_tracer.clone();
        async move {
            let step = |name: &'static str| {
                let tracer = tracer.clone();
                spawn(async move {
                    let span = tracer.span(name).start();
                    async { tokio::task::yield_now().await }
                        .instrument(span)
                        .await;
                })
            };
            let (a, b) = tokio::join!(step("retrieve"), step("rank"));
            a.and(b).expect("tasks finish");
            let chunks = futures_util::stream::iter(["one ", "two ", "three"])
                .map(|c| Ok::<_, Infallible>(http_body::Frame::data(Bytes::from(c))));
            Ok::<_, Infallible>(Response::new(StreamBody::new(chunks)))
        }
    });
    let back_addr = serve(ServerLayer::new(back_tracer.clone()).layer(back)).await;

    // front: calls back through the client layer.
    let client_tracer = front_tracer.clone();
    let front = tower::service_fn(move |_req: Request<Incoming>| {
        let client = ClientLayer::new(client_tracer.clone()).layer(tower::service_fn(send));
        async move {
            let request = Request::get(format!("http://{back_addr}/context"))
                .body(Full::new(Bytes::new()))?;
            let answer = client.oneshot(request).await?.into_body();
            Ok::<_, BoxError>(Response::new(Full::new(answer)))
        }
    });
    let front_addr = serve(ServerLayer::new(front_tracer.clone()).layer(front)).await;

    // The caller: a session, a request id, a root span.
    let session = Session::builder().id("sess-9").expect("valid").build();
    let request_id = RequestId::parse("req-9").expect("valid");
    let cx = request_id.in_context(&session.context(&Context::new()));
    let root = front_tracer.span("caller").parent(&cx).start();
    let client = ClientLayer::new(front_tracer.clone()).layer(tower::service_fn(send));
    let request = Request::get(format!("http://{front_addr}/ask"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = client
        .oneshot(request)
        .with_context(root.context().clone())
        .await
        .expect("the call succeeds");
    drop(root);
    assert_eq!(response.body(), "one two three");
    assert_eq!(response.headers()["x-request-id"], "req-9");

    let front = finished(&front_tracer, &front_spans);
    let back = finished(&back_tracer, &back_spans);
    assert_eq!(
        front.len(),
        4,
        "caller, its client span, front server, front client"
    );
    assert_eq!(back.len(), 3, "back server and two tasks");
    let trace_id = front[0].span_context.trace_id();
    for span in front.iter().chain(&back) {
        assert_eq!(span.span_context.trace_id(), trace_id, "{}", span.name);
        assert_eq!(
            attr(span, "request.id").as_deref(),
            Some("req-9"),
            "{}",
            span.name
        );
        assert_eq!(
            attr(span, "session.id").as_deref(),
            Some("sess-9"),
            "{}",
            span.name
        );
        assert_eq!(
            attr(span, "honeyhive.session_id").as_deref(),
            Some("sess-9"),
            "{}",
            span.name
        );
        // Every exchange completed over the wire: none ends as cancelled.
        assert_eq!(attr(span, "error.type"), None, "{}", span.name);
    }
    let back_server = back
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("a server span");
    let front_client = front
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .find(|c| c.span_context.span_id() == back_server.parent_span_id)
        .expect("the back's server span is a child of a front client span");
    let front_server = front
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("a server span");
    assert!(is_child(front_client, front_server));
    assert!(is_child(named(&back, "retrieve"), back_server));
    assert!(is_child(named(&back, "rank"), back_server));
    assert!(
        back_server.end_time >= named(&back, "rank").end_time,
        "the server span ends after the work, with the body"
    );
}
