use hivetrace_macros::trace;

#[trace(name = "a", event_type = tool, name = "b")]
fn f() {}

fn main() {
    f();
}
