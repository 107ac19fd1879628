//! A `Result` function without `err` (the output is captured, an `Err` is not an error), and
//! one with `err` but `capture(outputs = false)`; `main` checks what they record.

use hivetrace_core::Tracer;
use hivetrace_core::exporter::Exporter;
use hivetrace_macros::{trace, trace_impl};
use opentelemetry::Value;
use opentelemetry::trace::Status;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};

static H: std::sync::LazyLock<(Tracer, InMemorySpanExporter)> = std::sync::LazyLock::new(|| {
    let mem = InMemorySpanExporter::default();
    let t = Tracer::builder()
        .exporter(Exporter::from(mem.clone()))
        .build()
        .expect("tracer");
    (t, mem)
});

#[trace(tracer = H.0)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n * 2)
}

#[trace(tracer = H.0, err, capture(outputs = false))]
fn quiet(ok: bool) -> Result<u8, String> {
    if ok { Ok(1) } else { Err("no".to_owned()) }
}

#[trace(tracer = H.0)]
async fn parse_async(s: String) -> Result<u32, std::num::ParseIntError> {
    s.parse()
}

struct Store;

#[trace_impl(tracer = H.0)]
impl Store {
    pub fn get(&self, key: &str) -> Result<String, std::io::Error> {
        Ok(key.to_owned())
    }
}

fn attr(span: &SpanData, key: &str) -> Option<Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.clone())
}

fn main() {
    assert_eq!(parse("21"), Ok(42));
    assert!(parse("x").is_err());
    assert_eq!(quiet(true), Ok(1));
    assert!(quiet(false).is_err());
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(parse_async("x".into())).is_err());
    assert_eq!(Store.get("k").expect("ok"), "k");

    let (t, mem) = &*H;
    t.force_flush().expect("flush");
    let spans = mem.get_finished_spans().expect("spans");
    let out = |sp: &SpanData| attr(sp, "honeyhive_outputs.result");
    for sp in &spans {
        let input = attr(sp, "honeyhive_inputs.s").or_else(|| attr(sp, "honeyhive_inputs.ok"));
        match (sp.name.as_ref(), input) {
            ("parse", Some(i)) if i == Value::from("21") => {
                assert_eq!(out(sp), Some(Value::I64(42)));
                assert_eq!(sp.status, Status::Unset);
            }
            ("parse" | "parse_async", _) => {
                // Without `err`, an `Err` is neither an output nor an error.
                assert_eq!(out(sp), None);
                assert_eq!(sp.status, Status::Unset);
                assert_eq!(attr(sp, "honeyhive_error"), None);
            }
            ("quiet", Some(Value::Bool(ok))) => {
                assert_eq!(out(sp), None);
                assert_eq!(matches!(sp.status, Status::Error { .. }), !ok);
            }
            ("Store::get", _) => assert_eq!(out(sp), Some(Value::from("k"))),
            other => panic!("unexpected span {other:?}"),
        }
    }
    assert_eq!(spans.len(), 6);
}
