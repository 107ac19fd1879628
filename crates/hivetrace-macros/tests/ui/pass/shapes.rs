//! Every function shape `#[trace]` accepts: sync, async, methods, generics, `impl Future`,
//! `Result` with `?` and early `return`, argument patterns, borrowed returns.

use std::future::Future;

use hivetrace_core::Tracer;
use hivetrace_macros::trace;

static TRACER: std::sync::LazyLock<Tracer> = std::sync::LazyLock::new(|| {
    Tracer::builder()
        .console_writer(std::io::sink())
        .build()
        .expect("tracer")
});

#[trace(tracer = &*TRACER)]
fn unit() {}

#[trace(tracer = &*TRACER)]
fn add(a: i64, b: i64) -> i64 {
    a + b
}

#[trace(tracer = &*TRACER)]
fn early_return(a: i64) -> i64 {
    if a > 0 {
        return a;
    }
    -a
}

#[trace(tracer = &*TRACER, err)]
fn question_mark(s: &str) -> Result<u32, std::num::ParseIntError> {
    let n: u32 = s.parse()?;
    Ok(n)
}

#[trace(tracer = &*TRACER, err)]
fn io_result(ok: bool) -> std::io::Result<u8> {
    if !ok {
        return Err(std::io::Error::other("no"));
    }
    Ok(1)
}

#[trace(tracer = &*TRACER, err)]
fn boxed_error(s: &str) -> Result<u32, Box<dyn std::error::Error + Send + Sync>> {
    Ok(s.parse::<u32>()?)
}

#[trace(tracer = &*TRACER)]
fn patterns((a, b): (u32, u32), _: u32, mut c: u32, ref d: u32) -> u32 {
    c += 1;
    a + b + c + *d
}

struct Opaque;

#[trace(tracer = &*TRACER)]
fn opaque(o: Opaque) -> Opaque {
    o
}

#[trace(tracer = &*TRACER)]
fn first(v: &[u32]) -> &u32 {
    &v[0]
}

#[trace(tracer = &*TRACER)]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() { a } else { b }
}

#[trace(tracer = &*TRACER)]
fn generic<T: std::fmt::Debug + Clone>(t: &T) -> T {
    t.clone()
}

#[trace(tracer = &*TRACER)]
fn generic_where<T>(items: Vec<T>) -> usize
where
    T: PartialEq,
{
    items.len()
}

#[trace(tracer = &*TRACER)]
fn unsized_arg<T: std::fmt::Debug + ?Sized>(t: &T) -> String {
    format!("{t:?}")
}

#[trace(tracer = &*TRACER)]
fn impl_trait_arg(it: impl IntoIterator<Item = u32>) -> u32 {
    it.into_iter().sum()
}

#[trace(tracer = &*TRACER)]
fn impl_trait_ret(n: u32) -> impl Iterator<Item = u32> {
    0..n
}

#[trace(tracer = &*TRACER)]
async fn async_unit() {}

#[trace(tracer = &*TRACER)]
async fn async_add(a: i64, b: i64) -> i64 {
    tokio::task::yield_now().await;
    a + b
}

#[trace(tracer = &*TRACER, err)]
async fn async_result(s: &str) -> Result<u32, std::num::ParseIntError> {
    tokio::task::yield_now().await;
    if s.is_empty() {
        return Ok(0);
    }
    let n: u32 = s.parse()?;
    Ok(n)
}

#[trace(tracer = &*TRACER)]
async fn async_borrow<'a>(s: &'a str) -> &'a str {
    s
}

#[trace(tracer = &*TRACER)]
async fn async_generic<T: Send + std::fmt::Debug>(t: T) -> T {
    t
}

#[trace(tracer = &*TRACER)]
fn returns_future(x: u32) -> impl Future<Output = u32> {
    let y = x + 1;
    async move { y * 2 }
}

#[trace(tracer = &*TRACER)]
fn returns_future_borrowing<'a>(s: &'a str) -> impl Future<Output = usize> + Send + 'a {
    async move { s.len() }
}

#[trace(tracer = &*TRACER)]
fn returns_future_result(s: String) -> impl Future<Output = Result<u32, std::num::ParseIntError>> {
    async move { s.parse::<u32>() }
}

fn assert_send<T: Send>(t: T) -> T {
    t
}

#[derive(Debug, Clone)]
struct Bot {
    name: String,
}

impl Bot {
    #[trace(tracer = &*TRACER)]
    fn new(name: &str) -> Self {
        Bot { name: name.into() }
    }

    #[trace(tracer = &*TRACER)]
    fn greet(&self, who: &str) -> String {
        format!("{} greets {who}", self.name)
    }

    #[trace(tracer = &*TRACER)]
    fn rename(&mut self, name: String) {
        self.name = name;
    }

    #[trace(tracer = &*TRACER, capture(outputs = false))]
    fn name_mut(&mut self) -> &mut String {
        &mut self.name
    }

    #[trace(tracer = &*TRACER)]
    fn into_name(self) -> String {
        self.name
    }

    #[trace(tracer = &*TRACER)]
    async fn answer(&self, q: &str) -> String {
        tokio::task::yield_now().await;
        format!("{}: {q}", self.name)
    }
}

trait Greeter {
    fn hello(&self) -> String;
}

impl Greeter for Bot {
    #[trace(tracer = &*TRACER)]
    fn hello(&self) -> String {
        self.name.clone()
    }
}

fn main() {
    unit();
    assert_eq!(add(1, 2), 3);
    assert_eq!(early_return(-3), 3);
    assert!(question_mark("1").is_ok() && question_mark("x").is_err());
    assert!(io_result(true).is_ok() && io_result(false).is_err());
    assert!(boxed_error("x").is_err());
    assert_eq!(patterns((1, 2), 0, 3, 4), 11);
    let _ = opaque(Opaque);
    assert_eq!(*first(&[7, 8]), 7);
    assert_eq!(longest("ab", "c"), "ab");
    assert_eq!(generic(&5u8), 5);
    assert_eq!(generic_where(vec![1, 2]), 2);
    assert_eq!(unsized_arg("x"), "\"x\"");
    assert_eq!(impl_trait_arg([1, 2]), 3);
    assert_eq!(impl_trait_ret(3).count(), 3);

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    rt.block_on(async {
        assert_send(async_unit()).await;
        assert_eq!(assert_send(async_add(1, 2)).await, 3);
        assert_eq!(assert_send(async_result("4")).await.ok(), Some(4));
        assert_eq!(async_borrow("s").await, "s");
        assert_eq!(async_generic(3).await, 3);
        assert_eq!(assert_send(returns_future(1)).await, 4);
        assert_eq!(returns_future_borrowing("abc").await, 3);
        assert!(returns_future_result("x".into()).await.is_err());
        let mut bot = Bot::new("hb");
        assert_eq!(assert_send(bot.answer("q")).await, "hb: q");
        assert_eq!(bot.greet("you"), "hb greets you");
        bot.rename("hb2".into());
        bot.name_mut().push('!');
        assert_eq!(bot.hello(), "hb2!");
        assert_eq!(bot.into_name(), "hb2!");
    });
}
