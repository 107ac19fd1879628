//! Shapes found in review: coercions in `async fn` bodies, `-> !`, futures that are not a tail
//! `async` block (including `Pin<Box<dyn Future>>`, what `#[async_trait]` makes), a
//! path-qualified `#[trace(skip)]` inside `#[trace_impl]`, `#[track_caller]`, and arguments
//! named like the generated locals.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::pin::Pin;

use hivetrace_macros::{trace, trace_impl};

#[derive(Debug)]
struct E;

impl fmt::Display for E {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("e")
    }
}

impl Error for E {}

struct Named {
    name: String,
}

impl Named {
    #[trace]
    async fn get(&self) -> &str {
        &self.name
    }
}

#[trace(err)]
async fn boxed_error(x: u8) -> Result<u8, Box<dyn Error + Send + Sync>> {
    if x == 0 {
        return Err(Box::new(E));
    }
    Ok(x)
}

#[trace]
async fn slice(v: &Vec<u8>) -> Option<&[u8]> {
    Some(v)
}

#[trace]
async fn debug_box() -> Box<dyn fmt::Debug + Send> {
    Box::new(1u8)
}

fn inner(x: u8) -> impl Future<Output = Result<u8, String>> {
    async move { Ok(x) }
}

#[trace(err)]
fn not_a_tail_async_block(x: u8) -> impl Future<Output = Result<u8, String>> {
    inner(x)
}

#[trace]
fn boxed_future<'a>(x: &'a str) -> Pin<Box<dyn Future<Output = usize> + Send + 'a>> {
    Box::pin(async move { x.len() })
}

struct S;

#[trace_impl]
impl S {
    pub fn fail(&self, message: &str) -> ! {
        panic!("{message}")
    }

    #[hivetrace_macros::trace(skip)]
    pub fn untraced(&self) -> u8 {
        1
    }

    #[hivetrace_macros::trace(name = "custom")]
    pub fn renamed(&self) -> u8 {
        2
    }
}

#[trace]
#[track_caller]
fn located(x: Option<u8>) -> u8 {
    x.unwrap_or(0)
}

#[trace(fields(small = n, wide = w, letter = c))]
fn more_field_types(n: &u32, w: i16, c: char) -> u32 {
    *n + w as u32 + c as u32
}

/// Arguments named like the generated locals stay the user's.
#[trace]
fn hygiene(__ht_span: u8, __ht_e: u8, __ht_ret: u8) -> u8 {
    __ht_span + __ht_e + __ht_ret
}

fn main() {
    assert_eq!(hygiene(1, 2, 3), 6);
    let _ = located(Some(1));
    let _ = more_field_types(&1, 2, 'a');
    let _ = S.untraced() + S.renamed();
    let _ = S::fail;
    let named = Named { name: "n".into() };
    let _ = named.get();
    let _ = boxed_error(1);
    let v = vec![1u8];
    let _ = slice(&v);
    let _ = debug_box();
    let _ = not_a_tail_async_block(1);
    let _ = boxed_future("abc");
}
