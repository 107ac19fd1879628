//! A first check that every function shape expands and records a span.
#![allow(
    unreachable_pub,
    reason = "the test types are private; the methods stay pub to exercise #[trace_impl]'s public-only default"
)]

use hivetrace_core::Tracer;
use hivetrace_core::exporter::Exporter;
use hivetrace_macros::{trace, trace_impl};
use opentelemetry_sdk::trace::InMemorySpanExporter;

fn tracer() -> (Tracer, InMemorySpanExporter) {
    let mem = InMemorySpanExporter::default();
    let t = Tracer::builder()
        .exporter(Exporter::from(mem.clone()))
        .build()
        .expect("tracer");
    (t, mem)
}

#[derive(Debug, serde::Serialize)]
struct Doc {
    id: u32,
}

#[trace(tracer = TRACER.0.clone(), event_type = tool)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[trace(tracer = TRACER.0.clone(), err)]
fn parse(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n * 2)
}

#[trace(tracer = TRACER.0.clone())]
async fn fetch(doc: Doc) -> u32 {
    tokio::task::yield_now().await;
    doc.id
}

#[trace(tracer = TRACER.0.clone())]
fn later(x: u32) -> impl std::future::Future<Output = u32> {
    let y = x + 1;
    async move { y * 2 }
}

#[trace(tracer = TRACER.0.clone())]
fn generic<T: std::fmt::Debug + Clone>(t: &T) -> T {
    t.clone()
}

struct Bot {
    name: String,
}

#[trace_impl(tracer = TRACER.0.clone(), event_type = chain)]
impl Bot {
    pub fn greet(&self, who: &str) -> String {
        format!("{} greets {who}", self.name)
    }

    pub fn rename(&mut self, name: String) {
        self.name = name;
    }

    #[trace(skip)]
    pub fn untraced(&self) -> usize {
        self.name.len()
    }

    fn private(&self) -> usize {
        1
    }

    pub fn name_ref(&self) -> &str {
        &self.name
    }

    pub fn into_name(self) -> String {
        self.name
    }
}

static TRACER: std::sync::LazyLock<(Tracer, InMemorySpanExporter)> =
    std::sync::LazyLock::new(tracer);

#[tokio::test]
async fn every_shape_records_a_span() {
    assert_eq!(add(2, 3), 5);
    assert_eq!(parse("21").ok(), Some(42));
    assert!(parse("x").is_err());
    assert_eq!(fetch(Doc { id: 7 }).await, 7);
    assert_eq!(later(1).await, 4);
    assert_eq!(generic(&5u8), 5);
    let mut bot = Bot { name: "hb".into() };
    assert_eq!(bot.greet("you"), "hb greets you");
    bot.rename("hb2".into());
    assert_eq!(bot.untraced(), 3);
    assert_eq!(bot.private(), 1);
    assert_eq!(bot.name_ref(), "hb2");
    assert_eq!(bot.into_name(), "hb2");
    let (t, mem) = &*TRACER;
    t.force_flush().expect("flush");
    let spans = mem.get_finished_spans().expect("spans");
    let mut names: Vec<String> = spans.iter().map(|s| s.name.to_string()).collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "Bot::greet",
            "Bot::into_name",
            "Bot::name_ref",
            "Bot::rename",
            "add",
            "fetch",
            "generic",
            "later",
            "parse",
            "parse"
        ]
    );
    let add_span = spans.iter().find(|s| s.name == "add").expect("add");
    let get = |k: &str| {
        add_span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == k)
            .map(|kv| kv.value.clone())
    };
    assert_eq!(get("honeyhive_inputs.a"), Some(2i64.into()));
    assert_eq!(get("honeyhive_outputs.result"), Some(5i64.into()));
}
