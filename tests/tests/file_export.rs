//! The local OTLP JSON lines file: each line an `ExportTraceServiceRequest`, ids in hex.

use std::path::Path;

use hivetrace::{BatchConfig, Destination, EventType, Tracer, TracerBuilder, enrich_span};
use hivetrace_tests::attributes;
use hivetrace_tests::fake_env::vars;
use hivetrace_tests::proto::{ExportTraceServiceRequest, Span as ProtoSpan};

/// Every line of `path`, parsed; panics on a line that is not an OTLP JSON request.
fn read_requests(path: &Path) -> Vec<(serde_json::Value, ExportTraceServiceRequest)> {
    let text = std::fs::read_to_string(path).expect("the trace file exists");
    assert!(text.ends_with('\n'), "every line is terminated: {text:?}");
    text.lines()
        .enumerate()
        .map(|(i, line)| {
            let raw: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} is not JSON ({e}): {line}", i + 1));
            let request: ExportTraceServiceRequest = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("line {} is not OTLP JSON ({e}): {line}", i + 1));
            (raw, request)
        })
        .collect()
}

fn spans_of(requests: &[(serde_json::Value, ExportTraceServiceRequest)]) -> Vec<ProtoSpan> {
    requests
        .iter()
        .flat_map(|(_, r)| &r.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| ss.spans.iter().cloned())
        .collect()
}

/// The ids of every span in a raw JSON line, as written.
fn raw_ids(raw: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut ids = Vec::new();
    for rs in raw["resourceSpans"].as_array().into_iter().flatten() {
        for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
            for span in ss["spans"].as_array().into_iter().flatten() {
                let field = |k: &str| span[k].as_str().unwrap_or_default().to_owned();
                ids.push((field("traceId"), field("spanId"), field("parentSpanId")));
            }
        }
    }
    ids
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn file_lines_parse_back_into_export_requests_with_hex_ids() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("nested").join("traces.jsonl");
    let tracer = Tracer::builder()
        .project("support-bot")
        .file(&path)
        // Small batches, so the file has several lines.
        .batch(BatchConfig::default().max_export_batch_size(2))
        .build()
        .expect("a valid configuration");
    assert_eq!(tracer.destination(), &Destination::File(path.clone()));

    let root = tracer.span("session").event_type(EventType::Chain).start();
    let root_ctx = root.span_context();
    root.in_scope(|| {
        for i in 0..4_i64 {
            let step = tracer.span(format!("step-{i}")).start();
            step.in_scope(|| {
                enrich_span(|e| {
                    e.metrics("index", i);
                })
            });
        }
    });
    drop(root);
    tracer.shutdown().expect("the file is written");

    let requests = read_requests(&path);
    assert!(
        requests.len() >= 3,
        "5 spans in batches of 2: {} lines",
        requests.len()
    );
    let spans = spans_of(&requests);
    assert_eq!(spans.len(), 5);

    let root_trace = root_ctx.trace_id().to_string();
    let root_id = root_ctx.span_id().to_string();
    for (raw, _) in &requests {
        for (trace_id, span_id, parent_id) in raw_ids(raw) {
            assert!(is_lower_hex(&trace_id, 32), "traceId {trace_id:?}");
            assert!(is_lower_hex(&span_id, 16), "spanId {span_id:?}");
            assert_eq!(trace_id, root_trace, "one trace");
            if span_id != root_id {
                assert_eq!(parent_id, root_id, "steps are children of the root");
            }
        }
    }

    let root_span = spans
        .iter()
        .find(|s| s.name == "session")
        .expect("the root span");
    assert_eq!(root_span.span_id, root_ctx.span_id().to_bytes());
    assert!(root_span.parent_span_id.is_empty());
    for i in 0..4_i64 {
        let step = spans
            .iter()
            .find(|s| s.name == format!("step-{i}"))
            .unwrap_or_else(|| panic!("step-{i} in {spans:#?}"));
        assert_eq!(step.parent_span_id, root_span.span_id);
        assert_eq!(
            attributes::int_value(&step.attributes, "honeyhive_metrics.index"),
            Some(i)
        );
        assert_eq!(
            attributes::str_value(&step.attributes, "honeyhive.project"),
            Some("support-bot")
        );
    }
    let resource = requests[0].1.resource_spans[0]
        .resource
        .as_ref()
        .expect("a resource");
    assert_eq!(
        attributes::str_value(&resource.attributes, "service.name"),
        Some("support-bot")
    );
}

#[test]
fn hh_trace_file_selects_the_file() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("from-env.jsonl");
    let env = vars([("HH_TRACE_FILE", path.to_string_lossy().into_owned())]);
    let tracer = TracerBuilder::from_env_with(env)
        .build()
        .expect("a valid configuration");
    assert_eq!(tracer.destination(), &Destination::File(path.clone()));

    tracer.span("to-file").start().end();
    tracer.force_flush().expect("the file is written");

    let spans = spans_of(&read_requests(&path));
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["to-file"]);
    assert_eq!(tracer.stats().exported, 1);
}

#[test]
fn the_file_is_appended_to_not_truncated() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("traces.jsonl");
    for name in ["first-run", "second-run"] {
        let tracer = Tracer::builder()
            .file(&path)
            .build()
            .expect("a valid configuration");
        tracer.span(name).start().end();
        tracer.shutdown().expect("the file is written");
    }
    let spans = spans_of(&read_requests(&path));
    let names: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["first-run", "second-run"]);
}

#[test]
fn an_unopenable_trace_file_is_an_error_naming_the_path() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    // A directory cannot be opened for appending.
    let err = Tracer::builder()
        .file(dir.path())
        .build()
        .expect_err("a directory is not a file");
    assert!(matches!(err, hivetrace::Error::File { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&*dir.path().to_string_lossy()),
        "{err}"
    );
}
