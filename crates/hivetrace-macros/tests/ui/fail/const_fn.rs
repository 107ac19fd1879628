use hivetrace_macros::trace;

#[trace]
pub const fn f(a: u32) -> u32 {
    a
}

fn main() {
    f(1);
}
