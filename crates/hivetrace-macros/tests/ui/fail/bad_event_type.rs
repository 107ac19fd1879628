use hivetrace_macros::trace;

#[trace(event_type = llm)]
fn f() {}

fn main() {
    f();
}
