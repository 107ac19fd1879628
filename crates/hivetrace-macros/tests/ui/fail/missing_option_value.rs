use hivetrace_macros::trace;

#[trace(name)]
fn f() {}

fn main() {
    f();
}
