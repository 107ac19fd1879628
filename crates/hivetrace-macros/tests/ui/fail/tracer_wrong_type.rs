use hivetrace_macros::trace;

#[trace(tracer = "global")]
fn f() {}

fn main() {
    f();
}
