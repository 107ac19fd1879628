//! Interop with the Python OpenTelemetry SDK: its own propagators parse the headers we write,
//! and we parse the headers they write, for trace context and baggage.
//!
//! The test creates (once) a virtual environment under the workspace's `target/py-otel-venv`
//! with pinned `opentelemetry-api` and `opentelemetry-sdk` from PyPI. It fails, never skips,
//! when `python3`, `venv` or `pip` do not work: the interop claim is only as good as this test.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hivetrace_correlation::headers;
use opentelemetry::Context;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use serde_json::{Value, json};

const OTEL_PYTHON_VERSION: &str = "1.45.2";

fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").exists() || dir.join("rust-toolchain.toml").exists())
        .unwrap_or(manifest)
        .to_path_buf()
}

fn run(command: &mut Command, what: &str) {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("{what}: could not run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The venv's python, creating the venv and installing the pinned packages if needed.
fn python() -> PathBuf {
    let venv = workspace_root().join("target").join("py-otel-venv");
    let python = venv.join("bin").join("python");
    let marker = venv.join(format!("hivetrace-otel-{OTEL_PYTHON_VERSION}.installed"));
    if marker.exists() && python.exists() {
        return python;
    }
    run(
        Command::new("python3").arg("-m").arg("venv").arg(&venv),
        "creating the venv with `python3 -m venv` (install python3 and python3-venv)",
    );
    run(
        Command::new(&python).args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--quiet",
            &format!("opentelemetry-api=={OTEL_PYTHON_VERSION}"),
            &format!("opentelemetry-sdk=={OTEL_PYTHON_VERSION}"),
        ]),
        "installing opentelemetry-api and -sdk from PyPI with pip",
    );
    std::fs::write(&marker, OTEL_PYTHON_VERSION).expect("the venv marker can be written");
    python
}

fn ask_python(request: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/interop.py");
    let mut child = Command::new(python())
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the venv's python starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(request.to_string().as_bytes())
        .expect("the request is written");
    let output = child.wait_with_output().expect("python finishes");
    assert!(
        output.status.success(),
        "the Python script failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// Values with every kind of character the baggage encoding must handle.
fn tricky_baggage() -> BTreeMap<&'static str, &'static str> {
    BTreeMap::from([
        ("user.id", "u-42"),
        ("note", "a b,c;d=e%f \"q\" \\ done"),
        ("plus", "1+1=2"),
        ("unicode", "caf\u{e9} \u{2713} \u{1f600}"),
        ("empty", ""),
    ])
}

#[test]
fn python_parses_our_headers_and_we_parse_pythons() {
    // What we write, for Python to read.
    let state = TraceState::from_key_value([("rojo", "00f067aa0ba902b7"), ("t61@dd", "a b")])
        .expect("valid");
    let sc = SpanContext::new(
        TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
        SpanId::from(0x00f0_67aa_0ba9_02b7),
        TraceFlags::SAMPLED,
        false,
        state,
    );
    let cx = Context::new().with_remote_span_context(sc).with_baggage(
        tricky_baggage()
            .into_iter()
            .map(|(k, v)| opentelemetry::KeyValue::new(k, v)),
    );
    let mut ours = http::HeaderMap::new();
    headers::inject_context(&cx, &mut ours);
    let ours_json: serde_json::Map<String, Value> = ours
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v.to_str().expect("ascii"))))
        .collect();

    let request = json!({
        "ours": ours_json,
        "produce": {
            "trace_id": "0af7651916cd43dd8448eb211c80319c",
            "span_id": "b7ad6b7169203331",
            "sampled": true,
            "tracestate": [["congo", "t61rcWkgMzE"], ["vendor@sys", "x y"]],
            "baggage": tricky_baggage(),
        },
    });
    let reply = ask_python(&request);

    // Python read ours.
    let parsed = &reply["parsed"];
    assert_eq!(parsed["valid"], json!(true), "{reply}");
    assert_eq!(
        parsed["trace_id"],
        json!("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(parsed["span_id"], json!("00f067aa0ba902b7"));
    assert_eq!(parsed["flags"], json!(1));
    assert_eq!(
        parsed["tracestate"],
        json!([["rojo", "00f067aa0ba902b7"], ["t61@dd", "a b"]])
    );
    assert_eq!(parsed["baggage"], json!(tricky_baggage()), "{reply}");

    // We read Python's.
    let mut theirs = http::HeaderMap::new();
    for (name, value) in reply["produced"].as_object().expect("headers") {
        theirs.insert(
            http::HeaderName::from_bytes(name.as_bytes()).expect("a header name"),
            http::HeaderValue::from_str(value.as_str().expect("text")).expect("a header value"),
        );
    }
    let cx = headers::extract_with_context(&Context::new(), &theirs);
    let span = cx.span();
    let sc = span.span_context();
    assert!(
        sc.is_valid() && sc.is_remote() && sc.is_sampled(),
        "{theirs:?}"
    );
    assert_eq!(
        sc.trace_id().to_string(),
        "0af7651916cd43dd8448eb211c80319c"
    );
    assert_eq!(sc.span_id().to_string(), "b7ad6b7169203331");
    assert_eq!(
        sc.trace_state().header(),
        "congo=t61rcWkgMzE,vendor@sys=x y"
    );
    let baggage: BTreeMap<String, String> = cx
        .baggage()
        .iter()
        .map(|(k, (v, _))| (k.to_string(), v.to_string()))
        .collect();
    // Python writes values with `quote_plus`: a space becomes `+`, which the W3C Baggage spec
    // reads as a plus sign (only `%20` is a space). We follow the spec, so Python's spaces
    // arrive as `+`; every other character, `+` itself (`%2B`) included, arrives exactly.
    let expected: BTreeMap<String, String> = tricky_baggage()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.replace(' ', "+")))
        .collect();
    assert_eq!(baggage, expected, "from {:?}", theirs.get("baggage"));
}
