use hivetrace_macros::trace;

#[trace(skip)]
fn f() {}

fn main() {
    f();
}
