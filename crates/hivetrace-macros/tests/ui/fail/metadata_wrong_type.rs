use hivetrace_macros::trace;

struct NotAValue;

#[trace(metadata(team = NotAValue))]
fn f() {}

fn main() {
    f();
}
