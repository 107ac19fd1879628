use hivetrace_macros::trace;

#[trace(skip(a, prompt))]
fn f(a: u32, b: u32) -> u32 {
    a + b
}

fn main() {
    f(1, 2);
}
