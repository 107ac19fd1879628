//! `metadata(...)` / `config(...)` naming an owned argument the body uses afterwards: the
//! values are cloned when the span records, never moved.

use hivetrace_macros::trace;

#[trace(metadata(user = user_name), config(model = model))]
fn greet(user_name: String, model: String) -> String {
    format!("{user_name} via {model}")
}

fn main() {
    assert_eq!(greet("ann".into(), "m".into()), "ann via m");
}
