//! A real Prometheus server scrapes a workload's `/metrics` and answers queries with the
//! values the workload produced, exemplars included.
//!
//! The test starts `prometheus` (Debian package `prometheus`) on `127.0.0.1` with an
//! ephemeral port, a temporary configuration and data directory, and a 1 s scrape interval;
//! polls its HTTP API until the expected series appear (bounded by a deadline, not a timing
//! assertion); and stops it. It fails, saying what to install, when the binary is missing.
#![allow(clippy::unwrap_used)]

mod support;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hivetrace_core::{EventType, Tracer};
use hivetrace_metrics::{MetricsProcessor, MetricsServer};
use prometheus_client::registry::Registry;
use serde_json::Value;
use support::{http_get, prometheus_binary};

/// How long Prometheus may take to start and scrape before the test gives up.
const DEADLINE: Duration = Duration::from_secs(60);

/// The Prometheus process, killed when dropped (also when the test panics).
struct Prometheus {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Prometheus {
    fn start(target: SocketAddr) -> Prometheus {
        let binary = prometheus_binary("prometheus");
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
                 scrape_configs:\n  - job_name: hivetrace\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        )
        .unwrap();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--enable-feature=exemplar-storage")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Prometheus {
            child,
            addr,
            _dir: dir,
        }
    }

    /// `GET /api/v1/<path>?<query>`, the `data` of a successful answer.
    fn api(&self, path: &str, query: &[(&str, &str)]) -> Option<Value> {
        let query: Vec<String> = query
            .iter()
            .map(|(k, v)| format!("{k}={}", percent_encode(v)))
            .collect();
        let (status, _, body) = http_get(
            self.addr,
            &format!("/api/v1/{path}?{}", query.join("&")),
            None,
        )
        .ok()?;
        let json: Value = serde_json::from_str(&body).ok()?;
        (status == 200 && json["status"] == "success").then(|| json["data"].clone())
    }

    /// The value of an instant query returning one series, once Prometheus has it.
    fn value(&self, promql: &str) -> Option<f64> {
        let data = self.api("query", &[("query", promql)])?;
        let result = data["result"].as_array()?;
        if result.len() != 1 {
            return None;
        }
        result[0]["value"][1].as_str()?.parse().ok()
    }

    /// Polls until `check` is satisfied or the deadline passes; the last answer is returned
    /// either way, for the failure message.
    fn wait_for<T: std::fmt::Debug>(
        &mut self,
        what: &str,
        mut check: impl FnMut(&Self) -> Option<T>,
    ) -> T {
        let start = Instant::now();
        loop {
            if let Some(found) = check(self) {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("prometheus exited early ({status}) while waiting for {what}");
            }
            assert!(
                start.elapsed() < DEADLINE,
                "Prometheus did not report {what} within {DEADLINE:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn prometheus_scrapes_the_workload_and_finds_its_series() {
    let metrics = MetricsProcessor::builder().build().unwrap();
    let tracer = Tracer::builder()
        .console_writer(std::io::sink())
        .observer(metrics.clone())
        .build()
        .unwrap();
    let mut registry = Registry::default();
    metrics.register(&mut registry);
    registry.register_collector(Box::new(metrics.tracer_collector(&tracer)));

    // The workload: 40 chat calls of which 4 are rate limited, 25 retrievals.
    for i in 0..40 {
        let span = tracer.span("chat").event_type(EventType::Model).start();
        if i % 10 == 0 {
            span.record_error_message("RateLimited", "429 Too Many Requests");
        }
    }
    for _ in 0..25 {
        tracer
            .span("retrieve")
            .event_type(EventType::Tool)
            .start()
            .end();
    }
    tracer.force_flush().unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime
        .block_on(MetricsServer::bind("127.0.0.1:0", registry))
        .unwrap();
    let mut prometheus = Prometheus::start(server.local_addr());

    let ok = prometheus.wait_for("chat successes", |p| {
        p.value(r#"hivetrace_traces_total{endpoint="chat",status="ok"}"#)
    });
    assert_eq!(ok, 36.0);
    let errors = prometheus.wait_for("chat errors", |p| {
        p.value(r#"hivetrace_traces_total{endpoint="chat",status="error"}"#)
    });
    assert_eq!(errors, 4.0);
    assert_eq!(
        prometheus.value(r#"hivetrace_trace_errors_total{error_type="RateLimited"}"#),
        Some(4.0)
    );
    assert_eq!(
        prometheus.value(r#"hivetrace_trace_latency_seconds_count{endpoint="retrieve"}"#),
        Some(25.0)
    );
    assert_eq!(
        prometheus.value(r#"hivetrace_trace_latency_seconds_bucket{endpoint="chat",le="+Inf"}"#),
        Some(40.0)
    );
    assert_eq!(
        prometheus.value("hivetrace_spans_exported_total"),
        Some(65.0)
    );
    assert_eq!(prometheus.value("hivetrace_spans_dropped_total"), Some(0.0));
    assert_eq!(prometheus.value(r#"up{job="hivetrace"}"#), Some(1.0));

    // Exemplars: Prometheus parsed them from the OpenMetrics exposition and stored them.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let (start, end) = ((now - 600).to_string(), (now + 600).to_string());
    let exemplar = prometheus.wait_for("an exemplar", |p| {
        let data = p.api(
            "query_exemplars",
            &[
                (
                    "query",
                    r#"hivetrace_trace_latency_seconds_bucket{endpoint="chat"}"#,
                ),
                ("start", &start),
                ("end", &end),
            ],
        )?;
        data.as_array()?
            .first()?
            .get("exemplars")?
            .as_array()?
            .first()
            .cloned()
    });
    let trace_id = exemplar["labels"]["trace_id"].as_str().unwrap();
    let span_id = exemplar["labels"]["span_id"].as_str().unwrap();
    assert_eq!((trace_id.len(), span_id.len()), (32, 16), "{exemplar}");

    drop(prometheus);
    runtime.block_on(server.shutdown());
    tracer.shutdown().unwrap();
}
