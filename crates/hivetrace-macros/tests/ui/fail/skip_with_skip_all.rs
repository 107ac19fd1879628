use hivetrace_macros::trace;

#[trace(skip(a), skip_all)]
fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
