//! Span start + end on the application thread, with the backend up and with it down (a
//! refused port): the resilient exporter keeps an outage off the application thread.
//!
//! `cargo bench -p hivetrace-resilience --bench span_end`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use hivetrace_core::exporter::{Exporter, OtlpExporter, Protocol};
use hivetrace_core::{BatchConfig, Tracer};
use hivetrace_resilience::exporter::ResilientExporter;

/// A minimal OTLP/HTTP backend on 127.0.0.1 that accepts everything.
fn backend() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || serve(stream));
        }
    });
    port
}

fn serve(stream: TcpStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
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
        let reply =
            b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\n\r\n";
        if reader.get_mut().write_all(reply).is_err() {
            return;
        }
    }
}

fn closed_port() -> u16 {
    let l = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
    l.local_addr().expect("addr").port()
}

fn tracer(port: u16) -> Tracer {
    let url = format!("http://127.0.0.1:{port}/v1/traces");
    let otlp =
        OtlpExporter::new(&url, Protocol::HttpProtobuf, &[], Duration::from_secs(2)).expect("otlp");
    let exporter = ResilientExporter::builder(otlp)
        .deadline(Duration::from_secs(5))
        .build()
        .expect("exporter");
    Tracer::builder()
        .exporter(Exporter::custom(exporter))
        .batch(
            BatchConfig::default()
                .max_queue_size(65_536)
                .scheduled_delay(Duration::from_millis(200)),
        )
        .build()
        .expect("tracer")
}

fn span_end(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_start_end_app_thread");
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(3));
    let up = tracer(backend());
    g.bench_function("backend_up", |b| b.iter(|| up.span("work").start().end()));
    let _ = up.shutdown();
    let down = tracer(closed_port());
    g.bench_function("backend_down", |b| {
        b.iter(|| down.span("work").start().end())
    });
    let _ = down.shutdown();
    g.finish();
}

criterion_group!(benches, span_end);
criterion_main!(benches);
