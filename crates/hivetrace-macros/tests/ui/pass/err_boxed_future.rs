//! `err` on a function returning `Pin<Box<dyn Future<Output = Result<..>>>>`, written by hand
//! and as `#[async_trait]` makes it: the `Result` is found in the boxed future's `Output`.

use std::future::Future;
use std::pin::Pin;

use hivetrace_macros::{trace, trace_impl};

#[trace(err)]
fn parse_later(
    s: &str,
) -> Pin<Box<dyn Future<Output = Result<u32, std::num::ParseIntError>> + Send + '_>> {
    Box::pin(async move { s.parse::<u32>() })
}

#[async_trait::async_trait]
trait Parse {
    async fn parse(&self, s: &str) -> Result<u32, std::num::ParseIntError>;
}

struct OnMethod;

#[async_trait::async_trait]
impl Parse for OnMethod {
    #[trace(err)]
    async fn parse(&self, s: &str) -> Result<u32, std::num::ParseIntError> {
        s.parse()
    }
}

struct OnBlock;

#[async_trait::async_trait]
#[trace_impl(err)]
impl Parse for OnBlock {
    async fn parse(&self, s: &str) -> Result<u32, std::num::ParseIntError> {
        s.parse()
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(parse_later("x")).is_err());
    assert!(rt.block_on(OnMethod.parse("x")).is_err());
    assert_eq!(rt.block_on(OnBlock.parse("1")), Ok(1));
}
