//! Every `#[trace(...)]` option, alone and together.

use hivetrace_core::Tracer;
use hivetrace_macros::trace;

fn tracer() -> Tracer {
    Tracer::builder()
        .console_writer(std::io::sink())
        .build()
        .expect("tracer")
}

static TRACER: std::sync::LazyLock<Tracer> = std::sync::LazyLock::new(tracer);

#[trace(name = "renamed")]
fn named() {}

#[trace(event_type = model)]
fn model() {}

#[trace(event_type = tool)]
fn tool() {}

#[trace(event_type = chain)]
fn chain() {}

#[trace(event_type = session)]
fn session() {}

#[trace(skip(a))]
fn skip_one(a: u32, b: u32) -> u32 {
    a + b
}

#[trace(skip(a, b))]
fn skip_two(a: u32, b: u32, c: u32) -> u32 {
    a + b + c
}

#[trace(skip_all)]
fn skip_all(a: u32, b: u32) -> u32 {
    a + b
}

#[trace(capture(inputs = false, outputs = false))]
fn capture_none(a: u32) -> u32 {
    a
}

#[trace(capture(inputs = true))]
fn capture_inputs_only(a: u32) -> u32 {
    a
}

#[trace(capture(outputs = false))]
fn capture_outputs_off(a: u32) -> u32 {
    a
}

#[trace(fields(user.id = user_id, "quoted.key" = 3))]
fn fields(user_id: String) -> usize {
    user_id.len()
}

#[trace(fields(n = n, flag = true, ratio = 0.5, owned = format!("x{n}")))]
fn fields_kinds(n: u64) -> u64 {
    n
}

#[trace(metadata(team = "search", version = 3, "quoted.key" = true))]
fn metadata() {}

#[trace(config(model = "gpt-4o", temperature = 0.2))]
fn config() {}

#[trace(metadata(team = "search"), config(model = "gpt-4o"))]
fn metadata_and_config() {}

#[trace(err)]
fn err(ok: bool) -> Result<u32, std::io::Error> {
    if ok {
        Ok(1)
    } else {
        Err(std::io::Error::other("no"))
    }
}

#[trace(err)]
fn err_display(ok: bool) -> Result<u32, String> {
    if ok { Ok(1) } else { Err("no".to_owned()) }
}

#[derive(Debug)]
struct OnlyDebug;

#[trace(err)]
fn err_debug(ok: bool) -> Result<u32, OnlyDebug> {
    if ok { Ok(1) } else { Err(OnlyDebug) }
}

#[trace(ret)]
fn ret(a: u32) -> u32 {
    a
}

#[trace(ret, capture(outputs = false))]
fn ret_wins(a: u32) -> u32 {
    a
}

#[trace(tracer = TRACER.clone())]
fn tracer_owned() {}

#[trace(tracer = &*TRACER)]
fn tracer_borrowed() {}

#[trace(tracer = tracer, skip(tracer))]
fn tracer_argument(tracer: &Tracer, a: u32) -> u32 {
    let _ = tracer;
    a
}

#[trace(crate = ::hivetrace_core)]
fn crate_path() {}

mod facade {
    pub use hivetrace_core::*;
}

#[trace(crate = facade)]
fn crate_reexport() {}

#[trace(
    name = "everything",
    event_type = model,
    skip(secret),
    capture(inputs = true, outputs = true),
    fields(user.id = user_id, "quoted.key" = 3),
    metadata(team = "search"),
    config(model = "gpt-4o"),
    err,
    ret,
    tracer = TRACER.clone(),
    crate = ::hivetrace_core,
)]
fn everything(user_id: String, secret: String) -> Result<usize, std::io::Error> {
    Ok(user_id.len() + secret.len())
}

fn main() {
    let t = &*TRACER;
    named();
    model();
    tool();
    chain();
    session();
    assert_eq!(skip_one(1, 2), 3);
    assert_eq!(skip_two(1, 2, 3), 6);
    assert_eq!(skip_all(1, 2), 3);
    assert_eq!(capture_none(1), 1);
    assert_eq!(capture_inputs_only(1), 1);
    assert_eq!(capture_outputs_off(1), 1);
    assert_eq!(fields("u".to_owned()), 1);
    assert_eq!(fields_kinds(4), 4);
    metadata();
    config();
    metadata_and_config();
    assert!(err(true).is_ok() && err(false).is_err());
    assert!(err_display(true).is_ok() && err_display(false).is_err());
    assert!(err_debug(true).is_ok() && err_debug(false).is_err());
    assert_eq!(ret(1), 1);
    assert_eq!(ret_wins(1), 1);
    tracer_owned();
    tracer_borrowed();
    assert_eq!(tracer_argument(t, 5), 5);
    crate_path();
    crate_reexport();
    assert_eq!(everything("u".into(), "s".into()).ok(), Some(2));
    t.shutdown().expect("shutdown");
}
