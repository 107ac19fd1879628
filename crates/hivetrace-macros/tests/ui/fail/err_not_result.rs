use hivetrace_macros::trace;

#[trace(err)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
