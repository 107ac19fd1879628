use hivetrace_macros::trace;

#[trace]
fn f(a: u32) -> u32 {
    a + missing
}

fn main() {
    f(1);
}
