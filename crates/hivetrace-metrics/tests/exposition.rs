//! The OpenMetrics exposition: its families and values, `promtool check metrics`, and the
//! `/metrics` server.
#![allow(clippy::unwrap_used)]

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use hivetrace_core::TracerStats;
use hivetrace_metrics::{
    CONTENT_TYPE, HEADER_READ_TIMEOUT, MetricsEndpoint, MetricsProcessor, MetricsServer,
    OVERFLOW_LABEL, TEXT_CONTENT_TYPE, TracerCollector, encode, encode_text,
};
use prometheus_client::registry::Registry;
use support::{SpanSpec, http_get, prometheus_binary};

fn ms(v: f64) -> Duration {
    Duration::from_secs_f64(v / 1000.0)
}

/// A registry with a processor that saw a few spans, and fixed tracer stats.
fn workload(namespace: &str, max_series: usize) -> (MetricsProcessor, Registry) {
    let metrics = MetricsProcessor::builder()
        .namespace(namespace)
        .max_series(max_series)
        .build()
        .unwrap();
    for i in 0..30u64 {
        metrics.record(&SpanSpec::new("chat", ms(1200.0)).id(i + 1).build());
    }
    metrics.record(
        &SpanSpec::new("chat", ms(31_000.0))
            .id(99)
            .error("Timeout")
            .build(),
    );
    for i in 0..8u64 {
        metrics.record(
            &SpanSpec::new("retrieve", ms(40.0))
                .id(100 + i)
                .ot("th:c")
                .build(),
        );
    }
    metrics.record(&SpanSpec::new("rerank", ms(3.0)).unsampled().build());
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let mut stats = TracerStats::default();
    stats.started = 40;
    stats.ended = 40;
    stats.exported = 37;
    stats.dropped = 3;
    registry.register_collector(Box::new(
        TracerCollector::from_fn(namespace, move || stats).unwrap(),
    ));
    (metrics, registry)
}

#[test]
fn the_families_carry_the_recorded_values() {
    let (_metrics, registry) = workload("honeyhive", 100);
    let text = encode(&registry).unwrap();
    let has = |line: &str| {
        assert!(
            text.lines()
                .any(|l| l == line || l.starts_with(&format!("{line} #"))),
            "missing line {line:?} in:\n{text}"
        )
    };
    has("# TYPE honeyhive_traces counter");
    has(r#"honeyhive_traces_total{endpoint="chat",status="ok"} 30.0"#);
    has(r#"honeyhive_traces_total{endpoint="chat",status="error"} 1.0"#);
    has(r#"honeyhive_traces_total{endpoint="retrieve",status="ok"} 32.0"#);
    has("# TYPE honeyhive_trace_latency_seconds histogram");
    has("# UNIT honeyhive_trace_latency_seconds seconds");
    has(r#"honeyhive_trace_latency_seconds_count{endpoint="chat"} 31"#);
    has(r#"honeyhive_trace_latency_seconds_bucket{le="1.0",endpoint="chat"} 0"#);
    has(r#"honeyhive_trace_latency_seconds_bucket{le="2.5",endpoint="chat"} 30"#);
    has(r#"honeyhive_trace_latency_seconds_bucket{le="60.0",endpoint="chat"} 31"#);
    has(r#"honeyhive_trace_errors_total{error_type="Timeout"} 1.0"#);
    has(r#"honeyhive_metrics_overflow_total{label="endpoint"} 0"#);
    has("honeyhive_spans_dropped_total 3");
    has("honeyhive_spans_exported_total 37");
    has("# TYPE honeyhive_uptime_seconds gauge");
    assert!(text.ends_with("# EOF\n"));

    // Exemplars of sampled spans: the timeout's trace on the 60 s bucket.
    let bucket = text
        .lines()
        .find(|l| {
            l.starts_with(r#"honeyhive_trace_latency_seconds_bucket{le="60.0",endpoint="chat"}"#)
        })
        .unwrap();
    let trace_id = format!("{:032x}", (99u128 << 64) | 0xabc);
    assert!(
        bucket.contains(&format!(
            r#"# {{trace_id="{trace_id}",span_id="{:016x}"}} 31.0"#,
            99
        )),
        "{bucket}"
    );
    // The unsampled span has no exemplar.
    let rerank = text
        .lines()
        .find(|l| {
            l.starts_with(r#"honeyhive_trace_latency_seconds_bucket{le="0.005",endpoint="rerank"}"#)
        })
        .unwrap();
    assert!(!rerank.contains('#'), "{rerank}");
}

#[test]
fn the_cardinality_guard_is_visible_in_the_exposition() {
    let (_metrics, registry) = workload("hivetrace", 1);
    let text = encode(&registry).unwrap();
    assert!(
        text.contains(r#"hivetrace_traces_total{endpoint="__overflow__",status="ok"} 33.0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hivetrace_metrics_overflow_total{label="endpoint"} 9"#),
        "{text}"
    );
    assert!(!text.contains(r#"endpoint="retrieve""#));
}

#[test]
fn a_span_named_like_the_overflow_label_shares_the_overflow_series() {
    let metrics = MetricsProcessor::builder().max_series(2).build().unwrap();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    for name in [OVERFLOW_LABEL, "chat", "tool", "rag"] {
        metrics.record(&SpanSpec::new(name, ms(10.0)).build());
    }
    let text = encode(&registry).unwrap();
    let mut seen = std::collections::HashSet::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let series = line.split_once(' ').map_or(line, |(series, _)| series);
        assert!(seen.insert(series), "a series twice: {series}\n{text}");
    }
    assert!(
        text.contains(r#"hivetrace_traces_total{endpoint="__overflow__",status="ok"} 2.0"#),
        "{text}"
    );
    assert!(
        text.contains(r#"hivetrace_metrics_overflow_total{label="endpoint"} 1"#),
        "only `rag` found the cap: {text}"
    );
}

#[test]
fn promtool_accepts_the_exposition() {
    let promtool = prometheus_binary("promtool");
    let (_metrics, registry) = workload("hivetrace", 100);
    let text = encode_text(&registry).unwrap();
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_openmetrics_and_shuts_down() {
    let (_metrics, registry) = workload("hivetrace", 100);
    let server = MetricsServer::bind("127.0.0.1:0", registry).await.unwrap();
    let addr = server.local_addr();
    assert_eq!(server.url(), format!("http://{addr}/metrics"));

    let accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5";
    let (status, head, body) =
        tokio::task::spawn_blocking(move || http_get(addr, "/metrics", Some(accept)))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-type: {CONTENT_TYPE}")),
        "{head}"
    );
    assert!(body.contains(r#"hivetrace_traces_total{endpoint="chat",status="ok"} 30.0"#));
    assert!(body.ends_with("# EOF\n"));

    let (status, head, body) =
        tokio::task::spawn_blocking(move || http_get(addr, "/metrics", None))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("content-type: {TEXT_CONTENT_TYPE}"))
    );
    assert!(body.contains("# TYPE hivetrace_traces_total counter"));

    let (status, _, _) = tokio::task::spawn_blocking(move || http_get(addr, "/other", None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 404);

    let (status, head, _) = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr)?;
        write!(
            stream,
            "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )?;
        let mut response = String::new();
        std::io::Read::read_to_string(&mut stream, &mut response)?;
        let status: u16 = response[9..12].parse().unwrap_or(0);
        Ok::<_, std::io::Error>((status, response, ()))
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(status, 405, "{head}");
    assert!(
        head.to_ascii_lowercase().contains("allow: get, head"),
        "{head}"
    );

    server.shutdown().await;
    let refused = tokio::task::spawn_blocking(move || http_get(addr, "/metrics", None))
        .await
        .unwrap();
    assert!(
        refused.is_err(),
        "still serving after shutdown: {refused:?}"
    );
}

/// A client that sends part of a request and goes quiet is disconnected after
/// `HEADER_READ_TIMEOUT`. The clock is paused, so the test does not wait: without the timeout
/// the read below would wait for the test's own, longer limit and fail.
#[tokio::test(start_paused = true)]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = MetricsServer::bind("127.0.0.1:0", Registry::default())
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(server.local_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(HEADER_READ_TIMEOUT * 6, stream.read_to_end(&mut rest)).await;
    assert!(
        closed.is_ok(),
        "the stalled connection was still open after {:?}",
        HEADER_READ_TIMEOUT * 6
    );
    server.shutdown().await;
}

#[test]
fn a_server_on_its_own_thread_serves_until_shut_down() {
    let (_metrics, registry) = workload("hivetrace", 100);
    let server = MetricsServer::start("127.0.0.1:0", registry).unwrap();
    let addr = server.local_addr();
    let (status, _, body) = http_get(addr, "/metrics", None).unwrap();
    assert_eq!(status, 200);
    assert!(body.contains(r#"hivetrace_trace_errors_total{error_type="Timeout"} 1.0"#));
    server.shutdown_blocking();
    assert!(http_get(addr, "/metrics", None).is_err());
}

#[test]
fn bind_errors_name_the_address() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let err = runtime
        .block_on(MetricsServer::bind("not an address", Registry::default()))
        .unwrap_err();
    assert!(err.to_string().contains("not an address"), "{err}");
}

#[test]
fn the_endpoint_handler_answers_like_the_server() {
    let (_metrics, registry) = workload("hivetrace", 100);
    let endpoint = MetricsEndpoint::new(registry);
    let handler = endpoint.handler();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::ACCEPT,
        http::HeaderValue::from_static(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        ),
    );
    let response = futures_executor::block_on(handler(headers));
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], CONTENT_TYPE);
    assert!(
        response
            .body()
            .contains("hivetrace_trace_latency_seconds_bucket")
    );
    assert!(response.body().contains("# {trace_id="));

    let response = futures_executor::block_on(handler(http::HeaderMap::new()));
    assert_eq!(response.headers()["content-type"], TEXT_CONTENT_TYPE);
    assert!(!response.body().contains("# {trace_id="));
    assert!(
        response
            .body()
            .contains("# TYPE hivetrace_traces_total counter")
    );
}

#[test]
fn tracer_collectors_reject_namespaces_prometheus_cannot_parse() {
    let err = TracerCollector::from_fn("my-app", TracerStats::default).unwrap_err();
    assert!(err.to_string().contains("my-app"), "{err}");
    let metrics = MetricsProcessor::builder()
        .namespace("honeyhive")
        .build()
        .unwrap();
    let tracer = hivetrace_core::Tracer::builder()
        .console_writer(std::io::sink())
        .build()
        .unwrap();
    let mut registry = Registry::default();
    registry.register_collector(Box::new(metrics.tracer_collector(&tracer)));
    let text = encode(&registry).unwrap();
    assert!(text.contains("honeyhive_spans_dropped_total 0"), "{text}");
    tracer.shutdown().unwrap();
}

/// A sampled span that ended before 1970 (an explicit end time from imported data, a clock set
/// to zero) still has an exemplar, but no timestamp: `prometheus_client` cannot write a time
/// before the Unix epoch, and a histogram holding one would fail every later scrape.
#[test]
fn a_span_that_ended_before_1970_does_not_break_the_exposition() {
    let metrics = MetricsProcessor::builder()
        .build()
        .expect("default settings build");
    let before_1970 = std::time::SystemTime::UNIX_EPOCH - Duration::from_secs(1);
    metrics.record(
        &SpanSpec::new("replayed", ms(250.0))
            .ending_at(before_1970)
            .build(),
    );
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    let text = encode(&registry).expect("encoding failed");
    assert!(
        text.contains(r#"hivetrace_trace_latency_seconds_bucket{le="0.25",endpoint="replayed"} 1 # {trace_id="#),
        "{text}"
    );
    assert!(
        text.contains("hivetrace_trace_latency_seconds_count{endpoint=\"replayed\"} 1\n"),
        "{text}"
    );
}

/// The format follows the client's preferences (RFC 9110 §12.5.1): media types compare
/// without regard to case, `q=0` means "not acceptable", and a client that prefers the
/// classic text format (Prometheus with `scrape_protocols` starting with
/// `PrometheusText0.0.4`) gets it.
#[test]
fn the_format_follows_the_accept_header_preferences() {
    let endpoint = MetricsEndpoint::new(Registry::default());
    let content_type = |accept: &str| {
        endpoint.response_for(Some(accept)).headers()["content-type"]
            .to_str()
            .expect("an ASCII content type")
            .to_owned()
    };
    // What Prometheus 2 and 3 send by default.
    for accept in [
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
        "Application/OpenMetrics-Text; version=1.0.0",
        "text/plain;q=0.5, application/openmetrics-text",
    ] {
        assert_eq!(content_type(accept), CONTENT_TYPE, "{accept}");
    }
    for accept in [
        "application/openmetrics-text;q=0, text/plain",
        "application/openmetrics-text; q=0.0",
        "text/plain;version=0.0.4;q=0.5,application/openmetrics-text;version=1.0.0;q=0.4,*/*;q=0.1",
        "text/plain, application/openmetrics-text;q=0.9",
        "*/*",
    ] {
        assert_eq!(content_type(accept), TEXT_CONTENT_TYPE, "{accept}");
    }
}

/// The body depends on `Accept`, so responses say so (`Vary: Accept`, RFC 9110 §12.5.5): a
/// cache between scraper and target must not answer Prometheus with what it kept for `curl`.
#[test]
fn responses_vary_with_the_accept_header() {
    let endpoint = MetricsEndpoint::new(Registry::default());
    for accept in [None, Some("application/openmetrics-text")] {
        let response = endpoint.response_for(accept);
        assert_eq!(
            response.headers().get(http::header::VARY),
            Some(&http::HeaderValue::from_static("accept")),
            "{accept:?}"
        );
    }
}
