use hivetrace_macros::trace_impl;

struct S;

#[trace_impl(skip(a))]
impl S {
    pub fn f(&self, a: u32) -> u32 {
        a
    }
}

fn main() {
    S.f(1);
}
