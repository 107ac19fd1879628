//! The in-process OTLP/HTTP receiver: a hyper server on its own thread and tokio runtime.

use std::convert::Infallible;
use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::sync::oneshot;

use crate::reply::Reply;
use crate::request::{Encoding, RecordedRequest};

/// A fake OTLP/HTTP collector for tests.
///
/// It listens on `127.0.0.1` at a port the OS picks, serves every path, records each request
/// (see [`RecordedRequest`]) and answers from a script of [`Reply`]s: the first request gets
/// the first reply, and so on; once the script runs out, its last reply is repeated (an empty
/// script answers `200`). It runs on its own thread with its own tokio runtime, so it works
/// from synchronous tests and from inside other runtimes alike, and it stops when dropped.
///
/// ```
/// use std::time::Duration;
/// use hivetrace_tests::Receiver;
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // The first request is refused as overloaded, every later one accepted.
/// let receiver = Receiver::with_responses([503, 200]);
/// let tracer = hivetrace::Tracer::builder().endpoint(receiver.traces_url()).build()?;
/// tracer.span("work").start().end();
/// tracer.force_flush()?;
///
/// let spans = receiver.wait_for_spans(1, Duration::from_secs(10))?;
/// assert_eq!(spans[0].name, "work");
/// let statuses: Vec<u16> = receiver.requests().iter().map(|r| r.status()).collect();
/// assert_eq!(statuses, [503, 200]);
/// # Ok(()) }
/// ```
pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Receiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let log = self.shared.lock();
        f.debug_struct("Receiver")
            .field("addr", &self.addr)
            .field("requests", &log.requests.len())
            .field("script", &log.script)
            .finish_non_exhaustive()
    }
}

/// State shared by the server thread and the test.
struct Shared {
    log: Mutex<Log>,
    /// Signalled whenever a request is recorded.
    arrived: Condvar,
}

struct Log {
    requests: Vec<RecordedRequest>,
    script: Vec<Reply>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Log> {
        // A test that panicked while holding the lock left consistent data: keep serving.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The reply for the next request, by how many came before it.
    fn next_reply(log: &Log) -> Reply {
        let n = log.requests.len();
        log.script
            .get(n)
            .or_else(|| log.script.last())
            .copied()
            .unwrap_or_default()
    }
}

impl Receiver {
    /// Starts a receiver that accepts every request.
    ///
    /// # Panics
    ///
    /// If no local port can be bound or no thread started; see [`Receiver::try_start`].
    pub fn start() -> Receiver {
        Receiver::with_responses(std::iter::empty::<Reply>())
    }

    /// Starts a receiver that answers from `replies` (status codes or [`Reply`]s), in order,
    /// repeating the last one.
    ///
    /// # Panics
    ///
    /// If no local port can be bound or no thread started; see
    /// [`Receiver::try_with_responses`].
    pub fn with_responses<R: Into<Reply>>(replies: impl IntoIterator<Item = R>) -> Receiver {
        Receiver::try_with_responses(replies).expect("the test receiver could not start")
    }

    /// Like [`Receiver::start`], returning the I/O error instead of panicking.
    pub fn try_start() -> std::io::Result<Receiver> {
        Receiver::try_with_responses(std::iter::empty::<Reply>())
    }

    /// Like [`Receiver::with_responses`], returning the I/O error instead of panicking.
    pub fn try_with_responses<R: Into<Reply>>(
        replies: impl IntoIterator<Item = R>,
    ) -> std::io::Result<Receiver> {
        Receiver::try_on_port(0, replies)
    }

    /// Starts a receiver on `127.0.0.1:port` (0: any free port), answering from `replies`:
    /// to bring a backend back where an exporter already points (after
    /// [`closed_port`](crate::closed_port), or a receiver dropped to simulate an outage).
    ///
    /// ```
    /// use hivetrace_tests::{closed_port, Receiver};
    /// let port = closed_port();
    /// let receiver = Receiver::try_on_port(port, [200]).expect("the port is free");
    /// assert_eq!(receiver.addr().port(), port);
    /// ```
    pub fn try_on_port<R: Into<Reply>>(
        port: u16,
        replies: impl IntoIterator<Item = R>,
    ) -> std::io::Result<Receiver> {
        let listener = StdListener::bind((Ipv4Addr::LOCALHOST, port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let shared = Arc::new(Shared {
            log: Mutex::new(Log {
                requests: Vec::new(),
                script: replies.into_iter().map(Into::into).collect(),
            }),
            arrived: Condvar::new(),
        });
        let (stop, stopped) = oneshot::channel();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("otlp-receiver-{}", addr.port()))
            .spawn(move || {
                // Dropping the runtime at the end of the thread cancels open connections.
                runtime.block_on(serve(listener, server_shared, stopped));
            })?;
        Ok(Receiver {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The base URL, `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OTLP/HTTP traces URL under [`url`](Receiver::url): `http://127.0.0.1:PORT/v1/traces`.
    pub fn traces_url(&self) -> String {
        format!("{}/v1/traces", self.url())
    }

    /// The address the receiver listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request received so far, in arrival order, accepted or not.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The spans of every request the receiver accepted (answered 2xx), in arrival order.
    ///
    /// A batch that was refused and then retried counts once; spans in refused requests are
    /// in [`requests`](Receiver::requests).
    pub fn spans(&self) -> Vec<Span> {
        accepted_spans(&self.shared.lock())
    }

    /// Waits until at least `n` requests have arrived, or `timeout` passes; returns them all.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, WaitTimeout> {
        self.wait_until("requests", n, timeout, |log| log.requests.len())
            .map(|log| log.requests.clone())
    }

    /// Waits until at least `n` spans have been accepted, or `timeout` passes; returns them
    /// all (see [`spans`](Receiver::spans)).
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Result<Vec<Span>, WaitTimeout> {
        self.wait_until("accepted spans", n, timeout, |log| {
            accepted_spans_count(log)
        })
        .map(|log| accepted_spans(&log))
    }

    fn wait_until(
        &self,
        what: &'static str,
        wanted: usize,
        timeout: Duration,
        count: impl Fn(&Log) -> usize,
    ) -> Result<MutexGuard<'_, Log>, WaitTimeout> {
        let start = Instant::now();
        let deadline = start + timeout;
        let mut log = self.shared.lock();
        loop {
            let got = count(&log);
            if got >= wanted {
                return Ok(log);
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(WaitTimeout {
                    what,
                    wanted,
                    got,
                    waited: now - start,
                    requests: log.requests.len(),
                });
            }
            log = self
                .shared
                .arrived
                .wait_timeout(log, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn accepted_spans(log: &Log) -> Vec<Span> {
    log.requests
        .iter()
        .filter(|r| r.accepted())
        .flat_map(|r| r.spans().cloned())
        .collect()
}

fn accepted_spans_count(log: &Log) -> usize {
    log.requests
        .iter()
        .filter(|r| r.accepted())
        .map(|r| r.spans().count())
        .sum()
}

/// A wait on the [`Receiver`] ran out of time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitTimeout {
    what: &'static str,
    wanted: usize,
    got: usize,
    waited: Duration,
    requests: usize,
}

impl WaitTimeout {
    /// How many were wanted.
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// How many had arrived when time ran out.
    pub fn got(&self) -> usize {
        self.got
    }
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "waited {:?} for {} {}, got {} (from {} requests)",
            self.waited, self.wanted, self.what, self.got, self.requests
        )
    }
}

impl std::error::Error for WaitTimeout {}

/// Accepts connections until `stopped` fires.
async fn serve(listener: StdListener, shared: Arc<Shared>, mut stopped: oneshot::Receiver<()>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        // Without a listener every request fails to connect, which the test will report.
        Err(_) => return,
    };
    loop {
        tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |req| handle(Arc::clone(&shared), req));
                    // A client that hangs up mid-request is not the receiver's failure.
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

/// Records one request and answers it from the script.
async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return Ok(text(
                StatusCode::BAD_REQUEST,
                format!("unreadable body: {e}"),
            ));
        }
    };
    let recorded = RecordedRequest::new(parts.method, &parts.uri, parts.headers, body);
    let encoding = recorded.encoding();
    let reply = {
        let mut log = shared.lock();
        let reply = Shared::next_reply(&log);
        log.requests.push(recorded.answered(reply.code()));
        reply
    };
    shared.arrived.notify_all();
    if reply.hangs() {
        // Until the client hangs up or the receiver stops (its runtime drops this task).
        std::future::pending::<()>().await;
    }
    if !reply.delay().is_zero() {
        tokio::time::sleep(reply.delay()).await;
    }

    let status = StatusCode::from_u16(reply.code()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = if reply.is_success() {
        success(status, encoding)
    } else {
        text(status, format!("scripted {}", status.as_u16()))
    };
    if let Some(seconds) = reply.retry_after_seconds() {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}

/// An empty `ExportTraceServiceResponse` (no partial success) in the request's encoding.
fn success(status: StatusCode, encoding: Encoding) -> Response<Full<Bytes>> {
    let (content_type, body) = match encoding {
        Encoding::Json => ("application/json", Bytes::from_static(b"{}")),
        Encoding::Protobuf | Encoding::Unknown => (
            "application/x-protobuf",
            Bytes::from(ExportTraceServiceResponse::default().encode_to_vec()),
        ),
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn text(status: StatusCode, message: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(message)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_is_followed_then_its_last_reply_repeats() {
        let log = |n: usize, script: Vec<Reply>| Log {
            requests: (0..n)
                .map(|_| {
                    RecordedRequest::new(
                        hyper::Method::POST,
                        &hyper::Uri::from_static("/"),
                        hyper::HeaderMap::new(),
                        Bytes::new(),
                    )
                })
                .collect(),
            script,
        };
        let script = vec![Reply::status(503), Reply::status(429), Reply::ok()];
        let codes: Vec<u16> = (0..5)
            .map(|n| Shared::next_reply(&log(n, script.clone())).code())
            .collect();
        assert_eq!(codes, [503, 429, 200, 200, 200]);
        assert_eq!(
            Shared::next_reply(&log(3, vec![Reply::status(500)])).code(),
            500
        );
        assert_eq!(Shared::next_reply(&log(0, Vec::new())).code(), 200);
    }
}
