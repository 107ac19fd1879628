use hivetrace_macros::trace;

#[trace(resources)]
fn f() {}

fn main() {
    f();
}
