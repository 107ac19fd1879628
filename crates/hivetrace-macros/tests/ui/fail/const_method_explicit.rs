use hivetrace_macros::trace_impl;

struct S;

#[trace_impl]
impl S {
    #[trace]
    pub const fn f(a: u32) -> u32 {
        a
    }
}

fn main() {
    S::f(1);
}
