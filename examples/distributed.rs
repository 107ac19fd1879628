//! One trace across two HTTP services, with the request id and the session id on every span.
//!
//! A `front` and a `back` service run on 127.0.0.1 in this process (hyper, traced by
//! `ServerLayer`). The program calls `front` in a user session; `front` calls `back` through
//! `ClientLayer`, which injects `traceparent` and `baggage`; `back` fans out to two tasks.
//! Every span lands in one trace, printed as a tree.
//!
//! `cargo run -p hivetrace-examples --example distributed`
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::collections::HashMap;
use std::future::poll_fn;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use hivetrace::exporter::Exporter;
use hivetrace::otel::opentelemetry::trace::{SpanId, SpanKind};
use hivetrace::otel::opentelemetry::{Context, Value};
use hivetrace::otel::opentelemetry_sdk::error::OTelSdkResult;
use hivetrace::otel::opentelemetry_sdk::trace::{SpanData, SpanExporter};
use hivetrace::{BatchConfig, EventType, Instrument, Tracer};
use hivetrace_correlation::tower::{ClientLayer, ServerLayer};
use hivetrace_correlation::{BaggageSpanProcessor, RequestId, Session, spawn};
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tower_layer::Layer;
use tower_service::Service;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let collected = Collected::default();
    let tracer = Tracer::builder()
        .service_name("distributed-demo")
        .exporter(Exporter::custom(collected.clone()))
        .observer(BaggageSpanProcessor::new())
        .batch(BatchConfig::default().scheduled_delay(Duration::from_millis(100)))
        .build()?;

    // back: fans out to two tasks that run concurrently under the request's span.
    let back_tracer = tracer.clone();
    let back = tower_service_fn(move |_req: Request<Incoming>| {
        let tracer = back_tracer.clone();
        async move {
            let step = |name: &'static str| {
                let tracer = tracer.clone();
                spawn(async move {
                    let span = tracer.span(name).event_type(EventType::Tool).start();
                    async { tokio::task::yield_now().await }
                        .instrument(span)
                        .await;
                    name
                })
            };
            let (docs, ranked) = tokio::join!(step("retrieve_documents"), step("rank_documents"));
            let body = format!("{} + {}", docs?, ranked?);
            Ok::<_, BoxError>(Response::new(Full::new(Bytes::from(body))))
        }
    });
    let back_addr = serve(
        ServerLayer::new(tracer.clone())
            .route(fixed_route)
            .layer(back),
    )
    .await?;

    // front: plans, then calls back through the client layer.
    let front_tracer = tracer.clone();
    let front = tower_service_fn(move |_req: Request<Incoming>| {
        let tracer = front_tracer.clone();
        async move {
            drop(
                tracer
                    .span("plan_answer")
                    .event_type(EventType::Chain)
                    .start(),
            );
            let mut client = ClientLayer::new(tracer.clone()).layer(HttpClient);
            let request = Request::get(format!("http://{back_addr}/context"))
                .body(Full::new(Bytes::new()))?;
            poll_fn(|cx| client.poll_ready(cx)).await?;
            let answer = client.call(request).await?.into_body();
            Ok::<_, BoxError>(Response::new(Full::new(Bytes::from(format!(
                "answer from [{answer}]"
            )))))
        }
    });
    let front_addr = serve(
        ServerLayer::new(tracer.clone())
            .route(fixed_route)
            .layer(front),
    )
    .await?;

    // The user's request, in a session.
    let session = Session::builder()
        .name("support-chat")
        .user_property("plan", "pro")
        .build();
    let request_id = RequestId::generate();
    let cx = request_id.in_context(&session.context(&Context::new()));
    let root = {
        let _in_session = cx.clone().attach();
        session.start_root(&tracer)
    };
    let mut client = ClientLayer::new(tracer.clone()).layer(HttpClient);
    let answer = async {
        poll_fn(|cx| client.poll_ready(cx)).await?;
        let request =
            Request::get(format!("http://{front_addr}/ask")).body(Full::new(Bytes::new()))?;
        client.call(request).await
    }
    .with_context(root.context().clone())
    .await?;
    drop(root);
    println!("response: {}", answer.body());
    println!("request id {request_id}, session id {}\n", session.id());

    tracer.force_flush()?;
    let spans = collected.take();
    print_tree(&spans);

    let trace_ids: std::collections::HashSet<_> =
        spans.iter().map(|s| s.span_context.trace_id()).collect();
    let complete = spans.iter().all(|s| {
        text(s, "request.id").as_deref() == Some(request_id.as_str())
            && text(s, "session.id").as_deref() == Some(session.id())
    });
    if trace_ids.len() != 1 || spans.len() != 8 || !complete {
        return Err(format!(
            "expected 8 spans in one trace, each with both ids; got {} spans in {} traces",
            spans.len(),
            trace_ids.len()
        )
        .into());
    }
    tracer.shutdown()?;
    Ok(())
}

/// This demo's paths have no parameters, so each path is its own route. A real service maps
/// `/users/42` to `/users/{id}` here, keeping span names low-cardinality.
fn fixed_route(_: &http::Method, uri: &http::Uri) -> Option<std::borrow::Cow<'static, str>> {
    Some(uri.path().to_owned().into())
}

/// Serves `service` on an ephemeral 127.0.0.1 port until the program ends.
async fn serve<S, B>(service: S) -> Result<SocketAddr, BoxError>
where
    S: Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = service.clone();
            tokio::spawn(async move {
                let hyper_service = hyper::service::service_fn(move |req| {
                    let mut service = service.clone();
                    async move {
                        poll_fn(|cx| service.poll_ready(cx)).await?;
                        service.call(req).await
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// A minimal HTTP/1 client service: one connection per request, the body read whole.
#[derive(Clone, Debug)]
struct HttpClient;

impl Service<Request<Full<Bytes>>> for HttpClient {
    type Response = Response<String>;
    type Error = BoxError;
    type Future = std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Response<String>, BoxError>> + Send>,
    >;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), BoxError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Full<Bytes>>) -> Self::Future {
        Box::pin(async move {
            let authority = req.uri().authority().ok_or("no host in URI")?.to_string();
            let stream = TcpStream::connect(&authority).await?;
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
            tokio::spawn(connection);
            let (mut parts, body) = req.into_parts();
            parts.headers.insert(http::header::HOST, authority.parse()?);
            let response = sender
                .send_request(Request::from_parts(parts, body))
                .await?;
            let (parts, body) = response.into_parts();
            let bytes = body.collect().await?.to_bytes();
            Ok(Response::from_parts(
                parts,
                String::from_utf8_lossy(&bytes).into_owned(),
            ))
        })
    }
}

/// `tower::service_fn` without the tower dependency.
fn tower_service_fn<F>(f: F) -> ServiceFn<F> {
    ServiceFn(f)
}

#[derive(Clone)]
struct ServiceFn<F>(F);

impl<F, Fut, Req, Res, E> Service<Req> for ServiceFn<F>
where
    F: FnMut(Req) -> Fut,
    Fut: std::future::Future<Output = Result<Res, E>>,
{
    type Response = Res;
    type Error = E;
    type Future = Fut;

    fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), E>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Req) -> Fut {
        (self.0)(req)
    }
}

/// Keeps every exported span, to print them together.
#[derive(Clone, Debug, Default)]
struct Collected(Arc<Mutex<Vec<SpanData>>>);

impl Collected {
    fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
}

impl SpanExporter for Collected {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend(batch);
        Ok(())
    }
}

fn text(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| match &kv.value {
            Value::String(s) => s.as_str().to_owned(),
            other => other.to_string(),
        })
}

fn print_tree(spans: &[SpanData]) {
    let mut children: HashMap<SpanId, Vec<&SpanData>> = HashMap::new();
    let ids: std::collections::HashSet<SpanId> =
        spans.iter().map(|s| s.span_context.span_id()).collect();
    let mut roots = Vec::new();
    for span in spans {
        if ids.contains(&span.parent_span_id) {
            children.entry(span.parent_span_id).or_default().push(span);
        } else {
            roots.push(span);
        }
    }
    for list in children.values_mut() {
        list.sort_by_key(|s| s.start_time);
    }
    if let Some(first) = spans.first() {
        println!("trace {}", first.span_context.trace_id());
    }
    fn walk(span: &SpanData, depth: usize, children: &HashMap<SpanId, Vec<&SpanData>>) {
        let kind = match span.span_kind {
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            _ => "internal",
        };
        let label = format!("{}{} ({kind})", "  ".repeat(depth), span.name);
        println!(
            "{label:<44} request.id={} session.id={}",
            text(span, "request.id").unwrap_or_else(|| "-".into()),
            text(span, "session.id").unwrap_or_else(|| "-".into()),
        );
        for child in children
            .get(&span.span_context.span_id())
            .into_iter()
            .flatten()
        {
            walk(child, depth + 1, children);
        }
    }
    for root in roots {
        walk(root, 0, &children);
    }
}
