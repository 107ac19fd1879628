use hivetrace_macros::trace;

#[trace(all)]
fn f() {}

fn main() {
    f();
}
