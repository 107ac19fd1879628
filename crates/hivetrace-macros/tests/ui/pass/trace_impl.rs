//! `#[trace_impl]`: block defaults, `all`, per-method overrides, `#[trace(skip)]`, trait impls,
//! generic types, const and async methods.

use hivetrace_core::Tracer;
use hivetrace_macros::trace_impl;

static TRACER: std::sync::LazyLock<Tracer> = std::sync::LazyLock::new(|| {
    Tracer::builder()
        .console_writer(std::io::sink())
        .build()
        .expect("tracer")
});

struct Bot {
    name: String,
}

#[trace_impl(
    tracer = &*TRACER,
    event_type = chain,
    capture(inputs = true, outputs = true),
    metadata(team = "search"),
    config(model = "gpt-4o"),
    crate = ::hivetrace_core,
)]
impl Bot {
    /// Docs are kept.
    #[must_use]
    pub fn greet(&self, who: &str) -> String {
        format!("{} greets {who}", self.name)
    }

    #[trace(name = "custom", event_type = model, skip(secret), fields(user.id = 7), err)]
    pub fn overridden(&self, secret: String) -> Result<usize, std::io::Error> {
        Ok(secret.len())
    }

    #[trace(skip)]
    pub fn untraced(&self) -> usize {
        self.name.len()
    }

    /// Private: not traced without `all`.
    fn private(&self) -> usize {
        1
    }

    /// Private but asked for explicitly.
    #[trace]
    fn private_explicit(&self) -> usize {
        2
    }

    pub const fn constant() -> u32 {
        3
    }

    pub async fn answer(&self, q: &str) -> String {
        tokio::task::yield_now().await;
        format!("{}: {q}", self.name)
    }

    #[trace(capture(outputs = false))]
    pub fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }
}

struct All;

#[trace_impl(all, skip_all, err, ret, tracer = &*TRACER)]
impl All {
    fn private(a: u32) -> Result<u32, String> {
        Ok(a)
    }

    pub(crate) fn crate_visible(a: u32) -> Result<u32, String> {
        Err(a.to_string())
    }
}

struct Wrapper<T>(T);

#[trace_impl(tracer = &*TRACER)]
impl<T: Clone + std::fmt::Debug> Wrapper<T> {
    pub fn get(&self) -> T {
        self.0.clone()
    }
}

trait Speak {
    fn speak(&self) -> String;
    fn speak_async(&self) -> impl std::future::Future<Output = String> + Send;
}

#[trace_impl(tracer = &*TRACER)]
impl Speak for Bot {
    fn speak(&self) -> String {
        self.name.clone()
    }

    fn speak_async(&self) -> impl std::future::Future<Output = String> + Send {
        let name = self.name.clone();
        async move { name }
    }
}

fn main() {
    let mut bot = Bot { name: "hb".into() };
    let _ = bot.greet("you");
    assert_eq!(bot.overridden("abc".into()).ok(), Some(3));
    assert_eq!(bot.untraced(), 2);
    assert_eq!(bot.private(), 1);
    assert_eq!(bot.private_explicit(), 2);
    const C: u32 = Bot::constant();
    assert_eq!(C, 3);
    bot.name_mut().push('!');
    assert_eq!(All::private(1).ok(), Some(1));
    assert!(All::crate_visible(1).is_err());
    assert_eq!(Wrapper(5u8).get(), 5);
    assert_eq!(bot.speak(), "hb!");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        assert_eq!(bot.answer("q").await, "hb!: q");
        assert_eq!(bot.speak_async().await, "hb!");
    });
}
