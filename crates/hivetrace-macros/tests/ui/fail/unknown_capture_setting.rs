use hivetrace_macros::trace;

#[trace(capture(input = false))]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
