//! A `/metrics` server on tokio and hyper.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::Sleep;

use crate::endpoint_http::MetricsEndpoint;
use crate::error::{Error, Result};

/// The pause after a failed `accept`.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// How long [`MetricsServer::shutdown`] waits for scrapes in progress.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// How long a connection may take to send a request's headers before it is closed, so clients
/// that open connections and go quiet do not hold them (and their descriptors) for ever.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a response may wait on a client that reads none of it before the connection is
/// closed: a client that stops reading would otherwise hold its connection, and a copy of the
/// exposition, until shutdown. A client that goes on reading, however slowly, is not cut off;
/// an idle keep-alive connection has nothing to write and is not affected.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);

/// An HTTP/1 server answering `GET /metrics` with the exposition of a registry: OpenMetrics
/// (exemplars included) when the client accepts it, as Prometheus does, else the classic text
/// format ([`MetricsEndpoint::response_for`]); `404` elsewhere, `405` for other methods. Runs
/// on the tokio runtime it is bound in.
///
/// ```
/// use hivetrace_metrics::{MetricsProcessor, MetricsServer};
/// use prometheus_client::registry::Registry;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let metrics = MetricsProcessor::builder().build()?;
/// let mut registry = Registry::default();
/// metrics.register(&mut registry);
/// // Port 0 picks a free port; production uses e.g. "0.0.0.0:9464".
/// let server = MetricsServer::bind("127.0.0.1:0", registry).await?;
/// println!("scrape http://{}/metrics", server.local_addr());
/// server.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    runner: Runner,
}

/// Where the server runs.
#[derive(Debug)]
enum Runner {
    /// A task on the caller's runtime ([`MetricsServer::bind`]).
    Task(JoinHandle<()>),
    /// A thread with its own runtime ([`MetricsServer::start`]).
    Thread(std::thread::JoinHandle<()>),
}

impl MetricsServer {
    /// Listens on `addr` (`"127.0.0.1:9464"`, `"0.0.0.0:9464"`, `"[::1]:0"`) and serves
    /// `metrics` (a `Registry`, an `Arc<Registry>` or a [`MetricsEndpoint`]).
    ///
    /// Must be called inside a tokio runtime. Fails if the address cannot be bound.
    pub async fn bind(addr: &str, metrics: impl Into<MetricsEndpoint>) -> Result<MetricsServer> {
        let endpoint = metrics.into();
        let listener = TcpListener::bind(addr).await.map_err(|source| Error::Io {
            address: addr.to_owned(),
            source,
        })?;
        let local_addr = listener.local_addr().map_err(|source| Error::Io {
            address: addr.to_owned(),
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(serve(listener, endpoint, stopped));
        Ok(MetricsServer {
            local_addr,
            stop,
            runner: Runner::Task(task),
        })
    }

    /// Like [`bind`](Self::bind), for programs without a tokio runtime: the server runs on a
    /// thread of its own (`hivetrace-metrics`) with a single-threaded runtime. Stop it with
    /// [`shutdown_blocking`](Self::shutdown_blocking).
    ///
    /// ```
    /// use hivetrace_metrics::MetricsServer;
    /// use prometheus_client::registry::Registry;
    ///
    /// # fn main() -> Result<(), hivetrace_metrics::Error> {
    /// let server = MetricsServer::start("127.0.0.1:0", Registry::default())?;
    /// assert!(server.url().ends_with("/metrics"));
    /// server.shutdown_blocking();
    /// # Ok(()) }
    /// ```
    pub fn start(addr: &str, metrics: impl Into<MetricsEndpoint>) -> Result<MetricsServer> {
        let endpoint = metrics.into();
        let io = |source| Error::Io {
            address: addr.to_owned(),
            source,
        };
        let listener = std::net::TcpListener::bind(addr).map_err(io)?;
        listener.set_nonblocking(true).map_err(io)?;
        let local_addr = listener.local_addr().map_err(io)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(io)?;
        let (stop, stopped) = watch::channel(false);
        let thread = std::thread::Builder::new()
            .name("hivetrace-metrics".into())
            .spawn(move || {
                runtime.block_on(async move {
                    // Registering with the reactor needs the runtime, hence here.
                    if let Ok(listener) = TcpListener::from_std(listener) {
                        serve(listener, endpoint, stopped).await;
                    }
                });
            })
            .map_err(io)?;
        Ok(MetricsServer {
            local_addr,
            stop,
            runner: Runner::Thread(thread),
        })
    }

    /// The address the server listens on (with the port chosen when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The scrape URL, `http://<addr>/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.local_addr)
    }

    /// Stops accepting connections, lets scrapes in progress finish (at most
    /// [`SHUTDOWN_GRACE`]), and returns when the server is gone. Dropping the server stops
    /// it too, without waiting.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        match self.runner {
            Runner::Task(task) => {
                let _ = task.await;
            }
            Runner::Thread(thread) => {
                let _ = tokio::task::spawn_blocking(move || thread.join()).await;
            }
        }
    }

    /// [`shutdown`](Self::shutdown) for code outside an async context. For a server from
    /// [`start`](Self::start) it returns when the server's thread has ended; for one from
    /// [`bind`](Self::bind) it only asks the server to stop, which its runtime completes.
    pub fn shutdown_blocking(self) {
        let _ = self.stop.send(true);
        if let Runner::Thread(thread) = self.runner {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: TcpListener,
    endpoint: MetricsEndpoint,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // An accept error (out of file descriptors, a reset before accept) concerns one
                // connection; the server goes on, after a pause so that a lasting error (no
                // descriptors left) does not spin.
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                };
                let endpoint = endpoint.clone();
                let mut stopped = stopped.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| {
                        let response = respond(&endpoint, &request);
                        async move { Ok::<_, Infallible>(response) }
                    });
                    // hyper enforces the header read timeout only with a timer set.
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(HEADER_READ_TIMEOUT)
                        .serve_connection(
                            TokioIo::new(WriteDeadline::new(stream, WRITE_TIMEOUT)),
                            service,
                        );
                    tokio::pin!(connection);
                    tokio::select! {
                        _ = connection.as_mut() => {}
                        _ = stopped.changed() => {
                            connection.as_mut().graceful_shutdown();
                            let _ = connection.await;
                        }
                    }
                });
            }
            // A stop request, or the server handle dropped.
            _ = stopped.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(SHUTDOWN_GRACE, drain).await.is_err() {
        connections.shutdown().await;
    }
}

fn respond(endpoint: &MetricsEndpoint, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let status_only = |status: StatusCode, text: &'static str| {
        let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
        *response.status_mut() = status;
        response
    };
    if request.uri().path() != "/metrics" {
        return status_only(
            StatusCode::NOT_FOUND,
            "not found: metrics are at /metrics\n",
        );
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let mut response = status_only(StatusCode::METHOD_NOT_ALLOWED, "use GET\n");
        response
            .headers_mut()
            .insert(header::ALLOW, http::HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    endpoint
        .response_for(accept)
        .map(|body| Full::new(Bytes::from(body)))
}

/// A stream whose writes fail with `TimedOut` when they make no progress for `timeout`.
struct WriteDeadline<S> {
    inner: S,
    timeout: Duration,
    /// Armed when a write first waits, disarmed by any progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    fn new(inner: S, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            stalled: None,
        }
    }

    /// `poll` from the inner stream, or `TimedOut` once it has been pending for the timeout.
    fn bounded<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if stalled.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.stalled = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of the response within the write timeout",
        )))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.bounded(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.bounded(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.bounded(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.bounded(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const RESPONSE: usize = 1024;

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_nothing_is_cut_off() {
        let (server, _client) = tokio::io::duplex(64);
        let mut server = WriteDeadline::new(server, WRITE_TIMEOUT);
        let written = tokio::time::timeout(WRITE_TIMEOUT * 10, server.write_all(&[b'x'; RESPONSE]))
            .await
            .expect("the write ends by itself, within the write timeout");
        let error = written.expect_err("nobody reads");
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
    }

    #[tokio::test(start_paused = true)]
    async fn a_client_that_reads_slowly_is_served_in_full() {
        let (server, mut client) = tokio::io::duplex(64);
        let mut server = WriteDeadline::new(server, WRITE_TIMEOUT);
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut chunk = [0u8; 64];
            loop {
                // Each read comes most of a timeout after the last: the whole response takes
                // many timeouts, but every write progresses within one.
                tokio::time::sleep(WRITE_TIMEOUT * 2 / 3).await;
                match client.read(&mut chunk).await.expect("read") {
                    0 => break got,
                    n => got.extend_from_slice(&chunk[..n]),
                }
            }
        });
        server
            .write_all(&[b'x'; RESPONSE])
            .await
            .expect("a reading client is not cut off");
        server.shutdown().await.expect("shutdown");
        drop(server);
        let got = reader.await.expect("the reader ends");
        assert_eq!(got.len(), RESPONSE);
    }
}
