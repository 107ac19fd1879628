//! `err` on a function returning `impl Future<Output = Result<..>>`: the `Result` is found in
//! the future's `Output`.

use std::future::Future;

use hivetrace_macros::trace;

#[trace(err)]
fn parse_later(s: String) -> impl Future<Output = Result<u32, std::num::ParseIntError>> {
    async move { s.parse::<u32>() }
}

fn main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    assert!(rt.block_on(parse_later("x".into())).is_err());
}
