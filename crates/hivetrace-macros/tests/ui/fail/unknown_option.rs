use hivetrace_macros::trace;

#[trace(nmae = "chat")]
fn f() {}

fn main() {
    f();
}
