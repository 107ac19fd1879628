//! Monitoring a traced LLM application: per-endpoint counts, errors and latency percentiles,
//! served to Prometheus at `/metrics` and printed as a table every two seconds.
//!
//! Three worker threads answer questions; each answer is a chain span with a retrieval tool
//! (sometimes failing: the index is unavailable), an embedding step (with its CPU and memory
//! use recorded), and a model call (sometimes rate limited). Latencies are simulated with
//! short sleeps. Half the traces are sampled (OTEP 235 consistent sampling, `ot=th:8`): the
//! table shows the spans recorded and the honest estimate of all spans (twice as many).
//!
//! ```text
//! cargo run --example monitoring                       # runs 5 s
//! MONITORING_SECONDS=60 cargo run --example monitoring # then: curl localhost:9464/metrics
//! ```
//!
//! `METRICS_ADDR` sets the listen address (default `127.0.0.1:9464`; when it is taken, a free
//! port is used and printed).
#![allow(
    clippy::print_stdout,
    reason = "an example prints what a user wants to see"
)]

use std::error::Error;
use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use hivetrace::{EventType, Tracer, enrich_span};
use hivetrace_metrics::prometheus_client::registry::Registry;
use hivetrace_metrics::resources::ResourceUsage;
use hivetrace_metrics::{MetricsProcessor, MetricsServer, MetricsSnapshot};
use hivetrace_sampling::{ConsistentProbabilitySampler, ParentBased};

const DEFAULT_SECONDS: u64 = 5;
/// A year: longer runs would overflow the deadline (`Instant` + seconds).
const MAX_SECONDS: u64 = 365 * 24 * 3600;
const DEFAULT_ADDR: &str = "127.0.0.1:9464";
const WORKERS: u64 = 3;

/// The retrieval index was unavailable.
#[derive(Debug)]
struct IndexUnavailable;

impl fmt::Display for IndexUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the vector index is unavailable")
    }
}

impl Error for IndexUnavailable {}

/// A small deterministic random generator (xorshift), so runs look alike.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    /// A duration between `low` and `high` milliseconds.
    fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(low + self.next() % (high - low + 1))
    }
}

fn answer_question(tracer: &Tracer, rng: &mut Rng) {
    let chain = tracer
        .span("answer_question")
        .event_type(EventType::Chain)
        .start();
    let _current = chain.enter();

    let retrieve = tracer.span("retrieve").event_type(EventType::Tool).start();
    std::thread::sleep(rng.millis(2, 8));
    if rng.chance(8) {
        retrieve.record_error(&IndexUnavailable);
        chain.record_error(&IndexUnavailable);
        return;
    }
    drop(retrieve);

    let embed = tracer.span("embed").event_type(EventType::Tool).start();
    let usage = ResourceUsage::start_for(&embed);
    let vector: Vec<f32> = (0..4096).map(|i| (i as f32).sin()).collect();
    std::hint::black_box(&vector);
    usage.record(&embed);
    drop(embed);

    let chat = tracer.span("chat").event_type(EventType::Model).start();
    chat.in_scope(|| {
        enrich_span(|e| {
            e.config("model", "gpt-4o-mini")
                .metrics("prompt_tokens", 512);
        });
    });
    // Most calls are quick; one in ten is slow, as LLM latencies are.
    let latency = if rng.chance(10) {
        rng.millis(60, 150)
    } else {
        rng.millis(10, 40)
    };
    std::thread::sleep(latency);
    if rng.chance(5) {
        chat.record_error_message("RateLimited", "429 Too Many Requests");
    }
}

fn print_table(s: &MetricsSnapshot) {
    println!(
        "\n{:>5.1}s  {:<16} {:>6} {:>9} {:>7} {:>6} {:>8} {:>8} {:>8}",
        s.since_reset_seconds,
        "endpoint",
        "spans",
        "est.count",
        "errors",
        "err%",
        "p50 ms",
        "p95 ms",
        "p99 ms"
    );
    for (name, e) in &s.endpoints {
        println!(
            "        {:<16} {:>6} {:>9.0} {:>7.0} {:>5.1}% {:>8.1} {:>8.1} {:>8.1}",
            name,
            e.spans,
            e.count,
            e.error_count,
            e.error_rate * 100.0,
            e.recent.p50_ms,
            e.recent.p95_ms,
            e.recent.p99_ms
        );
    }
    println!(
        "        {:<16} {:>6} {:>9.0} {:>7.0} {:>5.1}% {:>8.1} {:>8.1} {:>8.1}   (last {} s)",
        "all",
        s.spans,
        s.count,
        s.error_count,
        s.error_rate * 100.0,
        s.recent.p50_ms,
        s.recent.p95_ms,
        s.recent.p99_ms,
        s.window_seconds
    );
}

/// The `/metrics` page as Prometheus asks for it (OpenMetrics, with exemplars).
fn scrape(addr: SocketAddr) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nAccept: application/openmetrics-text\r\n\
         Connection: close\r\n\r\n"
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response
        .split_once("\r\n\r\n")
        .map_or(response.clone(), |(_, body)| body.to_owned()))
}

/// How long to run, from `MONITORING_SECONDS` (`value`): at most `MAX_SECONDS`.
fn run_seconds(value: Option<&str>) -> Result<u64, String> {
    let Some(v) = value else {
        return Ok(DEFAULT_SECONDS);
    };
    match v.parse::<u64>() {
        Ok(seconds) if seconds <= MAX_SECONDS => Ok(seconds),
        _ => Err(format!(
            "MONITORING_SECONDS={v:?}: expected a whole number of seconds, at most {MAX_SECONDS}"
        )),
    }
}

fn run() -> Result<(), Box<dyn Error>> {
    let seconds = run_seconds(std::env::var("MONITORING_SECONDS").ok().as_deref())?;
    let addr = std::env::var("METRICS_ADDR").unwrap_or_else(|_| DEFAULT_ADDR.to_owned());

    let metrics = MetricsProcessor::builder()
        .window(Duration::from_secs(10))
        .build()?;
    let tracer = Tracer::builder()
        .project("support-bot")
        // An application would use TracerBuilder::from_env() to export its spans.
        .console_writer(std::io::sink())
        .sampler(ParentBased::new(ConsistentProbabilitySampler::new(0.5)?))
        .observer(metrics.clone())
        .build()?;

    let mut registry = Registry::default();
    metrics.register(&mut registry);
    registry.register_collector(Box::new(metrics.tracer_collector(&tracer)));
    let server = match MetricsServer::start(&addr, registry) {
        Ok(server) => server,
        Err(e) => {
            println!("{e}; using a free port instead");
            let mut registry = Registry::default();
            metrics.register(&mut registry);
            registry.register_collector(Box::new(metrics.tracer_collector(&tracer)));
            MetricsServer::start("127.0.0.1:0", registry)?
        }
    };
    println!("metrics at {} for {seconds} s", server.url());

    let deadline = Instant::now() + Duration::from_secs(seconds);
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let tracer = &tracer;
            scope.spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (worker + 1));
                while Instant::now() < deadline {
                    answer_question(tracer, &mut rng);
                }
            });
        }
        while Instant::now() < deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(left.min(Duration::from_secs(2)));
            print_table(&metrics.snapshot());
        }
    });

    let page = scrape(server.local_addr())?;
    println!("\nfrom {}:", server.url());
    for line in page.lines().filter(|l| {
        l.starts_with("hivetrace_traces_total{endpoint=\"chat\"")
            || l.starts_with("hivetrace_trace_errors_total")
            || (l.starts_with(
                "hivetrace_trace_latency_seconds_bucket{le=\"0.05\",endpoint=\"chat\"",
            ) && l.contains("trace_id"))
            || l.starts_with("hivetrace_spans_")
    }) {
        println!("  {line}");
    }

    let server_url = server.url();
    server.shutdown_blocking();
    tracer.shutdown()?;
    let snapshot = metrics.snapshot();
    if snapshot.spans == 0 {
        return Err("the workload recorded no spans".into());
    }
    if !page.contains("hivetrace_traces_total{") {
        return Err(format!("{} served no hivetrace_traces_total series", server_url).into());
    }
    println!(
        "\n{} spans recorded, {:.0} estimated, error rate {:.1}%",
        snapshot.spans,
        snapshot.count,
        snapshot.error_rate * 100.0
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("monitoring: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_seconds_rejects_what_would_overflow_the_deadline() {
        assert_eq!(run_seconds(None), Ok(DEFAULT_SECONDS));
        assert_eq!(run_seconds(Some("2")), Ok(2));
        assert!(run_seconds(Some("soon")).is_err());
        let huge = u64::MAX.to_string();
        assert!(run_seconds(Some(&huge)).is_err());
        // Every accepted value makes a deadline.
        let longest = run_seconds(Some(&MAX_SECONDS.to_string())).expect("accepted");
        assert!(
            Instant::now()
                .checked_add(Duration::from_secs(longest))
                .is_some()
        );
    }
}
