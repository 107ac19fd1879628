//! Span names and event types: functions, `name = ...`, methods under `#[trace]` (the plain
//! method name) and under `#[trace_impl]` (`Type::method`), which methods `#[trace_impl]`
//! traces, how method options override the block's, and generic functions and types.
#![allow(
    unreachable_pub,
    reason = "the test types are private; methods stay pub to exercise #[trace_impl]'s public-only default"
)]

mod support;

use hivetrace_macros::{trace, trace_impl};
use support::{Harness, Lazy, attr, inputs, named, names, output, s, tree};

static NAMES: Lazy = Lazy::new(Harness::new);

#[trace(tracer = NAMES.tracer)]
fn plain() {}

#[trace(tracer = NAMES.tracer, name = "custom name")]
fn renamed() {}

#[trace(tracer = NAMES.tracer, event_type = model)]
fn as_model() {}

#[trace(tracer = NAMES.tracer, event_type = tool)]
fn as_tool() {}

#[trace(tracer = NAMES.tracer, event_type = chain)]
fn as_chain() {}

#[trace(tracer = NAMES.tracer, event_type = session)]
fn as_session() {}

#[test]
fn names_and_event_types() {
    plain();
    renamed();
    as_model();
    as_tool();
    as_chain();
    as_session();
    let spans = NAMES.spans();
    assert_eq!(
        names(&spans),
        vec![
            "as_chain",
            "as_model",
            "as_session",
            "as_tool",
            "custom name",
            "plain"
        ]
    );
    for (name, event_type) in [
        ("plain", "tool"),
        ("custom name", "tool"),
        ("as_model", "model"),
        ("as_tool", "tool"),
        ("as_chain", "chain"),
        ("as_session", "session"),
    ] {
        assert_eq!(
            attr(named(&spans, name), "honeyhive_event_type"),
            Some(s(event_type)),
            "{name}"
        );
    }
}

static PLAIN_METHODS: Lazy = Lazy::new(Harness::new);

#[derive(Debug, serde::Serialize)]
struct Counter {
    n: u32,
}

impl Counter {
    #[trace(tracer = PLAIN_METHODS.tracer)]
    fn bump(&mut self, by: u32) -> u32 {
        self.n += by;
        self.n
    }

    #[trace(tracer = PLAIN_METHODS.tracer, name = "Counter::peek")]
    fn peek(&self) -> u32 {
        self.n
    }
}

#[test]
fn trace_on_a_method_names_the_span_after_the_method_alone() {
    let mut c = Counter { n: 0 };
    assert_eq!(c.bump(2), 2);
    assert_eq!(c.peek(), 2);
    let spans = PLAIN_METHODS.spans();
    assert_eq!(names(&spans), vec!["Counter::peek", "bump"]);
    let bump = named(&spans, "bump");
    // The receiver is not an input.
    assert_eq!(inputs(bump), [("by".to_owned(), support::i(2))].into());
    assert_eq!(output(bump), Some(support::i(2)));
}

static IMPL: Lazy = Lazy::new(Harness::new);

#[derive(Debug)]
struct Bot {
    name: String,
}

#[trace_impl(tracer = IMPL.tracer, event_type = chain, metadata(team = "search"))]
impl Bot {
    pub fn new(name: &str) -> Self {
        Bot { name: name.into() }
    }

    pub fn greet(&self, who: &str) -> String {
        self.helper();
        self.explicit_private();
        format!("{} greets {who}", self.name)
    }

    pub fn rename(&mut self, name: String) {
        self.name = name;
    }

    pub fn into_name(self) -> String {
        self.name
    }

    #[trace(name = "bot.answer", event_type = model, metadata(kind = "llm"), skip(secret))]
    pub fn overridden(&self, q: &str, secret: &str) -> usize {
        q.len() + secret.len()
    }

    #[trace(skip)]
    pub fn untraced(&self) -> usize {
        self.name.len()
    }

    fn helper(&self) {}

    #[trace]
    fn explicit_private(&self) {}

    pub const fn constant() -> u32 {
        7
    }

    pub async fn answer(&self, q: &str) -> String {
        tokio::task::yield_now().await;
        self.greet(q)
    }
}

trait Speak {
    fn speak(&self) -> String;
}

#[trace_impl(tracer = IMPL.tracer)]
impl Speak for Bot {
    // Trait methods are traced though they have no `pub`.
    fn speak(&self) -> String {
        self.name.clone()
    }
}

#[derive(Debug)]
struct Wrapper<T>(T);

#[trace_impl(tracer = IMPL.tracer)]
impl<T: Clone + std::fmt::Debug> Wrapper<T> {
    pub fn get(&self) -> T {
        self.0.clone()
    }
}

#[derive(Debug)]
struct Everything;

#[trace_impl(all, tracer = IMPL.tracer)]
impl Everything {
    fn private_one(&self) -> u8 {
        1
    }

    pub(crate) fn crate_one(&self) -> u8 {
        self.private_one() + 1
    }
}

#[tokio::test]
async fn trace_impl_names_methods_type_colon_method_and_applies_block_options() {
    let mut bot = Bot::new("hb");
    assert_eq!(bot.greet("you"), "hb greets you");
    bot.rename("hb2".into());
    assert_eq!(bot.overridden("ab", "cd"), 4);
    assert_eq!(bot.untraced(), 3);
    assert_eq!(Bot::constant(), 7);
    assert_eq!(bot.answer("me").await, "hb2 greets me");
    assert_eq!(bot.speak(), "hb2");
    assert_eq!(Wrapper(5u8).get(), 5);
    assert_eq!(Everything.crate_one(), 2);
    assert_eq!(bot.into_name(), "hb2");

    let spans = IMPL.spans();
    assert_eq!(
        tree(&spans),
        vec![
            "Bot::answer",
            "  Bot::greet",
            "    Bot::explicit_private",
            "Bot::greet",
            "  Bot::explicit_private",
            "Bot::into_name",
            "Bot::new",
            "Bot::rename",
            "Bot::speak",
            "Everything::crate_one",
            "  Everything::private_one",
            "Wrapper::get",
            "bot.answer",
        ]
    );
    // Block options apply to every method of the block...
    let greet = spans
        .iter()
        .find(|s| s.name == "Bot::greet" && support::parent_of(s).is_none())
        .expect("greet");
    assert_eq!(attr(greet, "honeyhive_event_type"), Some(s("chain")));
    assert_eq!(attr(greet, "honeyhive_metadata.team"), Some(s("search")));
    assert_eq!(inputs(greet), [("who".to_owned(), s("you"))].into());
    assert_eq!(output(greet), Some(s("hb greets you")));
    // ...not to another block's methods.
    let speak = named(&spans, "Bot::speak");
    assert_eq!(attr(speak, "honeyhive_event_type"), Some(s("tool")));
    assert_eq!(attr(speak, "honeyhive_metadata.team"), None);
    // A method's own options win, option by option: its `metadata(...)` replaces the block's.
    let over = named(&spans, "bot.answer");
    assert_eq!(attr(over, "honeyhive_event_type"), Some(s("model")));
    assert_eq!(attr(over, "honeyhive_metadata.kind"), Some(s("llm")));
    assert_eq!(attr(over, "honeyhive_metadata.team"), None);
    assert_eq!(inputs(over), [("q".to_owned(), s("ab"))].into());
    // `&mut self` and `self` methods, and a constructor returning `Self`.
    assert_eq!(
        inputs(named(&spans, "Bot::rename")),
        [("name".to_owned(), s("hb2"))].into()
    );
    assert_eq!(
        output(named(&spans, "Bot::rename")),
        None,
        "`()` is not an output"
    );
    assert_eq!(output(named(&spans, "Bot::into_name")), Some(s("hb2")));
    assert_eq!(
        output(named(&spans, "Bot::new")),
        Some(s("Bot { name: \"hb\" }")),
        "a Debug-only value is captured with {{:?}}"
    );
    assert_eq!(output(named(&spans, "Wrapper::get")), Some(s("5")));
}

static GENERIC: Lazy = Lazy::new(Harness::new);

#[trace(tracer = GENERIC.tracer)]
fn by_debug<T: std::fmt::Debug + Clone>(t: &T) -> T {
    t.clone()
}

#[trace(tracer = GENERIC.tracer)]
fn by_serialize<T: serde::Serialize + Clone>(t: &T) -> T {
    t.clone()
}

#[trace(tracer = GENERIC.tracer)]
fn unbounded<T: Clone>(t: &T) -> T {
    t.clone()
}

#[test]
fn generic_functions_capture_through_the_bounds_they_declare() {
    assert_eq!(by_debug(&5u8), 5);
    assert_eq!(by_serialize(&5u8), 5);
    assert_eq!(unbounded(&5u8), 5);
    let spans = GENERIC.spans();
    assert_eq!(names(&spans), vec!["by_debug", "by_serialize", "unbounded"]);
    // The capture is chosen at compile time from what the function knows of `T`: a `u8`
    // passed where `T: Debug` is captured as its `{:?}` text, where `T: Serialize` as a number,
    // and where `T` has neither bound not at all.
    let d = named(&spans, "by_debug");
    assert_eq!(inputs(d), [("t".to_owned(), s("5"))].into());
    assert_eq!(output(d), Some(s("5")));
    let se = named(&spans, "by_serialize");
    assert_eq!(inputs(se), [("t".to_owned(), support::i(5))].into());
    assert_eq!(output(se), Some(support::i(5)));
    let u = named(&spans, "unbounded");
    assert!(inputs(u).is_empty());
    assert_eq!(output(u), None);
}
