//! `#[trace_impl(err)]` is a default for the methods returning a `Result` and leaves the others
//! alone.

use hivetrace_macros::trace_impl;

struct Store;

#[trace_impl(err)]
impl Store {
    pub fn get(&self, key: &str) -> Result<String, std::io::Error> {
        Ok(key.to_owned())
    }

    pub fn len(&self) -> usize {
        0
    }
}

fn main() {
    assert!(Store.get("k").is_ok());
    assert_eq!(Store.len(), 0);
}
