//! What is captured: arguments as `honeyhive_inputs.<name>` (JSON through `Serialize`, else
//! `Debug`, else nothing), the return value as `honeyhive_outputs.result`, and the effect of
//! `skip`, `skip_all`, `capture(...)`, `ret`, `metadata(...)` and `config(...)`.

mod support;

use std::collections::BTreeMap;

use hivetrace_macros::{trace, trace_impl};
use opentelemetry::Value;
use support::{Harness, Lazy, attr, attrs_with_prefix, i, inputs, named, output, s};

static H: Lazy = Lazy::new(Harness::new);

#[derive(Debug, Clone, serde::Serialize)]
struct Doc {
    id: u32,
    text: String,
}

#[derive(Debug)]
#[allow(dead_code, reason = "the field is read through Debug")]
struct OnlyDebug(u8);

struct Opaque;

fn map(entries: &[(&str, Value)]) -> BTreeMap<String, Value> {
    entries
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

#[trace(tracer = H.tracer)]
#[allow(clippy::too_many_arguments, reason = "one argument per kind of value")]
fn kinds(
    n: i64,
    x: f64,
    flag: bool,
    text: &str,
    doc: Doc,
    list: Vec<u32>,
    nothing: Option<u8>,
    debug: OnlyDebug,
    opaque: Opaque,
) -> Doc {
    let _ = (n, x, flag, text, list, nothing, debug, opaque);
    doc
}

#[trace(tracer = H.tracer)]
#[allow(
    clippy::toplevel_ref_arg,
    reason = "a `ref` binding is a pattern the macro must handle"
)]
fn patterns((a, b): (u32, u32), _: u32, mut c: u32, ref d: u32) -> u32 {
    c += a + b;
    c + *d
}

#[test]
fn each_kind_of_argument_is_captured_by_what_it_implements() {
    let doc = Doc {
        id: 1,
        text: "a \"quoted\" text".into(),
    };
    let _ = kinds(
        -3,
        2.5,
        true,
        "hi",
        doc,
        vec![1, 2],
        None,
        OnlyDebug(7),
        Opaque,
    );
    assert_eq!(patterns((1, 2), 3, 4, 5), 12);
    let spans = H.spans();
    let sp = named(&spans, "kinds");
    assert_eq!(
        inputs(sp),
        map(&[
            ("n", i(-3)),
            ("x", Value::F64(2.5)),
            ("flag", Value::Bool(true)),
            ("text", s("hi")),
            ("doc", s(r#"{"id":1,"text":"a \"quoted\" text"}"#)),
            ("list", s("[1,2]")),
            // `None` serializes to null: not captured. `Opaque` has neither Serialize nor Debug.
            ("debug", s("OnlyDebug(7)")),
        ])
    );
    assert_eq!(
        output(sp),
        Some(s(r#"{"id":1,"text":"a \"quoted\" text"}"#))
    );
    // Only plain identifiers are inputs: not tuple patterns, not `_`; `mut c` and `ref d` are.
    let sp = named(&spans, "patterns");
    assert_eq!(inputs(sp), map(&[("c", i(4)), ("d", i(5))]));
    assert_eq!(output(sp), Some(i(12)));
}

static OPTS: Lazy = Lazy::new(Harness::new);

#[trace(tracer = OPTS.tracer)]
fn all_in(a: u32, b: u32) -> u32 {
    a + b
}

#[trace(tracer = OPTS.tracer, skip(a))]
fn skip_a(a: u32, b: u32) -> u32 {
    a + b
}

#[trace(tracer = OPTS.tracer, skip(a, b))]
fn skip_ab(a: u32, b: u32, c: u32) -> u32 {
    a + b + c
}

#[trace(tracer = OPTS.tracer, skip_all)]
fn skip_everything(a: u32, b: u32) -> u32 {
    a + b
}

#[trace(tracer = OPTS.tracer, capture(inputs = false))]
fn no_inputs(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, capture(outputs = false))]
fn no_output(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, capture(inputs = false, outputs = false))]
fn nothing(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, capture(outputs = false), ret)]
fn ret_wins(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, capture(inputs = true, outputs = true))]
fn explicit_defaults(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, skip_all)]
async fn async_skip_all(a: u32) -> u32 {
    a
}

#[trace(tracer = OPTS.tracer, capture(outputs = false))]
async fn async_no_output(a: u32) -> u32 {
    a
}

#[tokio::test]
async fn skip_skip_all_capture_and_ret() {
    all_in(1, 2);
    skip_a(1, 2);
    skip_ab(1, 2, 3);
    skip_everything(1, 2);
    no_inputs(1);
    no_output(1);
    nothing(1);
    ret_wins(1);
    explicit_defaults(1);
    async_skip_all(1).await;
    async_no_output(1).await;
    let spans = OPTS.spans();
    let check = |name: &str, ins: &[(&str, Value)], out: Option<i64>| {
        let sp = named(&spans, name);
        assert_eq!(inputs(sp), map(ins), "inputs of {name}");
        assert_eq!(output(sp), out.map(i), "output of {name}");
    };
    check("all_in", &[("a", i(1)), ("b", i(2))], Some(3));
    check("skip_a", &[("b", i(2))], Some(3));
    check("skip_ab", &[("c", i(3))], Some(6));
    check("skip_everything", &[], Some(3));
    check("no_inputs", &[], Some(1));
    check("no_output", &[("a", i(1))], None);
    check("nothing", &[], None);
    check("ret_wins", &[("a", i(1))], Some(1));
    check("explicit_defaults", &[("a", i(1))], Some(1));
    check("async_skip_all", &[], Some(1));
    check("async_no_output", &[("a", i(1))], None);
}

static ENRICH: Lazy = Lazy::new(Harness::new);

#[trace(
    tracer = ENRICH.tracer,
    event_type = model,
    metadata(team = "search", version = 3, "quoted.key" = true, prompt_len = prompt.len()),
    config(model = "gpt-4o", temperature = 0.2),
)]
fn chat(prompt: &str) -> String {
    hivetrace_core::enrich_span(|e| {
        e.metrics("tokens", 5);
    });
    prompt.to_uppercase()
}

#[trace(tracer = ENRICH.tracer, metadata(team = "search"))]
async fn chat_async(prompt: &str) -> usize {
    tokio::task::yield_now().await;
    prompt.len()
}

#[tokio::test]
async fn metadata_and_config_are_written_at_start_and_the_span_is_current_in_the_body() {
    assert_eq!(chat("hi"), "HI");
    assert_eq!(chat_async("hey").await, 3);
    let spans = ENRICH.spans();
    let sp = named(&spans, "chat");
    assert_eq!(
        attrs_with_prefix(sp, "honeyhive_metadata."),
        map(&[
            ("honeyhive_metadata.team", s("search")),
            ("honeyhive_metadata.version", i(3)),
            ("honeyhive_metadata.quoted.key", Value::Bool(true)),
            ("honeyhive_metadata.prompt_len", i(2)),
        ])
    );
    assert_eq!(
        attrs_with_prefix(sp, "honeyhive_config."),
        map(&[
            ("honeyhive_config.model", s("gpt-4o")),
            ("honeyhive_config.temperature", Value::F64(0.2)),
        ])
    );
    // `enrich_span` in the body reaches the traced function's span.
    assert_eq!(attr(sp, "honeyhive_metrics.tokens"), Some(i(5)));
    assert_eq!(inputs(sp), map(&[("prompt", s("hi"))]));
    assert_eq!(output(sp), Some(s("HI")));
    let sp = named(&spans, "chat_async");
    assert_eq!(attr(sp, "honeyhive_metadata.team"), Some(s("search")));
}

static LIMIT: Lazy = Lazy::new(|| Harness::with(|b| b.max_attribute_len(32)));

#[trace(tracer = LIMIT.tracer)]
fn big(text: String) -> String {
    text
}

#[test]
fn captured_values_are_cut_at_the_tracers_limit() {
    let long = "x".repeat(10_000);
    assert_eq!(big(long.clone()).len(), 10_000);
    let spans = LIMIT.spans();
    let sp = named(&spans, "big");
    for v in [
        attr(sp, "honeyhive_inputs.text").expect("input"),
        output(sp).expect("output"),
    ] {
        let text = v.as_str();
        assert!(text.len() <= 32, "cut: {} bytes", text.len());
        assert!(text.starts_with("xxxx"));
        assert!(text.contains(hivetrace_core::TRUNCATION_MARKER), "{text}");
    }
}

static CFG_ARGS: Lazy = Lazy::new(Harness::new);

#[trace(tracer = CFG_ARGS.tracer)]
fn cfg_args(#[cfg(any())] gone: u32, #[cfg(test)] kept: u32, plain: u32) -> u32 {
    kept + plain
}

/// An argument compiled out by `#[cfg]` is not captured (the capture would name a variable
/// that does not exist); one compiled in is.
#[test]
fn arguments_behind_cfg_are_captured_only_when_compiled_in() {
    assert_eq!(cfg_args(1, 2), 3);
    let spans = CFG_ARGS.spans();
    let sp = named(&spans, "cfg_args");
    assert_eq!(inputs(sp), map(&[("kept", i(1)), ("plain", i(2))]));
}

static BORROWED_META: Lazy = Lazy::new(Harness::new);

#[trace(
    tracer = BORROWED_META.tracer,
    metadata(user = user, sum = 2 + 1, doc = hivetrace_core::EnrichValue::json(&[1u8, 2])),
    config(model = model)
)]
fn borrowed_meta(user: &str, model: &String) -> usize {
    user.len() + model.len()
}

/// `metadata(...)` and `config(...)` take borrowed strings, the usual shape of an argument, not
/// only literals and owned values.
#[test]
fn metadata_and_config_take_borrowed_arguments() {
    assert_eq!(borrowed_meta("ann", &"m-1".to_owned()), 6);
    let spans = BORROWED_META.spans();
    let sp = named(&spans, "borrowed_meta");
    assert_eq!(
        attrs_with_prefix(sp, "honeyhive_metadata."),
        map(&[
            ("honeyhive_metadata.user", s("ann")),
            ("honeyhive_metadata.sum", i(3)),
            ("honeyhive_metadata.doc", Value::Array(vec![1i64, 2].into()),),
        ])
    );
    assert_eq!(attr(sp, "honeyhive_config.model"), Some(s("m-1")));
}

static RAW: Lazy = Lazy::new(Harness::new);

#[trace(tracer = RAW.tracer, fields(r#type = r#match))]
fn r#type(r#match: u32) -> u32 {
    r#match
}

struct Raw;

#[trace_impl(tracer = RAW.tracer)]
impl Raw {
    pub fn r#loop(&self) -> u32 {
        2
    }
}

/// Raw identifiers (`r#type`) name spans, inputs and fields without their `r#`.
#[test]
fn raw_identifiers_are_named_without_their_prefix() {
    assert_eq!(r#type(1), 1);
    assert_eq!(Raw.r#loop(), 2);
    let spans = RAW.spans();
    let sp = named(&spans, "type");
    assert_eq!(inputs(sp), map(&[("match", i(1))]));
    assert_eq!(attr(sp, "type"), Some(i(1)));
    let _ = named(&spans, "Raw::loop");
}
