//! Span export that survives a backend outage, and a traced retry around a flaky call.
//!
//! A local stand-in for an OTLP/HTTP backend starts "down" (every request answered 503 with
//! `Retry-After`). The program traces 20 requests: the first batch fails, the breaker opens,
//! and the rest wait in memory and in a disk spool instead of hammering the backend. Then the
//! backend comes back, the breaker lets a trial through after its wait, and everything that
//! waited is delivered, oldest first. The counts show where every span went.
//!
//! ```text
//! cargo run --example resilient_export
//! ```
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use hivetrace::exporter::{Exporter, OtlpExporter, Protocol};
use hivetrace::{BatchConfig, Tracer};
use hivetrace_resilience::exporter::ResilientExporter;
use hivetrace_resilience::retry::{Backoff, RetryPolicy, retry};
use hivetrace_resilience::{CircuitBreaker, SlidingWindow};

/// A stand-in backend: 503 + `Retry-After: 1` while down, 200 while up.
struct Backend {
    up: AtomicBool,
    accepted: AtomicU64,
}

fn serve(stream: TcpStream, backend: Arc<Backend>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply: &[u8] = if backend.up.load(Ordering::SeqCst) {
            backend.accepted.fetch_add(1, Ordering::SeqCst);
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n"
        } else {
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\ncontent-length: 0\r\n\r\n"
        };
        if reader.get_mut().write_all(reply).is_err() {
            return;
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Requests traced while the backend is down; with the `llm_call` span, every span to deliver.
const REQUESTS: u64 = 20;

fn run() -> Result<(), Box<dyn std::error::Error>> {
    // This run's own spool: a leftover of an earlier process with the same id would be replayed.
    let spool = std::env::temp_dir().join(format!("hivetrace-spool-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&spool);
    let result = outage_and_recovery(&spool);
    let _ = std::fs::remove_dir_all(&spool);
    result
}

fn outage_and_recovery(spool: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    let backend = Arc::new(Backend {
        up: AtomicBool::new(false),
        accepted: AtomicU64::new(0),
    });
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    let url = format!("http://{}/v1/traces", listener.local_addr()?);
    let server = Arc::clone(&backend);
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let backend = Arc::clone(&server);
            std::thread::spawn(move || serve(stream, backend));
        }
    });

    let otlp = OtlpExporter::new(&url, Protocol::HttpProtobuf, &[], Duration::from_secs(5))?;
    let breaker = CircuitBreaker::builder("backend")
        .sliding_window(SlidingWindow::Count(5))
        .minimum_calls(1)
        .half_open_permits(1)
        .wait_in_open(Duration::from_secs(1))
        .build()?;
    let exporter = ResilientExporter::builder(otlp)
        .breaker(breaker)
        .retry(RetryPolicy::new(1)?)
        .buffer(10, 1 << 20) // small, so the spool takes the rest
        .spool(spool)
        .build()?;
    let handle = exporter.handle();
    let tracer = Tracer::builder()
        .service_name("resilient-export-example")
        .exporter(Exporter::custom(exporter))
        .batch(BatchConfig::default().max_export_batch_size(5))
        .build()?;

    println!("backend down: tracing {REQUESTS} requests");
    for i in 0..REQUESTS {
        tracer.in_span(format!("request-{i}"), || ());
    }
    let _ = tracer.force_flush();
    let outage = handle.stats();
    println!(
        "  breaker {}; in memory {} spans, spooled {} spans, dropped {}",
        handle.breaker().state(),
        outage.pending_memory_spans,
        outage.spooled,
        outage.dropped()
    );

    // A flaky call, retried; every attempt is an event on the span.
    let policy = RetryPolicy::new(3)?.backoff(Backoff::exponential(Duration::from_millis(20)));
    let attempts = AtomicU64::new(0);
    let answer = tracer.in_span("llm_call", || {
        local_executor::block_on(retry(&policy, || async {
            match attempts.fetch_add(1, Ordering::SeqCst) {
                0 => Err("rate limited"),
                _ => Ok("Paris"),
            }
        }))
    });
    println!(
        "a flaky call answered {answer:?} after {} attempts",
        attempts.load(Ordering::SeqCst)
    );

    println!("backend up again; waiting out the breaker's 1 s");
    backend.up.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1100));
    handle.replay();
    tracer.shutdown()?;
    let s = handle.stats();
    println!(
        "  breaker {}; exported {} spans ({} replayed), dropped {}, backend accepted {} requests",
        handle.breaker().state(),
        s.exported,
        s.replayed,
        s.dropped(),
        backend.accepted.load(Ordering::SeqCst)
    );

    let expected = REQUESTS + 1;
    let delivered_all = s.received == expected && s.exported == expected && s.dropped() == 0;
    let waited = outage.pending_memory_spans > 0 && outage.spooled > 0;
    if !delivered_all || !waited || answer != Ok("Paris") {
        return Err(format!(
            "expected {expected} spans kept in memory and the spool during the outage and all \
             delivered after it, and the retried call to answer; got {} in memory and {} \
             spooled, then {} of {} received spans exported ({} dropped), answer {answer:?}",
            outage.pending_memory_spans,
            outage.spooled,
            s.exported,
            s.received,
            s.dropped()
        )
        .into());
    }
    Ok(())
}

/// Runs a future to completion on this thread (the retry's sleeps block it).
mod local_executor {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    pub(crate) fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = pin!(f);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::yield_now();
        }
    }
}
