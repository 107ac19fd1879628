use hivetrace_macros::trace_impl;

struct S;

#[trace_impl(name = "s")]
impl S {
    pub fn f(&self) {}
}

fn main() {
    S.f();
}
